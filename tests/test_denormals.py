"""``denormals.flushed``: subnormal products are zero inside the block, on this thread only,
and the floating-point environment is restored after it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from bayesdose.denormals import _libm, flushed

TINY = np.float32(1e-20)  # 1e-20 squared is 1e-40: subnormal in single precision

pytestmark = pytest.mark.skipif(_libm() is None, reason="x86-64 glibc only (elsewhere a no-op)")


def _square() -> np.float32:
    return (np.array([TINY]) * np.array([TINY]))[0]


def test_subnormal_products_are_zero_inside_and_restored_after():
    assert 0 < _square() < np.finfo(np.float32).tiny
    go, seen = threading.Event(), []
    other = threading.Thread(target=lambda: (go.wait(), seen.append(_square())))
    other.start()  # before the block: a thread started inside would inherit the setting
    with flushed():
        assert _square() == 0
        go.set()
        other.join()
    assert seen[0] > 0  # another thread kept its own environment (compared out here: in
    # the block a subnormal operand reads as zero)
    assert 0 < _square() < np.finfo(np.float32).tiny


def test_the_environment_is_restored_when_the_block_raises():
    with pytest.raises(RuntimeError), flushed():
        raise RuntimeError
    assert _square() > 0
