"""Slowing the picture locally, with its sound, so a long dubbed line fits (``--fit video``).

Speeding synthetic speech past ~1.35x makes it hard to follow; dubbing tools' users ask
to slow the video instead. One `media.time_map.TimeMap` drives both streams, which is
what keeps them in sync:

- the picture: output frame ``k`` shows source time ``to_source(k / fps)``; between two
  source frames it is a blend of both, weighted by the distance (slow motion by blend;
  at a whole frame it is that frame repeated), streamed with two frames in memory;
- the sound: each span is time-stretched at the same pitch (`media.audio.time_stretch`)
  and cut to exactly the samples the map gives it, so every span boundary lands on the
  same output instant in picture and sound (no drift accumulates over a clip).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from media.audio import as_frames, time_stretch
from media.time_map import TimeMap

WHOLE_FRAME_EPSILON = 1e-3  # closer than this to a source frame: that frame, not a blend


def slowed_frames(frames: Iterable[np.ndarray], timemap: TimeMap, *,
                  fps: float) -> Iterator[np.ndarray]:
    """The source frames re-timed by the map: repeated or blended where it is slowed.

    Ends when the source does: the output has as many frames as the source supports."""
    if timemap.identity:
        yield from frames
        return
    source = iter(frames)
    held: list[np.ndarray] = []  # source frames held[0], held[1] = index base, base + 1
    base = -1
    k = 0
    while True:
        position = timemap.to_source(k / fps) * fps
        index = int(np.floor(position + WHOLE_FRAME_EPSILON))
        weight = position - index
        while base + len(held) <= index + 1:  # read until frames index and index+1 are held
            frame = next(source, None)
            if frame is None:
                break
            held.append(frame)
            if len(held) > 2:
                held.pop(0)
                base += 1
            elif base < 0:
                base = 0
        if base < 0 or index > base + len(held) - 1:
            return  # the source has ended
        current = held[index - base]
        following = held[index - base + 1] if index - base + 1 < len(held) else None
        if following is None or weight < WHOLE_FRAME_EPSILON:
            yield current
        else:
            mixed = (current.astype(np.float32) * (1.0 - weight)
                     + following.astype(np.float32) * weight)
            yield np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
        k += 1


def slowed_audio(samples: np.ndarray, sample_rate: int, timemap: TimeMap) -> np.ndarray:
    """The source's sound re-timed by the map (same pitch), ``(n, channels)`` float32."""
    frames = as_frames(samples)
    if timemap.identity:
        return frames
    out: list[np.ndarray] = []
    written = 0
    for start_s, end_s, factor in timemap.pieces():
        chunk = frames[int(round(start_s * sample_rate)):int(round(end_s * sample_rate))]
        target = int(round(timemap.to_output(end_s) * sample_rate)) - written
        piece = chunk if factor == 1.0 else time_stretch(chunk, sample_rate, tempo=1.0 / factor)
        piece = piece[:target]
        if piece.shape[0] < target:  # rounding: a few samples of the piece's last value
            pad = np.repeat(piece[-1:] if piece.shape[0] else frames[:1] * 0,
                            target - piece.shape[0], axis=0)
            piece = np.concatenate([piece, pad])
        out.append(piece.astype(np.float32))
        written += target
    tail = frames[int(round(timemap.duration_s * sample_rate)):]  # past the map: unchanged
    return np.concatenate([*out, tail]) if out else frames
