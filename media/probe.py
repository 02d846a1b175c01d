"""Describe a media file before any work is done on it.

One demux pass with PyAV gives stream parameters, exact frame timestamps (so
variable frame rate is detected from the data, not guessed from header rates)
and a decode check of the first frame, so that a corrupt file is refused here
with a clear message instead of failing halfway through a render. Rotation is
read from ffprobe's JSON because PyAV does not expose an input stream's
display matrix.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from likeness.errors import BadInput, LikenessError
from media.ffmpeg import ffmpeg_path, ffprobe_path, run_ffprobe

AV_TIME_BASE_PER_S = 1_000_000
MAX_SCAN_PACKETS = 50_000
VFR_DEVIATION_RATIO = 0.5  # any frame interval this far from the median: variable rate
RATE_MISMATCH_RATIO = 0.01  # avg vs r_frame_rate differ by more: variable rate (no scan)
NOT_MEDIA_FORMATS = frozenset({"tty"})  # demuxers that accept arbitrary text
_ROTATION_IN_STDERR = re.compile(r"displaymatrix: rotation of (-?[0-9.]+) degrees")


@dataclass(frozen=True)
class VideoInfo:
    """The first video stream. ``width``/``height`` are as stored; see ``display_size``."""

    index: int
    codec: str
    width: int
    height: int
    pix_fmt: str | None
    rotation_deg: int  # counter-clockwise turn that makes frames upright: 0, 90, 180, 270
    avg_rate: Fraction  # average frame rate (frames / duration)
    r_rate: Fraction  # container's base rate (ffprobe's r_frame_rate)
    is_vfr: bool
    frame_count: int
    frame_count_exact: bool  # True when every packet was counted
    start_s: float
    duration_s: float

    @property
    def avg_fps(self) -> float:
        return float(self.avg_rate)

    @property
    def r_fps(self) -> float:
        return float(self.r_rate)

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) of upright frames, after applying the rotation."""
        if self.rotation_deg in (90, 270):
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True)
class AudioInfo:
    """One audio stream."""

    index: int
    codec: str
    sample_rate: int
    channels: int
    layout: str
    duration_s: float


@dataclass(frozen=True)
class MediaInfo:
    """What ``probe`` learned about a file; immutable and cheap to pass around."""

    path: Path
    format_name: str
    size_bytes: int
    duration_s: float
    video: VideoInfo | None
    audio_streams: tuple[AudioInfo, ...]

    @property
    def audio(self) -> AudioInfo | None:
        """The first audio stream, the one the pipelines use."""
        return self.audio_streams[0] if self.audio_streams else None

    def require_video(self) -> VideoInfo:
        """Return the video stream or refuse the file (an audio-only or data file)."""
        if self.video is None:
            raise BadInput(f"{self.path} has no video stream", hint="pass a video file")
        return self.video

    def require_audio(self) -> AudioInfo:
        """Return the first audio stream or refuse the file."""
        if self.audio is None:
            raise BadInput(f"{self.path} has no audio track",
                           hint="pass a file with sound, or a separate audio file")
        return self.audio


def open_input(path: Path, *, what: str) -> av.container.InputContainer:
    """Open ``path`` with PyAV, turning every failure into a BadInput naming the file.

    Shared by probe, decode and audio loading so that all three refuse a
    missing, empty or non-media file with the same wording.
    """
    if not path.exists():
        raise BadInput(f"cannot read {what} {path}: no such file")
    if path.is_dir():
        raise BadInput(f"cannot read {what} {path}: it is a directory")
    if path.stat().st_size == 0:
        raise BadInput(f"cannot read {what} {path}: the file is empty (0 bytes)")
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise BadInput(f"cannot read {what} {path}: not a readable media file ({_reason(exc)})",
                       hint="check that the file is a complete video or audio file") from exc
    if container.format.name in NOT_MEDIA_FORMATS or not (
        container.streams.video or container.streams.audio
    ):
        container.close()
        raise BadInput(f"cannot read {what} {path}: no audio or video streams")
    return container


def probe(path: Path | str, *, what: str = "video") -> MediaInfo:
    """Read the streams of ``path``; raise ``BadInput`` if it is not usable media.

    ``what`` names the file's role in error messages ("video", "audio").
    """
    media_path = Path(path)
    container = open_input(media_path, what=what)
    try:
        with container:
            audio = tuple(_audio_info(stream) for stream in container.streams.audio)
            video = None
            if container.streams.video:
                video = _video_info(media_path, container, what=what)
            duration_s = _container_duration_s(container, video, audio)
            return MediaInfo(
                path=media_path,
                format_name=container.format.name,
                size_bytes=media_path.stat().st_size,
                duration_s=duration_s,
                video=video,
                audio_streams=audio,
            )
    except LikenessError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise BadInput(f"cannot read {what} {media_path}: corrupt media ({_reason(exc)})") \
            from exc


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(":")[0].strip() or type(exc).__name__


