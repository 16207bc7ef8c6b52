"""fastexp: the engine's single-precision exp, the same bits from NumPy and compiled."""

import subprocess
import sys

import numpy as np
from conftest import CONFIGS

from bayesdose.designs.blrm.simulated import SummaryCache
from bayesdose.inference import fastexp
from bayesdose.inference.fastexp_kernel import exp_in_place
from bayesdose.posterior import exact_engine
from bayesdose.schema import load_design


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


def _chunk(engine, counts):
    """What the engine's densities start from: a chunk's log likelihoods on the grid."""
    return counts @ engine._basis, engine._log_prior


def test_the_densities_of_numpy_and_compiled_are_the_same_bits(monkeypatch):
    engine = exact_engine(load_design(CONFIGS / "standard-5dose.toml"))
    rng = np.random.default_rng(11)
    n = rng.integers(0, 13, (16, 5))
    dlt = rng.binomial(n, 0.3)
    counts = np.hstack([dlt, n - dlt]).astype(float)  # the DLT and the complete columns
    results = []
    for wanted in (False, True):
        monkeypatch.setattr(fastexp, "_compiled_wanted", wanted)
        log_density, log_prior = _chunk(engine, counts)
        single = np.empty(log_density.shape, np.float32)
        density = np.empty(log_density.shape)
        fastexp.densities(log_density, log_prior, single, density,
                          np.empty(log_density.shape, np.int32))
        results.append((log_density, single, density))
    for numpy_side, compiled_side in zip(*results, strict=True):
        assert np.array_equal(numpy_side, compiled_side)
    assert (results[0][1].max(axis=1) == 1.0).all()


def test_numpy_until_a_simulated_design_asks_for_the_compiled_loop(monkeypatch):
    calls = []
    monkeypatch.setattr(fastexp, "exp_numpy", lambda t: calls.append("numpy"))
    monkeypatch.setattr(fastexp, "_compiled", lambda: lambda *args: calls.append("compiled"))
    monkeypatch.setattr(fastexp, "_compiled_wanted", False)
    rows = (np.zeros((2, 8)), np.zeros(8), np.zeros((2, 8), np.float32), np.zeros((2, 8)),
            np.zeros((2, 8), np.int32))
    fastexp.densities(*rows)
    SummaryCache(5)  # the simulated BLRM's posterior cache
    fastexp.densities(*rows)
    assert calls == ["numpy", "compiled"]


def test_recommend_does_not_load_numba():
    """recommend computes a few posteriors: numba's start-up (about half a second) would be
    most of its time."""
    config, data = str(CONFIGS / "nbg-2008.toml"), str(CONFIGS / "examples" / "nbg-2008.csv")
    code = (f"import sys; from bayesdose.cli import main; main(['recommend', {config!r}, "
            f"{data!r}], standalone_mode=False); print('numba' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip().endswith("False")
