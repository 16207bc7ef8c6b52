"""Common random numbers: each simulated trial's patients and their latent tolerances.

Patient i of trial t has a tolerance u ~ U(0, 1) and a DLT at dose k iff u <= p_true[k]. Trial
t draws from its own stream, ``default_rng(SeedSequence(seed, spawn_key=(t,)))``, so every
design and the optimal benchmark see the same patients for the same trial index, and a trial's
numbers never depend on chunking, workers or executor. A stream's first values do not depend on
how many are drawn, so the length only needs to cover the longest trial.
"""

from __future__ import annotations

import numpy as np


def tolerances(seed: int, first: int, stop: int, patients: int) -> np.ndarray:
    """(stop - first, patients) tolerances of trials first .. stop - 1."""
    out = np.empty((stop - first, patients))
    for row, t in enumerate(range(first, stop)):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(t,)))
        out[row] = rng.random(patients)
    return out
