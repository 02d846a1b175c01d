"""The streaming helpers every frame engine shares: the length check and the tally."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from likeness.errors import BadInput
from models.stream import FrameTally, RenderStats, paired


def _frames(count: int) -> list[np.ndarray]:
    return [np.full((2, 2, 3), i, dtype=np.uint8) for i in range(count)]


def test_paired_numbers_frames_and_refuses_a_short_or_long_track() -> None:
    frames = _frames(3)
    triples = list(paired(frames, [None, None, None]))
    assert [index for index, _, _ in triples] == [0, 1, 2]
    assert all(frame is frames[i] for i, frame, _ in triples)
    with pytest.raises(BadInput, match=r"driver track and the frames differ .* frame 2"):
        list(paired(frames, [None, None], what="driver track"))
    with pytest.raises(BadInput, match="one ends at frame 3"):
        list(paired(frames, [None] * 4))


def test_tally_counts_what_a_stream_yielded_even_when_abandoned() -> None:
    tally = FrameTally()

    def stream() -> Iterator[np.ndarray]:
        for i, frame in enumerate(_frames(5)):
            yield tally.count_changed(frame) if i % 2 else tally.count_passed(frame)

    walked = stream()
    first, second, third = next(walked), next(walked), next(walked)
    assert int(first[0, 0, 0]) == 0 and int(third[0, 0, 0]) == 2 and second is not first
    assert tally.stats == RenderStats(frames=3, changed=1, passed_through=2)
