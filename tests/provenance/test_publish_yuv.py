"""publish's frame loop on I420 pictures (a stamp): label, then watermark, one copy."""

from __future__ import annotations

import numpy as np

from media.yuv import Yuv420
from provenance.label import LabelBurner, LabelSpec
from provenance.publish import mark_frames
from provenance.watermark.video import VideoWatermarker

KEY = b"k" * 32
RENDER_ID = 0x1234_5678_9ABC_DEF0
SIZE = (320, 180)


def _pictures(count: int) -> list[Yuv420]:
    rng = np.random.default_rng(5)
    return [Yuv420(rng.integers(16, 236, size=(SIZE[1] * 3 // 2, SIZE[0]), dtype=np.uint8))
            for _ in range(count)]


def test_labelled_pictures_are_marked_as_before_and_the_sources_left_alone() -> None:
    """The watermark goes into the label's own copy (no second picture a frame): what
    comes out is the labelled picture with its luma marked, whatever the path."""
    spec = LabelSpec("AI-generated · Test")
    marker = VideoWatermarker(KEY)
    sources = _pictures(3)
    kept = [p.copy() for p in sources]
    out = list(mark_frames(iter(sources), label=spec, watermarker=marker, render_id=RENDER_ID))
    burner = LabelBurner(spec, width=SIZE[0], height=SIZE[1])
    for index, (picture, source, original) in enumerate(zip(out, sources, kept, strict=True)):
        assert isinstance(picture, Yuv420) and picture is not source
        assert np.array_equal(source.i420, original.i420)  # the render's picture untouched
        labelled = burner.burn_yuv(original)
        expected = labelled.with_luma(marker.embed_luma(labelled.y, RENDER_ID, index))
        assert np.array_equal(picture.i420, expected.i420)


def test_unlabelled_pictures_are_copied_before_marking() -> None:
    marker = VideoWatermarker(KEY)
    sources = _pictures(2)
    kept = [p.copy() for p in sources]
    out = list(mark_frames(iter(sources), label=None, watermarker=marker, render_id=RENDER_ID))
    for index, (picture, source, original) in enumerate(zip(out, sources, kept, strict=True)):
        assert isinstance(picture, Yuv420) and picture is not source
        assert np.array_equal(source.i420, original.i420)
        assert np.array_equal(picture.u, original.u) and np.array_equal(picture.v, original.v)
        assert np.array_equal(picture.y, marker.embed_luma(original.y, RENDER_ID, index))


def test_rgb_frames_are_marked_in_their_planes_and_odd_ones_in_rgb() -> None:
    """The dub's RGB frames leave as I420 (labelled and marked as a stamp's picture
    would be); an odd-sized frame, which I420 cannot hold, stays RGB."""
    spec = LabelSpec("AI-generated · Test")
    marker = VideoWatermarker(KEY)
    rng = np.random.default_rng(9)
    frames = [rng.integers(16, 236, size=(SIZE[1], SIZE[0], 3), dtype=np.uint8)
              for _ in range(2)]
    kept = [f.copy() for f in frames]
    spent: dict[str, float] = {}
    out = list(mark_frames(iter(frames), label=spec, watermarker=marker, render_id=RENDER_ID,
                           spent=spent))
    burner = LabelBurner(spec, width=SIZE[0], height=SIZE[1])
    for index, (picture, frame, original) in enumerate(zip(out, frames, kept, strict=True)):
        assert isinstance(picture, Yuv420)
        assert np.array_equal(frame, original)
        labelled = burner.burn_yuv(Yuv420.from_rgb(original))
        assert np.array_equal(picture.i420, labelled.with_luma(
            marker.embed_luma(labelled.y, RENDER_ID, index)).i420)
    assert {"to_i420", "label", "watermark_video", "frames_in"} <= set(spent)
    odd = rng.integers(16, 236, size=(181, 321, 3), dtype=np.uint8)
    (marked,) = mark_frames(iter([odd]), label=None, watermarker=marker, render_id=RENDER_ID)
    assert isinstance(marked, np.ndarray)
    assert np.array_equal(marked, marker.embed_frame(odd, RENDER_ID, 0))
