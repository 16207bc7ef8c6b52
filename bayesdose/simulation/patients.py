"""Common random numbers: each simulated trial's patients and their latent tolerances.

Patient i of trial t has a tolerance u ~ U(0, 1) and a DLT at dose k iff u <= p_true[k], so
every design and the optimal benchmark see the same patients for the same trial index.

The streams come from the counter-based generator Philox4x64-10 (Salmon, Moraes, Dror & Shaw
2011, "Parallel random numbers: as easy as 1, 2, 3", the Random123 library), evaluated in NumPy
for all trials of a call at once:

- key: ``(k0, k1) = SeedSequence(seed).generate_state(2, np.uint64)``: one seed fixes everything;
- trial t, block j (j = 0, 1, ...): the 4 x 64-bit words ``philox4x64_10((j, t, 0, 0), key)``;
- patient i of trial t: word ``i % 4`` of block ``i // 4``, as ``u = (word >> 11) * 2**-53``
  (53 random bits, in [0, 1)).

So ``tolerances(seed, first, stop, patients)[r, i]`` is a function of (seed, first + r, i) alone:
a trial's numbers never depend on the chunking, the workers or the executor, and a stream's first
values do not depend on how many are drawn (the length only needs to cover the longest trial).

This is exactly NumPy's own ``Philox`` bit generator: trial t's stream equals
``Generator(Philox(key=key, counter=c)).random(n)`` with the 256-bit counter
``c = t * 2**64 - 1`` (NumPy increments the counter before each block, so its first block is
``(0, t, 0, 0)``); ``tests/test_patients.py`` checks this bit for bit.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_U64 = np.uint64
_MASK32 = _U64(0xFFFF_FFFF)
_SHIFT32 = _U64(32)
_MULTIPLIERS = (0xD2E7_470E_E14C_6C93, 0xCA5A_8263_9512_1157)  # PHILOX_M4x64_0, _1
_WEYL = (0x9E37_79B9_7F4A_7C15, 0xBB67_AE85_84CA_A73B)  # PHILOX_W64_0, _1 (key bumps)
_ROUNDS = 10
_WORDS = 4  # 64-bit words per block
_BLOCK_WORDS = 8192  # (trial, block) pairs evaluated at once: 64 KiB arrays, cache-sized


@lru_cache(maxsize=64)
def philox_key(seed: int) -> tuple[int, int]:
    """The Philox key (k0, k1) of a seed: ``SeedSequence(seed).generate_state(2, np.uint64)``."""
    k0, k1 = np.random.SeedSequence(seed).generate_state(2, np.uint64)
    return int(k0), int(k1)


def _round_keys(key: tuple[int, int]) -> list[tuple[np.uint64, np.uint64]]:
    """The key of each round: the seed key, bumped by the Weyl constants before each later one."""
    keys = []
    k0, k1 = key
    for _ in range(_ROUNDS):
        keys.append((_U64(k0), _U64(k1)))
        k0 = (k0 + _WEYL[0]) % 2**64
        k1 = (k1 + _WEYL[1]) % 2**64
    return keys


def _mulhilo(x: np.ndarray, multiplier: int,
             scratch: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """High and low 64-bit words of the 128-bit products ``x * multiplier``.

    NumPy has no 64 x 64 -> 128-bit multiply: the low word is the wrapping uint64 product, the
    high word is assembled from 32-bit halves (Warren, Hacker's Delight, ``mulhu``), every
    partial product below 2**64. ``scratch``: three arrays of x's shape, or () to allocate.
    """
    v0, v1 = _U64(multiplier & 0xFFFF_FFFF), _U64(multiplier >> 32)
    u0, w, t = scratch or (np.empty_like(x), np.empty_like(x), np.empty_like(x))
    lo = np.multiply(x, _U64(multiplier))
    np.bitwise_and(x, _MASK32, out=u0)
    hi = np.right_shift(x, _SHIFT32)  # u1
    np.multiply(u0, v0, out=w)
    w >>= _SHIFT32
    np.multiply(hi, v0, out=t)
    t += w  # u1 v0 + (u0 v0 >> 32) < 2**64
    np.bitwise_and(t, _MASK32, out=w)
    t >>= _SHIFT32
    u0 *= v1
    u0 += w
    u0 >>= _SHIFT32
    hi *= v1
    hi += t
    hi += u0
    return hi, lo


def philox4x64(
    counter: tuple[np.ndarray | np.uint64, ...], key: tuple[int, int]
) -> tuple[np.ndarray, ...]:
    """Philox4x64-10 of the counters ``(c0, c1, c2, c3)`` (uint64 arrays or scalars, broadcast
    together) under ``key``: the four output words, as in Random123's ``philox4x64_R(10, ...)``.
    """
    c0, c1, c2, c3 = (np.array(c, _U64, ndmin=1) for c in counter)
    shape = np.broadcast_shapes(c0.shape, c1.shape, c2.shape, c3.shape)
    scratch = tuple(np.empty(shape, _U64) for _ in range(3))  # reused by every round
    for k0, k1 in _round_keys(key):
        hi0, lo0 = _mulhilo(c0, _MULTIPLIERS[0], scratch if c0.shape == shape else ())
        hi1, lo1 = _mulhilo(c2, _MULTIPLIERS[1], scratch if c2.shape == shape else ())
        c0 = _xor3(hi1, c1, k0)
        c2 = _xor3(hi0, c3, k1)
        c1, c3 = lo1, lo0
    return c0, c1, c2, c3


def _xor3(a: np.ndarray, b: np.ndarray, k: np.uint64) -> np.ndarray:
    """a ^ b ^ k, in place in ``a`` when the shapes allow (the early rounds broadcast)."""
    if a.shape == np.broadcast_shapes(a.shape, b.shape):
        a ^= b
    else:
        a = a ^ b
    a ^= k
    return a


def _fill(out: np.ndarray, key: tuple[int, int], first: int) -> None:
    """Tolerances of trials ``first ..`` into the rows of ``out`` (trials, patients)."""
    trials, patients = out.shape
    blocks = -(-patients // _WORDS)
    t = np.arange(first, first + trials, dtype=_U64)[:, None]
    j = np.arange(blocks, dtype=_U64)[None, :]
    words = philox4x64((j, t, _U64(0), _U64(0)), key)  # counters (j, t, 0, 0) broadcast
    bits = np.empty((trials, blocks, _WORDS), _U64)  # patient 4 j + w: block j, word w
    for w, word in enumerate(words):
        bits[:, :, w] = word
    bits >>= _U64(11)
    np.multiply(bits.reshape(trials, blocks * _WORDS)[:, :patients], 2.0**-53, out=out)


def tolerances(seed: int, first: int, stop: int, patients: int) -> np.ndarray:
    """(stop - first, patients) tolerances of trials first .. stop - 1."""
    if first < 0 or stop < first or patients < 0:
        raise ValueError(f"need 0 <= first <= stop and patients >= 0, got {first}, {stop}, "
                         f"{patients}")
    out = np.empty((stop - first, patients))
    if out.size == 0:
        return out
    key = philox_key(seed)
    step = max(1, _BLOCK_WORDS // -(-patients // _WORDS))  # trials at a time
    for a in range(0, stop - first, step):
        _fill(out[a : a + step], key, first + a)
    return out
