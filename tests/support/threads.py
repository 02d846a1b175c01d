"""Two threads run at once, and how long their calls overlapped: the evidence that a
native call releases the GIL (with it held, the calls could not overlap at all)."""

from __future__ import annotations

import threading
from collections.abc import Callable

Interval = tuple[float, float]


def run_pair(work: Callable[[int], None]) -> list[threading.Thread]:
    """``work(0)`` and ``work(1)`` on two threads, started together and joined."""
    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return threads


def overlap_s(a: list[Interval], b: list[Interval]) -> float:
    """Seconds during which an interval of ``a`` and one of ``b`` both ran."""
    return sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)
