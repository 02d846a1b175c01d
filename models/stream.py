"""What every frame-streaming engine shares: walking frames beside their face track,
and the account of what the last render did.

Lip-sync and reenactment engines take frames and a face track as two iterables and
yield frames one by one, so neither stream is ever held in memory. A track that runs
shorter or longer than its frames would silently shift every face onto the wrong
frame; `paired` refuses that the moment it is seen. `RenderStats` is how the flows
learn how many frames an engine actually changed once its stream has ended, and
`FrameTally` is how an engine keeps that count as it yields.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from likeness.errors import BadInput
from models.face.tracking import TrackedFace


@dataclass(frozen=True)
class RenderStats:
    """What the last render did: frames seen, changed, and passed through (no face)."""

    frames: int = 0
    changed: int = 0
    passed_through: int = 0


class FrameTally:
    """Counts the frames an engine yields, changed or passed through unchanged.

    Wrap each yielded frame in `count_changed` or `count_passed`; read `stats` when
    the stream ends (in a ``finally``, so an abandoned stream still reports).
    """

    def __init__(self) -> None:
        self.changed = 0
        self.passed_through = 0

    @property
    def frames(self) -> int:
        return self.changed + self.passed_through

    @property
    def stats(self) -> RenderStats:
        return RenderStats(frames=self.frames, changed=self.changed,
                           passed_through=self.passed_through)

    def count_changed(self, frame: np.ndarray) -> np.ndarray:
        self.changed += 1
        return frame

    def count_passed(self, frame: np.ndarray) -> np.ndarray:
        self.passed_through += 1
        return frame


def paired(
    frames: Iterable[np.ndarray], track: Iterable[TrackedFace | None], *, what: str = "face track"
) -> Iterator[tuple[int, np.ndarray, TrackedFace | None]]:
    """(index, frame, tracked) triples; `BadInput` when the two streams differ in length."""
    missing = object()
    for index, (frame, tracked) in enumerate(
        itertools.zip_longest(frames, track, fillvalue=missing)
    ):
        if frame is missing or tracked is missing:
            raise BadInput(
                f"the {what} and the frames differ in length (one ends at frame {index})",
                hint="track the same frames you render",
            )
        yield index, frame, tracked  # type: ignore[misc]
