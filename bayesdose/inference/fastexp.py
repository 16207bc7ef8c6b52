"""exp(t) in single precision for the exact engine's scaled log densities (t <= 0): the same
bits from NumPy and from a compiled loop.

The engine exponentiates 12,000 nodes per data set, and NumPy's float32 ``exp`` costs
1.4-2.9 ns a value on these machines (its SIMD version is not dispatched here): half of a
posterior's time. The compiled loop evaluates the same formula at about 0.4 ns a value. A
simulated design (a simulation, an exact walk, a calibration: thousands of posteriors) turns
it on (``use_compiled``); ``recommend``, which computes a few, uses NumPy and does not pay
numba's start-up (about half a second).
The two give the same bits, so a decision never depends on the path: every step is one IEEE
operation in a fixed order (no fused multiply-add, no reassociation), elementwise.

The formula (Cody & Waite's reduction): n = rint(t / ln 2), x = t - n ln2_hi - n ln2_lo with
|x| <= ln(2) / 2, exp(x) by its Taylor polynomial of degree 7 (truncation below 6e-9, so the
result is within a few units in the last place of float32), times 2^n built from its exponent
bits. Below -87 (where 2^n leaves the normal floats) the result is 0: such a node weighs less
than 2e-38 of the posterior's highest, and 12,000 of them move no sum.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

LOWEST = np.float32(-87.0)
LOG2E = np.float32(1.4426950408889634)
LN2_HI = np.float32(0.693145751953125)  # few bits: n * LN2_HI is exact for |n| < 128
LN2_LO = np.float32(1.428606765330187e-06)
TAYLOR = tuple(np.float32(1.0 / c) for c in (5040.0, 720.0, 120.0, 24.0, 6.0, 2.0, 1.0,
                                             1.0))  # 1/7! .. 1/0!, highest first
_compiled_wanted = False  # set by the simulated designs: use_compiled()


def use_compiled() -> None:
    """From now on, in this process, exponentiate with the compiled loop (when numba is
    installed): what a simulated design asks for, where thousands of posteriors repay numba's
    start-up. The bits do not change."""
    global _compiled_wanted
    _compiled_wanted = True


def densities(log_density: np.ndarray, log_prior: np.ndarray, single: np.ndarray,
              density: np.ndarray, scratch: np.ndarray) -> None:
    """The posterior densities of a chunk of data sets, each scaled to maximum 1: from
    ``log_density`` (rows, nodes; the log likelihoods, float64) plus ``log_prior`` (nodes),
    scaled in double precision, rounded once to ``single`` (float32) and exponentiated there,
    widened into ``density`` (float64); ``scratch``: int32 (rows, nodes). By the compiled loop
    after ``use_compiled()``, else by NumPy: the same bits (``log_density`` holds the log
    posterior afterwards either way)."""
    kernel = _compiled() if _compiled_wanted else None
    if kernel is not None:
        kernel(log_density, log_prior, single, density, scratch)
        return
    log_density += log_prior
    np.subtract(log_density, log_density.max(axis=1, keepdims=True), out=single,
                casting="same_kind")  # in double precision, rounded once to single
    exp_numpy(single)
    density[...] = single


def exp_numpy(t: np.ndarray) -> None:
    """The formula with NumPy, in place (one rounding per operation, as the compiled loop)."""
    keep = t > LOWEST
    np.maximum(t, LOWEST, out=t)
    n = np.rint(t * LOG2E)
    x = t - n * LN2_HI
    x -= n * LN2_LO
    p = np.full_like(t, TAYLOR[0])
    for c in TAYLOR[1:]:
        p *= x
        p += c
    bits = (n.astype(np.int32) + np.int32(127)) << np.int32(23)
    np.multiply(p, bits.view(np.float32), out=t)
    t *= keep


@cache
def _compiled() -> Any:
    """The compiled loop (``fastexp_kernel``: numba, cached on disk), or None without numba."""
    try:
        from bayesdose.inference.fastexp_kernel import densities as kernel
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    return kernel
