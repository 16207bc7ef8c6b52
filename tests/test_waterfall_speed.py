"""The waterfall's fit stopped once its contour is certain (boin_comb.certified): the same
records as before the change (tests/reference/waterfall/records.json, written by the code
of commit 114045b), and the same contours as the finished fits on adversarial records."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import CONFIGS

from bayesdose.designs.boin_comb import selection
from bayesdose.designs.boin_comb.certified import contour_picks
from bayesdose.designs.boin_comb.isotonic import biviso_many
from bayesdose.designs.boin_comb.selection import _offset, _row_none, _row_picks
from bayesdose.schema import load_design
from bayesdose.simulation.chunks import record_key
from bayesdose.simulation.combination.scenarios import load_matrix_scenarios
from bayesdose.simulation.combination.study import simulate_records

REFERENCE = Path(__file__).parent / "reference" / "waterfall" / "records.json"


def test_records_unchanged_by_the_early_stop(monkeypatch):
    """The records of before, and the early stop taken: a simulated trial's fit runs a
    fraction of its passes (measured: about a quarter)."""
    counted = []

    def counting(*args):
        picks, passes = contour_picks(*args)
        counted.append((passes, contour_picks(*args, check_every=0)[1]))
        return picks, passes

    monkeypatch.setattr(selection, "contour_picks", counting)
    reference = json.loads(REFERENCE.read_text())
    design = load_design(CONFIGS / "combination-3x5.toml")
    scenarios = load_matrix_scenarios(CONFIGS / "scenarios" / "combination-3x5.toml", (3, 5),
                                      ("A", "B"))
    records = simulate_records(design, scenarios, ["waterfall"], reference["trials"],
                               reference["seed"])
    for s, scenario in enumerate(scenarios):
        for field, expected in reference["scenarios"][scenario.name].items():
            assert records[record_key(field, s, 0)].tolist() == expected, (scenario.name, field)
    run = sum(np.abs(p).sum() for p, _ in counted)
    full = sum(np.abs(f).sum() for _, f in counted)
    assert run < 0.4 * full, (run, full)


def _records(rng, m, rows, cols):
    """Random counts as a waterfall leaves them: n a multiple of 3 (0 = untreated) or any,
    DLTs up to n, eliminations an upper set (the 1.1 entries)."""
    n = rng.choice([0, 0, 3, 6, 9, 12, 1, 2], size=(m, rows, cols))
    y = np.floor(rng.uniform(0, 1, (m, rows, cols)) ** 2 * (n + 1)).astype(np.int64)
    y = np.minimum(y, n)
    start = rng.integers(0, rows + cols, size=(m, 1, 1))
    elim = (np.arange(rows)[:, None] + np.arange(cols)[None, :])[None] >= start + 2
    return n, y, elim


@pytest.mark.parametrize("shape", [(3, 5), (2, 3), (4, 4)])
def test_certified_contours_are_the_finished_fits(shape):
    rows, cols = shape
    rng = np.random.default_rng(sum(shape))
    n, y, elim = _records(rng, 4000, rows, cols)
    raw = (y + 0.05) / (n + 0.1)
    raw[elim] = 1.1
    w = n + 0.1
    none = np.stack([_row_none(n, elim, k) for k in range(rows)], axis=1)
    args = (raw, w, (n != 0) & ~elim, none, _offset(n.shape))
    early, passes = contour_picks(0.3, *args)
    full, full_passes = contour_picks(0.3, *args, check_every=0)
    assert np.array_equal(early, full)
    assert np.all(full_passes < 0) and np.all(np.abs(passes) <= np.abs(full_passes))
    assert np.any(passes > 0)  # some stopped early (random records: about 1 in 8)
    # the finished fit's contour is the old one: _row_picks on biviso's estimates
    phat = biviso_many(raw, w) + _offset(n.shape)
    old = np.full((n.shape[0], rows), -1)
    for k in range(rows - 1, -1, -1):
        old[:, k] = _row_picks(0.3, n, elim, phat, k)
        if k < rows - 1:
            above = old[:, k + 1]
            follow = (above >= 0) & (old[:, k] >= 0) & (old[:, k] <= above)
            old[:, k] = np.where(follow, above, old[:, k])
    assert np.array_equal(full, old)