def _stream_duration_s(stream: av.stream.Stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return 0.0


def _audio_info(stream: av.audio.stream.AudioStream) -> AudioInfo:
    ctx = stream.codec_context
    return AudioInfo(
        index=stream.index,
        codec=ctx.name,
        sample_rate=int(ctx.sample_rate or 0),
        channels=int(ctx.channels or 0),
        layout=ctx.layout.name if ctx.layout is not None else "",
        duration_s=_stream_duration_s(stream),
    )


def _container_duration_s(
    container: av.container.InputContainer,
    video: VideoInfo | None,
    audio: tuple[AudioInfo, ...],
) -> float:
    if container.duration is not None and container.duration > 0:
        return container.duration / AV_TIME_BASE_PER_S
    candidates = [video.duration_s] if video else []
    candidates += [a.duration_s for a in audio]
    return max(candidates, default=0.0)


def _video_info(path: Path, container: av.container.InputContainer, *, what: str) -> VideoInfo:
    stream = container.streams.video[0]
    ctx = stream.codec_context
    pts_s, complete = _scan_video(path, container, stream, what=what)
    avg_rate = stream.average_rate or stream.guessed_rate or Fraction(0)
    r_rate = stream.base_rate or stream.guessed_rate or avg_rate
    start_s = float(pts_s[0]) if pts_s.size else 0.0
    duration_s = _stream_duration_s(stream)
    if pts_s.size >= 2:
        intervals = np.diff(pts_s)
        median_s = float(np.median(intervals))
        scan_duration_s = float(pts_s[-1] - pts_s[0]) + median_s
        duration_s = duration_s or scan_duration_s
        if not avg_rate and scan_duration_s > 0:
            avg_rate = Fraction(pts_s.size / scan_duration_s).limit_denominator(1001)
        is_vfr = _spread_is_variable(intervals, median_s)
    else:
        is_vfr = bool(avg_rate and r_rate) and abs(float(avg_rate / r_rate) - 1.0) > \
            RATE_MISMATCH_RATIO
    if complete and stream.frames and pts_s.size < stream.frames:
        raise BadInput(f"cannot read {what} {path}: the file is truncated "
                       f"({pts_s.size} of {stream.frames} frames present)",
                       hint="copy or download the file again")
    if complete:
        frame_count, exact = int(pts_s.size), True
    elif stream.frames:
        frame_count, exact = int(stream.frames), True
    else:
        frame_count, exact = int(round(duration_s * float(avg_rate or 0))), False
    return VideoInfo(
        index=stream.index,
        codec=ctx.name,
        width=int(ctx.width),
        height=int(ctx.height),
        pix_fmt=ctx.pix_fmt,
        rotation_deg=read_rotation(path, stream_index=stream.index),
        avg_rate=Fraction(avg_rate),
        r_rate=Fraction(r_rate),
        is_vfr=is_vfr,
        frame_count=frame_count,
        frame_count_exact=exact,
        start_s=start_s,
        duration_s=duration_s,
    )


def _spread_is_variable(intervals: np.ndarray, median_s: float) -> bool:
    if median_s <= 0:
        return True
    # One dropped frame is enough: a CFR encode of such a file would drift.
    # Millisecond time bases (MKV, WebM) jitter by ~3 %, far below the ratio.
    deviation = float(np.max(np.abs(intervals - median_s)))
    return deviation / median_s > VFR_DEVIATION_RATIO


def _scan_video(
    path: Path,
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    *,
    what: str,
) -> tuple[np.ndarray, bool]:
    """Collect the sorted presentation times (s) of video packets; decode the first frame.

    Demuxing without decoding is cheap, and the decode of the first frame
    catches files whose header parses but whose data does not.
    """
    time_base = stream.time_base or Fraction(1, AV_TIME_BASE_PER_S)
    pts: list[int] = []
    decoded = False
    complete = True
    for packet in container.demux(stream):
        if packet.pts is None:
            if packet.size == 0:
                continue
        else:
            pts.append(packet.pts)
        if not decoded:
            try:
                decoded = bool(packet.decode()) or decoded
            except av.error.FFmpegError as exc:
                raise BadInput(f"cannot read {what} {path}: the first video frame does not "
                               f"decode ({_reason(exc)})") from exc
        if len(pts) >= MAX_SCAN_PACKETS:
            complete = False
            break
    if not decoded:
        try:
            decoded = bool(stream.codec_context.decode(None))
        except av.error.FFmpegError:
            decoded = False
    if not decoded:
        raise BadInput(f"cannot read {what} {path}: no decodable video frame",
                       hint="the file may be truncated or corrupt")
    return np.sort(np.asarray(pts, dtype=np.float64)) * float(time_base), complete


def read_rotation(path: Path, *, stream_index: int) -> int:
    """Counter-clockwise rotation (0/90/180/270) stored in the stream's display matrix.

    Positive means: rotate the stored picture this far counter-clockwise to
    show it upright (the convention of ffprobe and PyAV's ``VideoFrame.rotation``).
    """
    if ffprobe_path() is not None:
        raw = run_ffprobe(
            ["-select_streams", str(stream_index), "-show_entries",
             "stream_side_data=rotation:stream_tags=rotate", "-of", "json", str(path)],
            what=f"reading the rotation of {path}",
        )
        degrees = _rotation_from_ffprobe_json(raw)
    else:
        degrees = _rotation_from_ffmpeg_banner(path)
    return int(round(degrees / 90.0)) % 4 * 90


def _rotation_from_ffprobe_json(raw: bytes) -> float:
    streams = json.loads(raw or b"{}").get("streams") or [{}]
    for side_data in streams[0].get("side_data_list", []):
        if "rotation" in side_data:
            return float(side_data["rotation"])
    rotate_tag = streams[0].get("tags", {}).get("rotate")
    # An old-style tag is a clockwise angle; our convention is counter-clockwise.
    return -float(rotate_tag) if rotate_tag else 0.0


def _rotation_from_ffmpeg_banner(path: Path) -> float:
    """Fallback for ffmpeg builds without ffprobe: parse ``ffmpeg -i``'s stream dump."""
    completed = subprocess.run(
        [str(ffmpeg_path()), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True, check=False,
    )
    match = _ROTATION_IN_STDERR.search(completed.stderr.decode("utf-8", "replace"))
    return float(match.group(1)) if match else 0.0
