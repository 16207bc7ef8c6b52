"""The common-random-number streams: Philox4x64-10 through NumPy's bit generator, checked bit for
bit against the Random123 known answers and a trial-by-trial construction of the stream's
definition; chunking-independent and uniform."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayesdose.simulation.patients import (
    DLTTable,
    lane_uniforms,
    philox_blocks,
    philox_key,
    tolerances,
)

U64_MAX = 2**64 - 1

# The three philox4x64-10 known-answer vectors of Random123 (kat_vectors): counter, key, output.
RANDOM123_KATS = [
    ((0, 0, 0, 0), (0, 0),
     (0x16554D9ECA36314C, 0xDB20FE9D672D0FDC, 0xD7E772CEE186176B, 0x7E68B68AEC7BA23B)),
    ((U64_MAX,) * 4, (U64_MAX,) * 2,
     (0x87B092C3013FE90B, 0x438C3C67BE8D0224, 0x9CC7D7C69CD777B6, 0xA09CAEBF594F0BA0)),
    ((0x243F6A8885A308D3, 0x13198A2E03707344, 0xA4093822299F31D0, 0x082EFA98EC4E6C89),
     (0x452821E638D01377, 0xBE5466CF34E90C6C),
     (0xA528F45403E61D95, 0x38C72DBD566E9788, 0xA5A1610E72FD18B5, 0x57BD43B5E52B7FE6)),
]


def one_trial(seed: int, trial: int, n: int, lane: int = 0) -> list[float]:
    """The definition, one patient at a time: patient i is word i % 4 of
    philox4x64_10((trial, i // 4, lane, 0), key), as (word >> 11) * 2**-53."""
    key = philox_key(seed)
    out = []
    for i in range(n):
        counter = trial + (i // 4) * 2**64 + lane * 2**128
        word = int(philox_blocks(key, counter, 1)[0, i % 4])
        out.append((word >> 11) * 2.0**-53)
    return out


@pytest.mark.parametrize(("counter", "key", "expected"), RANDOM123_KATS)
def test_philox_matches_the_random123_known_answers(counter, key, expected) -> None:
    value = sum(c << (64 * i) for i, c in enumerate(counter))
    assert tuple(int(w) for w in philox_blocks(key, value, 1)[0]) == expected


def test_consecutive_blocks_are_consecutive_counters() -> None:
    """One call for many counters gives, row by row, what each counter gives alone, also
    across a carry into the next counter word and the wrap of the 256-bit counter."""
    key = (0x452821E638D01377, 0xBE5466CF34E90C6C)
    for start in (0, 2**64 - 2, 2**256 - 2, 7 * 2**128 + 5):
        many = philox_blocks(key, start, 4)
        for r in range(4):
            alone = philox_blocks(key, (start + r) % 2**256, 1)[0]
            assert np.array_equal(many[r], alone), (start, r)


@pytest.mark.parametrize("seed", [0, 7, 20240601, 2**80 + 12345])
def test_streams_follow_their_definition_bit_for_bit(seed: int) -> None:
    u = tolerances(seed, 0, 10_000, 37)  # 37 patients: 10 blocks, the last one partly used
    for t in (0, 1, 2, 818, 4095, 9999):
        assert u[t].tolist() == one_trial(seed, t, 37), t
    arrivals = lane_uniforms(seed, 0, 10, 9, lane=1)
    assert arrivals[3].tolist() == one_trial(seed, 3, 9, lane=1)


@pytest.mark.parametrize("trial", [123_456_789, 2**40 + 3, 2**64 - 2])
def test_far_trials_follow_their_definition(trial: int) -> None:
    u = tolerances(11, trial, trial + 2, 30)
    assert u[0].tolist() == one_trial(11, trial, 30)
    assert u[1].tolist() == one_trial(11, trial + 1, 30)


def test_key_is_the_seed_sequence_state() -> None:
    expected = np.random.SeedSequence(99).generate_state(2, np.uint64)
    assert philox_key(99) == (int(expected[0]), int(expected[1]))


def test_chunking_never_changes_a_trial() -> None:
    whole = tolerances(5, 0, 9000, 30)
    for size in (1, 7, 1000, 4096, 5000):
        parts = [tolerances(5, a, min(a + size, 9000), 30) for a in range(0, 9000, size)]
        assert np.array_equal(np.vstack(parts), whole), size
    assert np.array_equal(tolerances(5, 1020, 1030, 30), whole[1020:1030])  # a block edge


def test_first_values_do_not_depend_on_how_many_are_drawn() -> None:
    longest = tolerances(3, 100, 200, 61)
    for count in (1, 3, 4, 5, 30, 60):
        assert np.array_equal(tolerances(3, 100, 200, count), longest[:, :count])


def test_seeds_and_trials_give_different_streams() -> None:
    a, b = tolerances(1, 0, 1000, 30), tolerances(2, 0, 1000, 30)
    assert not np.any(a == b)  # 30,000 pairs of 53-bit numbers: a tie has chance ~3e-12
    assert np.unique(a).size == a.size


def test_empty_and_invalid_ranges() -> None:
    assert tolerances(1, 5, 5, 30).shape == (0, 30)
    assert tolerances(1, 0, 4, 0).shape == (4, 0)
    with pytest.raises(ValueError):
        tolerances(1, 5, 4, 30)
    with pytest.raises(ValueError):
        tolerances(1, -1, 4, 30)
    with pytest.raises(ValueError):  # trial numbers are the counter's first 64-bit word
        tolerances(1, 2**64 - 1, 2**64 + 1, 30)


def test_tolerances_are_uniform() -> None:
    """A million values of a fixed seed: Kolmogorov-Smirnov, moments, bins, neighbours."""
    u = tolerances(2024, 0, 40_000, 25)
    x = u.ravel()
    assert x.size == 1_000_000
    assert x.min() >= 0.0 and x.max() < 1.0
    ks = stats.kstest(x, "uniform")
    assert ks.pvalue > 1e-3  # 0.865 for this seed
    # mean 1/2 and variance 1/12, within 4 standard errors
    assert abs(x.mean() - 0.5) < 4 * np.sqrt(1 / 12 / x.size)
    assert abs(x.var() - 1 / 12) < 4 * np.sqrt(1 / 180 / x.size)
    counts = np.bincount((x * 100).astype(np.int64), minlength=100)
    assert stats.chisquare(counts).pvalue > 1e-3  # 0.707
    # neighbouring patients of a trial, and the same patient in neighbouring trials
    assert abs(np.corrcoef(u[:, :-1].ravel(), u[:, 1:].ravel())[0, 1]) < 4e-3
    assert abs(np.corrcoef(u[:-1].ravel(), u[1:].ravel())[0, 1]) < 4e-3


def test_tolerances_reproduce_known_values() -> None:
    """Pinned values: a change of the stream definition would change every simulated result."""
    u = tolerances(12345, 0, 3, 30)
    np.testing.assert_array_equal(u[:, 0], np.array(KNOWN_FIRST))


KNOWN_FIRST = [0.1509914085758104, 0.42075435954078155, 0.7038664083032369]


@pytest.mark.parametrize("patients", [30, 130])  # int8 counts, and int16 past 127 patients
def test_dlt_table_counts_each_cohorts_dlts(patients: int) -> None:
    """Every entry against a direct count of tolerances at or below the dose's rate (also a
    rate hit exactly, and rates that are not increasing)."""
    u = tolerances(6, 0, 200, patients)
    p_true = np.array([0.1, u[5, 2], 0.05, 0.5, 1.0, 0.0])
    table = DLTTable.of(u, p_true)
    assert table.patients == patients
    toxic = u[:, None, :] <= p_true[None, :, None]  # (trials, doses, patients)
    for j in (0, 1, 7, patients):
        assert np.array_equal(table.dlts_in_first(j), toxic[:, :, :j].sum(axis=2))
    rng = np.random.default_rng(1)
    trials = rng.integers(0, 200, 500)
    level = rng.integers(0, p_true.size, 500)
    start = rng.integers(0, patients - 3, 500)
    stop = start + rng.integers(0, 4, 500)
    want = [toxic[t, k, a:b].sum() for t, k, a, b in zip(trials, level, start, stop, strict=True)]
    assert table.cohort_dlts(trials, level, start, stop).tolist() == want
