"""Put a new soundtrack on an existing video without re-encoding the picture.

Used when the picture is final (or untouched, as in an audio-only dub) and
only the audio changed: the H.264 stream is copied bit for bit, the numpy
audio is piped to ffmpeg as raw float32 (no temporary WAV) and encoded to AAC.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from likeness.errors import BadInput, LikenessError
from media.audio import AudioTrack
from media.encode import AAC_LAYOUTS, DEFAULT_AUDIO_BITRATE_BPS
from media.ffmpeg import run_ffmpeg
from media.probe import probe


def mux(
    video_path: Path | str,
    *,
    audio: AudioTrack,
    out_path: Path | str,
    audio_bitrate_bps: int = DEFAULT_AUDIO_BITRATE_BPS,
    fit_audio_to_video: bool = True,
) -> Path:
    """Write ``out_path``: the video stream of ``video_path`` (copied) plus ``audio`` (AAC).

    Any audio already in ``video_path`` is dropped. With ``fit_audio_to_video``
    the audio is trimmed or padded with silence to the video's duration. On
    failure ``out_path`` does not exist afterwards.
    """
    source = Path(video_path)
    target = Path(out_path)
    if source.resolve() == target.resolve():
        raise BadInput(f"cannot mux {source} onto itself: choose another output path")
    if not target.parent.is_dir():
        raise BadInput(f"cannot write {target}: folder {target.parent} does not exist")
    if audio.channels not in AAC_LAYOUTS:
        raise BadInput(f"cannot encode {audio.channels}-channel audio",
                       hint="use mono, stereo or 5.1 audio")
    video = probe(source).require_video()
    samples = audio.samples
    if fit_audio_to_video:
        wanted = int(round(video.duration_s * audio.sample_rate))
        samples = samples[:wanted]
        if samples.shape[0] < wanted:
            padding = np.zeros((wanted - samples.shape[0], audio.channels), dtype=np.float32)
            samples = np.concatenate([samples, padding], axis=0)
    pcm = np.ascontiguousarray(np.clip(samples, -1.0, 1.0), dtype=np.float32)
    try:
        run_ffmpeg(
            ["-y", "-i", str(source),
             "-f", "f32le", "-ar", str(audio.sample_rate), "-ac", str(audio.channels),
             "-i", "pipe:0",
             "-map", f"0:{video.index}", "-map", "1:a:0",
             "-c:v", "copy", "-c:a", "aac", "-b:a", str(audio_bitrate_bps),
             "-movflags", "+faststart", "-f", "mp4", str(target)],
            what=f"muxing audio into {target}",
            stdin_bytes=pcm.tobytes(),
        )
    except LikenessError:
        target.unlink(missing_ok=True)
        raise
    return target
