"""Invisible video and audio watermarks carrying a 64-bit render id.

Front door::

    from provenance.watermark import (VideoWatermarker, AudioWatermarker,
                                      WatermarkDetection, new_watermark_key)

    key = new_watermark_key()                       # per studio, keep it secret
    marked = VideoWatermarker(key).embed(frames, render_id)        # lazy iterator
    found = VideoWatermarker(key).detect(frames)    # .render_id is None if absent
    audio = AudioWatermarker(key).embed(samples, 48000, render_id)

Names are imported lazily so `import provenance.watermark` does not load OpenCV or
SciPy until a carrier is used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from provenance.watermark.audio import AudioWatermarker
    from provenance.watermark.detection import WatermarkDetection
    from provenance.watermark.keys import new_watermark_key
    from provenance.watermark.video import VideoWatermarker

__all__ = ["AudioWatermarker", "VideoWatermarker", "WatermarkDetection", "new_watermark_key"]

_HOMES = {
    "AudioWatermarker": "provenance.watermark.audio",
    "VideoWatermarker": "provenance.watermark.video",
    "WatermarkDetection": "provenance.watermark.detection",
    "new_watermark_key": "provenance.watermark.keys",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'provenance.watermark' has no attribute {name!r}")
    return getattr(import_module(home), name)
