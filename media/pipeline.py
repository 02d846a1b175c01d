"""Overlap the stages of a frame stream so both cores stay busy.

A render is decode -> per-frame work (track, lip-sync, label, watermark) -> encode.
Run one after another in one thread, each stage waits for the others; the heavy
parts of each (FFmpeg's decoder and encoder, numpy, OpenCV) release the GIL, so a
stage run in its own thread, handing frames on through a small bounded queue,
overlaps with the next. The queue bounds memory: at most ``depth`` frames wait
between two stages, whatever the clip's length.

`prefetch` keeps the generator contract: the consumer sees the same items in the same
order, an exception raised by the producer is re-raised in the consumer at the
point where the failed item would have come, and a consumer that stops early (an
error downstream, ``close()``) stops the producer thread too.

Frames made in one thread and freed in another are what glibc's per-thread malloc
arenas handle worst: each thread's arena may keep the megabytes it once held. The peak
resident memory of the same 60 s 720p scripted dub, in-process, varied from run to run
with the default (up to 8 arenas a core): 2.02 and 1.25 GiB; with two arenas 1.23
(MALLOC_ARENA_MAX=2), 1.26 and 1.29 GiB (this cap), at the same CPU time (93 s). So the
first `prefetch` caps the arenas (`limit_malloc_arenas`). Turning off numpy's hugepage
advice also gave 1.27 GiB, but cost 1.6x CPU on frame-sized copies.
"""

from __future__ import annotations

import contextvars
import ctypes
import functools
import queue
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

DEFAULT_DEPTH = 4  # frames in flight between two stages (720p RGB: ~2.8 MB each)
_POLL_S = 0.1  # how often a blocked producer checks whether the consumer has gone
M_ARENA_MAX = -8  # glibc's mallopt() parameter number for the arena cap
FRAME_THREAD_ARENAS = 2  # one for the decoder's side, one for the consumer's


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_END = object()


@functools.cache
def limit_malloc_arenas() -> bool:
    """Cap glibc's malloc arenas for the rest of the process (see the module docstring);
    threads started from now on share them. False where there is nothing to cap (not
    Linux, or a C library without glibc's ``mallopt``)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, FRAME_THREAD_ARENAS))


def prefetch(items: Iterable[T], *, depth: int = DEFAULT_DEPTH,
             name: str = "likeness-prefetch") -> Iterator[T]:
    """Iterate ``items`` in a background thread, up to ``depth`` items ahead."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, not {depth}")
    limit_malloc_arenas()
    handoff: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if not offer(item):
                    return
            offer(_END)
        except BaseException as exc:  # handed to the consumer, re-raised there
            offer(_Failed(exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # a generator's own clean-up (decoder containers) runs here

    # the producer sees the consumer's context variables (a flow's studio, its clock)
    context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(produce,), name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
