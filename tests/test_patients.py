"""The common-random-number streams: Philox4x64-10 evaluated in NumPy, checked bit for bit against
the Random123 known answers and NumPy's own Philox bit generator, chunking-independent and
uniform."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayesdose.simulation import patients
from bayesdose.simulation.patients import philox4x64, philox_key, tolerances

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


def numpy_stream(seed: int, trial: int, n: int) -> np.ndarray:
    """Trial ``trial``'s first ``n`` tolerances from NumPy's Philox: key from the seed, the
    256-bit counter one before (0, trial, 0, 0), since NumPy increments it before each block."""
    key = np.random.SeedSequence(seed).generate_state(2, np.uint64)
    c = (trial * 2**64 - 1) % 2**256
    counter = np.array([(c >> (64 * i)) & U64_MAX for i in range(4)], np.uint64)
    return np.random.Generator(np.random.Philox(key=key, counter=counter)).random(n)


@pytest.mark.parametrize(("counter", "key", "expected"), RANDOM123_KATS)
def test_philox_matches_the_random123_known_answers(counter, key, expected) -> None:
    words = philox4x64(tuple(np.uint64(c) for c in counter), key)
    assert tuple(int(w[0]) for w in words) == expected


def test_philox_broadcasts_counters() -> None:
    """Vectors of counters give, element by element, what each counter gives alone."""
    key = (0x452821E638D01377, 0xBE5466CF34E90C6C)
    j = np.arange(5, dtype=np.uint64)[None, :]
    t = np.array([0, 3, U64_MAX], np.uint64)[:, None]
    whole = philox4x64((j, t, np.uint64(7), np.uint64(0)), key)
    for a in range(3):
        for b in range(5):
            alone = philox4x64((j[0, b], t[a, 0], np.uint64(7), np.uint64(0)), key)
            assert [int(w[a, b]) for w in whole] == [int(w[0]) for w in alone]


@pytest.mark.parametrize("seed", [0, 7, 20240601, 2**80 + 12345])
def test_streams_are_numpys_philox_bit_for_bit(seed: int) -> None:
    trials = [0, 1, 2, 818, 819, 820, 9999]  # across the internal blocks of 819 trials
    u = tolerances(seed, 0, 10_000, 37)  # 37 patients: 10 blocks, the last one partly used
    for t in trials:
        assert np.array_equal(u[t], numpy_stream(seed, t, 37)), t


@pytest.mark.parametrize("trial", [123_456_789, 2**40 + 3, 2**63 + 5])
def test_far_trials_are_numpys_philox_bit_for_bit(trial: int) -> None:
    u = tolerances(11, trial, trial + 2, 30)
    assert np.array_equal(u[0], numpy_stream(11, trial, 30))
    assert np.array_equal(u[1], numpy_stream(11, trial + 1, 30))


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


def test_internal_block_size_does_not_matter(monkeypatch) -> None:
    whole = tolerances(8, 0, 3000, 30)
    monkeypatch.setattr(patients, "_BLOCK_WORDS", 17 * 8)  # 17 trials at a time
    assert np.array_equal(tolerances(8, 0, 3000, 30), whole)


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


KNOWN_FIRST = [0.1509914085758104, 0.36114047807802097, 0.13152333427866592]
