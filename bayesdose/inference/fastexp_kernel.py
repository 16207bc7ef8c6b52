"""The compiled loop of ``fastexp`` (numba; imported only where a batch is large enough to
pay numba's start-up). Its steps and their order are ``fastexp.exp_numpy``'s, one IEEE
operation each: numba's default compiles no fused multiply-add and keeps the order."""

from __future__ import annotations

import numpy as np
from numba import njit

from bayesdose.inference.fastexp import LN2_HI, LN2_LO, LOG2E, LOWEST, TAYLOR

C7, C6, C5, C4, C3, C2, C1, C0 = TAYLOR


@njit(cache=True, nogil=True, error_model="numpy")
def exp_in_place(t: np.ndarray, bits: np.ndarray) -> None:  # pragma: no cover - compiled
    """exp of the float32 vector ``t`` (values <= 0) in place; ``bits`` is int32 scratch of
    the same size (2^n's exponent bits)."""
    for j in range(t.size):
        v = t[j]
        keep = np.float32(1.0) if v > LOWEST else np.float32(0.0)
        v = v if v > LOWEST else LOWEST
        n = np.rint(v * LOG2E)
        x = v - n * LN2_HI
        x = x - n * LN2_LO
        p = ((((((C7 * x + C6) * x + C5) * x + C4) * x + C3) * x + C2) * x + C1) * x + C0
        bits[j] = (np.int32(n) + np.int32(127)) << 23
        t[j] = p * keep
    scale = bits.view(np.float32)
    for j in range(t.size):
        t[j] = t[j] * scale[j]


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"nnan", "nsz", "reassoc"})
def _add_and_max(log_density: np.ndarray, log_prior: np.ndarray) -> float:  # pragma: no cover
    """log_density += log_prior, and its maximum (one addition a value: the flags only let
    the maximum be taken in any order, which gives the same maximum)."""
    most = -np.inf
    for j in range(log_density.size):
        v = log_density[j] + log_prior[j]
        log_density[j] = v
        most = max(most, v)
    return most


@njit(cache=True, nogil=True, error_model="numpy")
def densities(log_density: np.ndarray, log_prior: np.ndarray, single: np.ndarray,
              density: np.ndarray, scratch: np.ndarray) -> None:  # pragma: no cover
    """``fastexp.densities`` compiled: the same steps, one IEEE operation each."""
    for r in range(log_density.shape[0]):
        row, out = log_density[r], single[r]
        most = _add_and_max(row, log_prior)
        for j in range(row.size):
            out[j] = np.float32(row[j] - most)
        exp_in_place(out, scratch[r])
        wide = density[r]
        for j in range(row.size):
            wide[j] = out[j]
