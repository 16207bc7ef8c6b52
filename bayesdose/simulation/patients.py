"""Common random numbers: each simulated trial's patients and their latent tolerances.

Patient i of trial t has a tolerance u ~ U(0, 1) and a DLT at dose k iff u <= p_true[k], so
every design and the optimal benchmark see the same patients for the same trial index.

The streams come from the counter-based generator Philox4x64-10 (Salmon, Moraes, Dror & Shaw
2011, "Parallel random numbers: as easy as 1, 2, 3", the Random123 library), as NumPy's own
``Philox`` bit generator computes it:

- key: ``(k0, k1) = SeedSequence(seed).generate_state(2, np.uint64)``: one seed fixes everything;
- trial t, block j (j = 0, 1, ...) on lane l: the 4 x 64-bit words
  ``philox4x64_10((t, j, l, 0), key)``; the tolerances are lane 0 (``timeline`` draws arrival
  and DLT days on lanes 1 and 2);
- patient i of trial t: word ``i % 4`` of block ``i // 4``, as ``u = (word >> 11) * 2**-53``
  (53 random bits, in [0, 1)).

So ``tolerances(seed, first, stop, patients)[r, i]`` is a function of (seed, first + r, i) alone:
a trial's numbers never depend on the chunking, the workers or the executor, and a stream's first
values do not depend on how many are drawn (the length only needs to cover the longest trial).
The trial is the counter's first word so that block j of trials first, first + 1, ... is one
run of consecutive counters, which NumPy's bit generator produces in C in a single call.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

_WORDS = 4  # 64-bit words per block
_COUNTER_WORD = 2**64
_COUNTERS = 2**256
TOLERANCE_LANE = 0


@lru_cache(maxsize=64)
def philox_key(seed: int) -> tuple[int, int]:
    """The Philox key (k0, k1) of a seed: ``SeedSequence(seed).generate_state(2, np.uint64)``."""
    k0, k1 = np.random.SeedSequence(seed).generate_state(2, np.uint64)
    return int(k0), int(k1)


def philox_blocks(key: tuple[int, int], counter: int, count: int) -> np.ndarray:
    """(count, 4) uint64: Philox4x64-10 under ``key`` of the 256-bit counters ``counter``,
    ``counter + 1``, ... (word 0 lowest), as Random123's ``philox4x64_R(10, ...)``. NumPy's bit
    generator increments its counter before each block, so it starts one below."""
    words = np.array(key, np.uint64)
    generator = np.random.Philox(key=words, counter=(counter - 1) % _COUNTERS)
    return generator.random_raw(_WORDS * count).reshape(count, _WORDS)


def lane_uniforms(seed: int, first: int, stop: int, patients: int,
                  lane: int = TOLERANCE_LANE) -> np.ndarray:
    """(stop - first, patients) uniforms in [0, 1) of trials first .. stop - 1 on ``lane``,
    laid out patient by patient (a transposed view of a (patients, trials) array: the
    simulator reads all trials' patient j at once, and ``DLTTable.of`` needs no copy)."""
    if first < 0 or stop < first or stop > _COUNTER_WORD or patients < 0:
        raise ValueError(f"need 0 <= first <= stop <= 2**64 and patients >= 0, got {first}, "
                         f"{stop}, {patients}")
    by_patient = np.empty((patients, stop - first))
    if by_patient.size == 0:
        return by_patient.T
    key = philox_key(seed)
    for j in range(-(-patients // _WORDS)):
        counter = first + j * _COUNTER_WORD + lane * _COUNTER_WORD**2
        words = philox_blocks(key, counter, stop - first)
        rows = slice(j * _WORDS, min((j + 1) * _WORDS, patients))
        # shifted while transposed, so the product writes whole rows (not strided columns)
        bits = np.right_shift(words[:, : rows.stop - rows.start].T, np.uint64(11))
        np.multiply(bits, 2.0**-53, out=by_patient[rows])
    return by_patient.T


def tolerances(seed: int, first: int, stop: int, patients: int) -> np.ndarray:
    """(stop - first, patients) tolerances of trials first .. stop - 1."""
    return lane_uniforms(seed, first, stop, patients, TOLERANCE_LANE)


@dataclass(frozen=True)
class DLTTable:
    """Every simulated patient's outcome at every dose, as running counts: ``counts[k, j, t]``
    is the number of DLTs among trial t's first j patients had they all been treated at dose k
    (tolerance <= p_true[k]). A cohort's DLTs are then the difference of two entries, and the
    optimal benchmark reads its estimates from column j = max_patients. Doses, then patients,
    then trials: building the table adds whole rows of trials, and a step of the simulator
    gathers from it once per trial."""

    counts: np.ndarray  # (doses, patients + 1, trials), the smallest integer type that fits

    @classmethod
    def of(cls, u: np.ndarray, p_true: np.ndarray) -> DLTTable:
        """The table of tolerances ``u`` (trials, patients) under true DLT rates ``p_true``."""
        trials, patients = u.shape
        dtype = next(t for t in (np.int8, np.int16, np.int32) if patients <= np.iinfo(t).max)
        counts = np.zeros((len(p_true), patients + 1, trials), dtype)
        by_patient = np.ascontiguousarray(u.T)  # a view already for ``tolerances``
        for k, p in enumerate(p_true):
            toxic = (by_patient <= p).view(np.int8)
            running = counts[k]
            for j in range(patients):
                np.add(running[j], toxic[j], out=running[j + 1])
        return cls(counts)

    @property
    def patients(self) -> int:
        return self.counts.shape[1] - 1

    def cohort_dlts(self, trials: np.ndarray, level: np.ndarray, start: np.ndarray,
                    stop: np.ndarray) -> np.ndarray:
        """DLTs of patients start .. stop - 1 of ``trials`` at dose ``level`` (arrays alike)."""
        doses, columns, width = self.counts.shape
        at = level * (columns * width) + trials
        flat = self.counts.reshape(-1)
        return flat[at + stop * width] - flat[at + start * width]

    def dlts_in_first(self, patients: int) -> np.ndarray:
        """(trials, doses): DLTs among each trial's first ``patients`` at every dose."""
        return self.counts[:, patients, :].T
