"""The largest value a monotone condition allows: the one search `fit`, training and the engines share.

Memory grows monotonically with context, batch and sequence length, so "the most that fits" is the
last true point of a condition that is true up to some n and false after it: a binary search finds
it in log2(range) evaluations.
"""
from __future__ import annotations

from collections.abc import Callable


def largest_true(ok: Callable[[int], bool], hi: int, lo: int = 0) -> int:
    """The largest n in [lo, hi] with ok(n) true, for an `ok` true up to some n and false after it.

    ok(lo) is assumed true (not evaluated); `lo` comes back when nothing above it is.
    """
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo
