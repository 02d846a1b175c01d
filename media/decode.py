"""Decode a video into upright RGB frames (or I420 planes), once, as a stream.

Frames are produced lazily (a generator) so a render never holds the whole
video in memory and never writes image files to disk. Rotation metadata is
applied here so every later stage (face detection, lip sync, watermarking)
sees the picture the way a viewer does. A `LazyFrame` converts only when asked, to
RGB, grey, or the encoder's own I420 planes (`LazyFrame.yuv420`, no conversion at all
for a yuv420p source: the stamp path).

Variable-frame-rate sources (phones, screen recorders) keep their real
timestamps in ``DecodedFrame.pts_s``; ``cfr_fps=`` resamples them to a constant
rate by nearest-timestamp selection, which is what the render pipelines need
because the encoder writes a constant rate.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import av
import cv2
import numpy as np

from likeness.errors import BadInput
from media.probe import MediaInfo, VideoInfo, open_input, probe
from media.yuv import Yuv420

TIE_TOLERANCE_S = 1e-9
SCALE_INTERPOLATION = "AREA"  # good for downscaling, the common case


@dataclass(frozen=True, eq=False)
class DecodedFrame:
    """One upright RGB frame and when it is shown.

    ``pts_s`` counts from the start of the video stream (the first frame is at
    or near 0). ``rgb`` is a C-contiguous (height, width, 3) uint8 array that
    the consumer owns.
    """

    index: int
    pts_s: float
    rgb: np.ndarray


@dataclass(frozen=True, eq=False)
class LazyFrame:
    """One decoded frame whose pixels are converted only when asked for.

    Converting a 720p frame to RGB costs several times what decoding it does, so a
    scan that looks closely at a few frames (identity sampling) and only glances at
    the others (scene cuts) asks for a thumbnail of each and full RGB of a few.
    Every call returns a fresh array the caller owns.
    """

    index: int
    pts_s: float
    frame: av.VideoFrame
    quarter_turns: int = 0

    def rgb(self) -> np.ndarray:
        """The upright RGB24 picture."""
        return _upright(self.frame.to_ndarray(format="rgb24"), self.quarter_turns)

    def yuv420(self) -> Yuv420:
        """The upright picture as 8-bit limited-range I420 planes: a plain copy when the
        source is yuv420p, as H.264 and most camera files are (no colour conversion), and
        swscale's conversion otherwise (10-bit, 4:2:2, full range). Needs an even width and
        height (`even_sized`)."""
        picture = Yuv420(self.frame.to_ndarray(format="yuv420p"))
        return picture.rotated(self.quarter_turns)

    def grey(self, size: tuple[int, int]) -> np.ndarray:
        """The upright picture as 8-bit full-range grey scaled to ``size`` (width, height).

        An 8-bit YUV frame's luma plane already is the grey picture: it is area-scaled in
        place by OpenCV and only the small result is range-expanded (`_LIMITED_TO_FULL`),
        which costs a quarter of swscale's grey conversion of the whole frame and gives
        the same picture within 2 grey levels. Other formats go through swscale."""
        width, height = size if self.quarter_turns % 2 == 0 else (size[1], size[0])
        luma = _luma_plane(self.frame)
        if luma is None:
            grey = self.frame.to_ndarray(format="gray", width=width, height=height,
                                         interpolation=SCALE_INTERPOLATION)
        else:
            grey = cv2.resize(luma, (width, height), interpolation=cv2.INTER_AREA)
            if not _full_range(self.frame):
                grey = _LIMITED_TO_FULL[grey]
        return _upright(grey, self.quarter_turns)


LUMA_FORMATS = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p",
                          "nv12", "nv21"})  # 8-bit, plane 0 is luma
FULL_RANGE_FORMATS = frozenset({"yuvj420p", "yuvj422p", "yuvj444p"})
AVCOL_RANGE_JPEG = 2  # FFmpeg's full ("pc") range
# limited-range luma (16-235) to full-range grey (0-255), as swscale maps it
_LIMITED_TO_FULL = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)


def _luma_plane(frame: av.VideoFrame) -> np.ndarray | None:
    """The frame's 8-bit luma plane as a (height, width) view, None for other formats."""
    if frame.format.name not in LUMA_FORMATS:
        return None
    plane = frame.planes[0]
    rows = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)
    return rows[:frame.height, :frame.width]


def _full_range(frame: av.VideoFrame) -> bool:
    return frame.format.name in FULL_RANGE_FORMATS or frame.color_range == AVCOL_RANGE_JPEG


def even_sized(video: VideoInfo) -> bool:
    """Whether the stream's frames can be read as I420 planes (`LazyFrame.yuv420`), which
    subsample chroma 2x2 and so need an even width and height."""
    return video.width % 2 == 0 and video.height % 2 == 0


def _upright(pixels: np.ndarray, quarter_turns: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(pixels, k=quarter_turns)) if quarter_turns else pixels


def iter_lazy_frames(path: Path | str, *, cfr_fps: float, info: MediaInfo | None = None,
                     rotate: bool = True) -> Iterator[LazyFrame]:
    """The frames of ``path`` at a constant rate, as `iter_frames` numbers them, with their
    pixels left unconverted until asked for (`LazyFrame`)."""
    media_path = Path(path)
    media_info = info if info is not None else probe(media_path)
    video = media_info.require_video()
    if cfr_fps <= 0:
        raise BadInput(f"invalid frame rate {cfr_fps}: must be positive")
    quarter_turns = video.rotation_deg // 90 if rotate else 0
    yield from resample_to_cfr(_decode_lazy(media_path, video, quarter_turns=quarter_turns),
                               fps=cfr_fps, end_s=video.duration_s)


def _decode_lazy(path: Path, video: VideoInfo, *, quarter_turns: int) -> Iterator[LazyFrame]:
    return _decode(path, video, lambda index, pts_s, frame: LazyFrame(
        index=index, pts_s=pts_s, frame=frame, quarter_turns=quarter_turns))


Made = TypeVar("Made")


def _decode(path: Path, video: VideoInfo,
            make: Callable[[int, float, av.VideoFrame], Made]) -> Iterator[Made]:
    """Decode the first video stream once, timing each frame from its pts (or the
    average rate when it has none); ``make`` builds what is yielded, inside the guard
    that turns a decoder error into one `BadInput` naming the frame."""
    container = open_input(path, what="video")
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        time_base = float(stream.time_base) if stream.time_base else 0.0
        fallback_interval_s = 1.0 / video.avg_fps if video.avg_fps else 0.0
        index = 0
        try:
            for frame in container.decode(stream):
                if frame.pts is not None and time_base:
                    pts_s = frame.pts * time_base - video.start_s
                else:
                    pts_s = index * fallback_interval_s
                yield make(index, pts_s, frame)
                index += 1
        except av.error.FFmpegError as exc:
            raise BadInput(f"cannot decode frame {index} of video {path}: {exc}",
                           hint="the file may be truncated or corrupt") from exc


Timed = TypeVar("Timed", DecodedFrame, LazyFrame)


def iter_frames(
    path: Path | str,
    *,
    rotate: bool = True,
    size: tuple[int, int] | None = None,
    cfr_fps: float | None = None,
    info: MediaInfo | None = None,
) -> Iterator[DecodedFrame]:
    """Yield the frames of ``path`` as upright RGB24 numpy arrays.

    ``size`` is the (width, height) of the *upright* output (scaled in C by
    swscale). ``cfr_fps`` resamples to a constant rate (pass
    ``info.video.avg_fps`` to keep the probed average rate). ``info`` skips a
    second probe when the caller already has one.
    """
    media_path = Path(path)
    media_info = info if info is not None else probe(media_path)
    video = media_info.require_video()
    if size is not None and (size[0] <= 0 or size[1] <= 0):
        raise BadInput(f"invalid frame size {size}: width and height must be positive")
    quarter_turns = video.rotation_deg // 90 if rotate else 0
    frames = _decode_upright(media_path, video, quarter_turns=quarter_turns, size=size)
    if cfr_fps is None:
        yield from frames
        return
    if cfr_fps <= 0:
        raise BadInput(f"invalid frame rate {cfr_fps}: must be positive")
    yield from resample_to_cfr(frames, fps=cfr_fps, end_s=video.duration_s)


def _decode_upright(
    path: Path,
    video: VideoInfo,
    *,
    quarter_turns: int,
    size: tuple[int, int] | None,
) -> Iterator[DecodedFrame]:
    scale: dict[str, object] = {}
    if size is not None:
        width, height = size if quarter_turns % 2 == 0 else (size[1], size[0])
        scale = {"width": width, "height": height, "interpolation": SCALE_INTERPOLATION}

    def upright(index: int, pts_s: float, frame: av.VideoFrame) -> DecodedFrame:
        rgb = frame.to_ndarray(format="rgb24", **scale)
        if quarter_turns:
            rgb = np.ascontiguousarray(np.rot90(rgb, k=quarter_turns))
        return DecodedFrame(index=index, pts_s=pts_s, rgb=rgb)

    return _decode(path, video, upright)


def resample_to_cfr(
    frames: Iterator[Timed], *, fps: float, end_s: float
) -> Iterator[Timed]:
    """Turn timestamped frames into a constant-rate sequence ending at ``end_s``.

    Output slot ``k`` at ``k / fps`` shows the source frame whose timestamp is
    nearest (ties go to the earlier frame), so dropped source frames are
    filled by repetition and surplus frames are skipped; no blending, which
    would smear mouths. At least one frame is produced for a non-empty input; a repeated
    frame is a copy, so consumers may edit arrays in place.
    """
    slot_count = max(1, math.ceil(end_s * fps - 1e-6)) if end_s > 0 else None
    previous: Timed | None = None
    previous_used = False
    slot = 0
    for frame in frames:
        if previous is not None:
            boundary_s = (previous.pts_s + frame.pts_s) / 2.0
            while (slot_count is None or slot < slot_count) and \
                    slot / fps <= boundary_s + TIE_TOLERANCE_S:
                yield _slot(previous, slot=slot, fps=fps, repeat=previous_used)
                previous_used = True
                slot += 1
        previous, previous_used = frame, False
    if previous is None:
        return
    final_count = slot_count if slot_count is not None else slot + 1
    while slot < final_count:
        yield _slot(previous, slot=slot, fps=fps, repeat=previous_used)
        previous_used = True
        slot += 1


def _slot(frame: Timed, *, slot: int, fps: float, repeat: bool) -> Timed:
    """A repeated source frame gets its own copy so in-place edits never leak (a lazy
    frame converts afresh at every call: nothing to copy)."""
    if isinstance(frame, LazyFrame):
        return dataclasses.replace(frame, index=slot, pts_s=slot / fps)
    rgb = frame.rgb.copy() if repeat else frame.rgb
    return DecodedFrame(index=slot, pts_s=slot / fps, rgb=rgb)


def frames_at(path: Path | str, times_s: list[float], *, rotate: bool = True,
              info: MediaInfo | None = None) -> list[np.ndarray]:
    """Upright RGB frames at (or just after) each time, found by seeking.

    For sampling a long video (identity checks, thumbnails) without decoding all of
    it: each seek lands on the keyframe before ``t`` and decodes forward to ``t``.
    """
    media_path = Path(path)
    media_info = info if info is not None else probe(media_path)
    video = media_info.require_video()
    quarter_turns = video.rotation_deg // 90 if rotate else 0
    picked: list[np.ndarray] = []
    container = open_input(media_path, what="video")
    with container:
        stream = container.streams.video[0]
        time_base = float(stream.time_base) if stream.time_base else 0.0
        if not time_base:
            raise BadInput(f"cannot seek in video {media_path}: no time base")
        for t in sorted(times_s):
            target = video.start_s + max(0.0, t)
            try:
                container.seek(int(target / time_base), stream=stream, backward=True,
                               any_frame=False)
                found = None
                for frame in container.decode(stream):
                    found = frame
                    if frame.pts is None or frame.pts * time_base >= target - 1e-6:
                        break
            except av.error.FFmpegError as exc:
                raise BadInput(f"cannot decode video {media_path} near {t:.2f} s: {exc}",
                               hint="the file may be truncated or corrupt") from exc
            if found is None:
                continue
            rgb = found.to_ndarray(format="rgb24")
            if quarter_turns:
                rgb = np.ascontiguousarray(np.rot90(rgb, k=quarter_turns))
            picked.append(rgb)
    return picked
