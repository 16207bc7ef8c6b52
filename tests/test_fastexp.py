"""fastexp: the engine's single-precision exp, the same bits from NumPy and compiled."""

import numpy as np

from bayesdose.inference import fastexp
from bayesdose.inference.fastexp_kernel import exp_in_place


def _values() -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.concatenate([
        -rng.exponential(20.0, 300_000),  # the engine's scaled log densities
        rng.uniform(-88.0, -86.0, 20_000),  # around the cut to 0
        -np.arange(0.0, 100.0, 0.25),  # exact halves: rint's ties to even
        [0.0, -0.0, -1e-30, -87.0, np.nextafter(np.float32(-87.0), np.float32(0.0)),
         np.nextafter(np.float32(-87.0), np.float32(-100.0)), -1000.0],
    ]).astype(np.float32)


def test_numpy_and_compiled_give_the_same_bits():
    t = _values()
    by_numpy, compiled = t.copy(), t.copy()
    fastexp.exp_numpy(by_numpy)
    exp_in_place(compiled, np.empty(t.size, np.int32))
    assert np.array_equal(by_numpy.view(np.int32), compiled.view(np.int32))


def test_within_a_few_units_in_the_last_place_and_zero_below_the_cut():
    t = _values()
    result = t.copy()
    fastexp.exp_numpy(result)
    exact = np.exp(t.astype(np.float64))
    kept = t > fastexp.LOWEST
    relative = np.abs(result[kept] / exact[kept] - 1.0)
    assert relative.max() < 2e-7  # float32's unit in the last place is 6e-8 (relative)
    assert (result[~kept] == 0.0).all()
    assert (result[t == 0.0] == 1.0).all()


def test_a_large_batch_uses_the_compiled_loop_and_a_small_one_numpy(monkeypatch):
    calls = []
    monkeypatch.setattr(fastexp, "exp_numpy", lambda t: calls.append("numpy"))
    monkeypatch.setattr(fastexp, "_compiled", lambda: lambda t, s: calls.append("compiled"))
    t = np.zeros((16, 8), np.float32)
    fastexp.exp_scaled(t, fastexp.COMPILED_FROM_ROWS, np.empty(t.shape, np.int32))
    fastexp.exp_scaled(t, fastexp.COMPILED_FROM_ROWS - 1, np.empty(t.shape, np.int32))
    assert calls == ["compiled", "numpy"]
