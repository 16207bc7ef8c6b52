"""The compiled loops shared between the engine's threads (``exact.slices_in_threads``): the
combination engine's data sets, BOIN-comb's isotonic fits and the waterfall's certified
contour fits give the same bits on one thread, two or three, whatever the machine's cores
(the thread count is set here, so a one-core runner splits the batches too)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import CONFIGS
from test_combination_engine import ORACLE, _engine

from bayesdose.designs.boin_comb.isotonic import THREAD_FITS, biviso_many
from bayesdose.designs.boin_comb.selection import waterfall_many
from bayesdose.inference import exact

NUMPY_ENGINE = json.loads((CONFIGS.parent / "tests" / "reference" /
                           "combination_engine.json").read_text())


@pytest.fixture
def threads():
    """Set the engine's threads for a test; restored afterwards."""
    before = exact._threads_per_batch
    yield exact.set_engine_threads
    exact.set_engine_threads(before)


def _fields(result) -> list[np.ndarray]:
    return [getattr(part, name) for part in result for name in part.__dataclass_fields__]


def test_the_combination_engine_gives_the_same_bits_on_any_threads(threads):
    """An odd batch (11 data sets), and a batch of patients in follow-up, on 1, 2, 3 threads."""
    plain = [s for s in NUMPY_ENGINE["data_sets"] if s["case"] == "prior_map"
             or (s["case"] == "weak_map" and s["pending"] is None)][:11]
    assert len(plain) == 11
    timed = next(s for s in NUMPY_ENGINE["data_sets"] if s["pending"] is not None)
    batches = [(ORACLE["cases"]["prior_map"], [s["n"] for s in plain],
                [s["dlt"] for s in plain], None),
               (ORACLE["cases"][timed["case"]], [timed["n"]] * 3, [timed["dlt"]] * 3,
                np.array([timed["pending"]] * 3))]
    for case, n, dlt, pending in batches:
        engine = _engine(case)
        results = []
        for count in (1, 2, 3):
            threads(count)
            results.append(_fields(engine.summarise(np.array(n), np.array(dlt), pending)))
        for other in results[1:]:
            assert all(np.array_equal(a, b) for a, b in zip(results[0], other, strict=True))
        assert results[0][0].shape == (len(n), engine.n_pairs)


def test_the_isotonic_and_contour_fits_give_the_same_bits_on_any_threads(threads):
    rng = np.random.default_rng(11)
    m = 3 * THREAD_FITS + 7  # three shares and a remainder
    n = rng.integers(0, 10, (m, 3, 5)) * (rng.random((m, 3, 5)) < 0.6)
    y = rng.binomial(n, 0.3)
    elim = rng.random((m, 3, 5)) < 0.05
    fits, contours = [], []
    for count in (1, 2, 3):
        threads(count)
        fits.append(biviso_many((y + 0.05) / (n + 0.1), n + 0.1))
        contours.append(waterfall_many(0.3, n, y, elim))
    for other in fits[1:]:
        assert np.array_equal(fits[0], other)
    for other in contours[1:]:
        assert np.array_equal(contours[0], other)
    assert (contours[0] >= 0).any() and (contours[0] < 0).any()  # picks and rows without one
