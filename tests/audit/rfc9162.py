"""An independent reading of RFC 9162 section 2.1 and C2SP tlog-tiles, for checking the project.

Written from the texts, calling nothing of the project: the Merkle Tree Hash over a range of
entries (2.1.1), PATH (2.1.3.1), PROOF and SUBPROOF (2.1.4.1), the verification algorithms of
2.1.3.2 and 2.1.4.2 step by step, and the tile formula of tlog-tiles. Entries here are already
leaf hashes' inputs, i.e. the leaf bytes; every range is ``[lo, hi)`` over one list.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def largest_power_of_two_below(n: int) -> int:
    """k of section 2.1.1: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


class Reference:
    """The RFC's recursive definitions over one list of entries (leaf bytes)."""

    def __init__(self, entries: Sequence[bytes]) -> None:
        self.d = list(entries)

    @functools.cache  # noqa: B019 - one small object per test, kept for its lifetime
    def mth(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi])."""
        n = hi - lo
        if n == 0:
            return _h(b"")
        if n == 1:
            return _h(b"\x00" + self.d[lo])
        k = largest_power_of_two_below(n)
        return _h(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi))

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        """PATH(m, D[lo:hi]), m counted from lo."""
        if hi - lo == 1:
            return []
        k = largest_power_of_two_below(hi - lo)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def subproof(self, m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        """SUBPROOF(m, D[lo:hi], b)."""
        if m == hi - lo:
            return [] if b else [self.mth(lo, hi)]
        k = largest_power_of_two_below(hi - lo)
        if m <= k:
            return [*self.subproof(m, lo, lo + k, b), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[n]) for 0 < m < n."""
        return self.subproof(m, 0, n, True)

    def tile(self, level: int, index: int, width: int) -> bytes:
        """tlog-tiles: MTH(D[(n*256+i)*256**l : (n*256+i+1)*256**l]) for i below width."""
        span = 256**level
        return b"".join(
            self.mth((index * 256 + i) * span, (index * 256 + i + 1) * span) for i in range(width)
        )


def verify_inclusion(
    leaf_index: int, tree_size: int, path: Sequence[bytes], leaf: bytes, root: bytes
) -> bool:
    """Section 2.1.3.2, one numbered step at a time."""
    if leaf_index >= tree_size:  # 1
        return False
    fn, sn = leaf_index, tree_size - 1  # 2
    r = _h(b"\x00" + leaf)  # 3
    for p in path:  # 4
        if sn == 0:  # 4a
            return False
        if fn % 2 == 1 or fn == sn:  # 4b
            r = _h(b"\x01" + p + r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = _h(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1  # 4c
    return sn == 0 and r == root  # 5


def verify_consistency(
    first: int, second: int, path: Sequence[bytes], first_hash: bytes, second_hash: bytes
) -> bool:
    """Section 2.1.4.2 for 0 < first < second, one numbered step at a time."""
    if not path:  # 1
        return False
    path = list(path)
    if first & (first - 1) == 0:  # 2: an exact power of two
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1  # 3
    while fn % 2 == 1:  # 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # 5
    for c in path[1:]:  # 6
        if sn == 0:  # 6a
            return False
        if fn % 2 == 1 or fn == sn:  # 6b
            fr = _h(b"\x01" + c + fr)
            sr = _h(b"\x01" + c + sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = _h(b"\x01" + sr + c)
        fn, sn = fn >> 1, sn >> 1  # 6c
    return fr == first_hash and sr == second_hash and sn == 0  # 7


def tile_path(level: int, index: int, width: int = 256) -> str:
    """tlog-tiles: ``tile/<L>/<N>[.p/<W>]``, N in 3-digit elements, all but the last x-prefixed."""
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    parts = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    name = "/".join([*("x" + p for p in parts[:-1]), parts[-1]])
    return f"tile/{level}/{name}" + ("" if width == 256 else f".p/{width}")
