"""exp(t) in single precision for the exact engine's scaled log densities (t <= 0): the same
bits from NumPy and from a compiled loop.

The engine exponentiates 12,000 nodes per data set, and NumPy's float32 ``exp`` costs
1.4-2.9 ns a value on these machines (its SIMD version is not dispatched here): half of a
posterior's time. The compiled loop evaluates the same formula at about 0.4 ns a value. A
simulation or an exact walk, which computes thousands of posteriors, uses it; ``recommend``,
which computes a few, uses NumPy and does not pay numba's start-up (about half a second).
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
COMPILED_FROM_ROWS = 64  # batches of at least this many data sets use the compiled loop


def exp_scaled(t: np.ndarray, batch_rows: int, scratch: np.ndarray) -> None:
    """exp of a contiguous float32 array of values <= 0, in place; by the compiled loop when
    the batch holds at least ``COMPILED_FROM_ROWS`` data sets (and numba is installed), else
    by NumPy: the same bits. ``scratch``: int32, as many values as ``t``."""
    kernel = _compiled() if batch_rows >= COMPILED_FROM_ROWS else None
    if kernel is None:
        exp_numpy(t)
    else:
        kernel(t.reshape(-1), scratch.reshape(-1))


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
        from bayesdose.inference.fastexp_kernel import exp_in_place
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    return exp_in_place
