"""`media.pipeline.prefetch`: the same items in order, errors where they happen, and a
consumer that stops early stops the producer thread (no thread or decoder left behind)."""

from __future__ import annotations

import platform
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from media.pipeline import prefetch


def test_items_arrive_in_order_and_all_of_them() -> None:
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))


def test_a_producer_error_is_raised_where_its_item_would_come() -> None:
    def broken() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("decoder failed at frame 2")

    seen: list[int] = []
    with pytest.raises(RuntimeError, match="frame 2"):
        for item in prefetch(broken(), depth=2):
            seen.append(item)
    assert seen == [1, 2]


def test_stopping_early_stops_the_producer_and_runs_its_cleanup() -> None:
    cleaned = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            cleaned.set()

    stream = prefetch(endless(), depth=2, name="test-prefetch")
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    stream.close()
    assert cleaned.wait(2.0)
    assert not any(t.name == "test-prefetch" for t in threading.enumerate())


def test_the_producer_runs_ahead_of_a_slow_consumer() -> None:
    """Overlap: while the consumer works on one item the next ones are already made."""
    made: list[float] = []

    def timed() -> Iterator[int]:
        for n in range(4):
            made.append(time.perf_counter())
            yield n

    stream = prefetch(timed(), depth=4)
    first = next(stream)
    time.sleep(0.2)  # the consumer is busy with the first item
    assert first == 0 and len(made) == 4  # the producer did not wait for it
    assert list(stream) == [1, 2, 3]


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth"):
        list(prefetch([1], depth=0))


def test_prefetch_caps_the_malloc_arenas_once() -> None:
    """Frames freed across threads: the arena cap (media.pipeline docstring) is set by the
    first prefetch, and only once."""
    from media.pipeline import limit_malloc_arenas

    assert list(prefetch(iter(range(3)))) == [0, 1, 2]
    assert limit_malloc_arenas.cache_info().currsize == 1
    assert limit_malloc_arenas() == limit_malloc_arenas()  # cached: mallopt runs once
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert limit_malloc_arenas() is True
