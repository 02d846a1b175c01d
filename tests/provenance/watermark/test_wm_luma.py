"""The stamp path marks a picture's Y plane (`embed_luma`): the encoded file carries the
same mark, at the same strength, as when the picture is marked in RGB (`embed_frame`).
Checked for v3 (published) and v1 (whose stamped outputs must still verify)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from likeness.errors import BadInput
from media.decode import iter_frames
from media.encode import VideoWriter
from media.yuv import Yuv420
from provenance.watermark import payload
from provenance.watermark.video import ALGORITHM as PUBLISHED_ALGORITHM
from provenance.watermark.video import VideoWatermarker
from provenance.watermark.video_v1 import ALGORITHM as V1_ALGORITHM
from provenance.watermark.video_v1 import VideoWatermarkerV1
from provenance.watermark.video_v3 import ALGORITHM as V3_ALGORITHM

KEY = bytes(range(32))
RENDER_ID = 0x1A2B_3C4D_5E6F_7081
FRAMES = 4


def _clip(frames: int = FRAMES) -> list[np.ndarray]:
    """Textured 640x360 frames (smooth shapes plus grain), as a camera gives them."""
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:360, 0:640]
    base = 110 + 50 * np.sin(x / 37.0) * np.cos(y / 23.0)
    return [np.clip(base[..., None] + rng.normal(0, 6, (360, 640, 3)) + [10, 0, -10], 0, 255)
            .astype(np.uint8) for _ in range(frames)]


def _i420(rgb: np.ndarray) -> Yuv420:
    return Yuv420(av.VideoFrame.from_ndarray(rgb, format="rgb24").to_ndarray(format="yuv420p"))


def _stamp_both(tmp_path: Path, algorithm: str, frames: int = FRAMES) -> tuple[Path, Path]:
    """The clip encoded twice: marked in RGB, and marked in its I420 luma."""
    marker = VideoWatermarker(KEY, algorithm=algorithm)
    by_rgb, by_luma = tmp_path / "rgb.mp4", tmp_path / "luma.mp4"
    with VideoWriter(by_rgb, fps=25) as rgb_writer, VideoWriter(by_luma, fps=25) as yuv_writer:
        for index, frame in enumerate(_clip(frames)):
            rgb_writer.write(marker.embed_frame(frame, RENDER_ID, index))
            picture = _i420(frame)
            yuv_writer.write(picture.with_luma(marker.embed_luma(picture.y, RENDER_ID, index)))
    return by_rgb, by_luma


def _correlation(path: Path) -> tuple[int | None, float]:
    """The decoded id and v1's evidence's normalised correlation with the codeword."""
    frames = [f.rgb for f in iter_frames(path)]
    evidence = VideoWatermarkerV1(KEY).soft_bits(frames)
    signs = payload.encode(RENDER_ID).astype(np.float64) * 2.0 - 1.0
    found = VideoWatermarkerV1(KEY).detect(iter(frames)).render_id
    return found, float(evidence @ signs / np.linalg.norm(evidence) / np.sqrt(signs.size))


def test_luma_mark_is_the_rgb_mark_in_the_encoded_file(tmp_path: Path) -> None:
    by_rgb, by_luma = _stamp_both(tmp_path, V1_ALGORITHM)
    rgb_id, rgb_corr = _correlation(by_rgb)
    luma_id, luma_corr = _correlation(by_luma)
    assert rgb_id == luma_id == RENDER_ID
    assert rgb_corr > 0.9 and abs(luma_corr - rgb_corr) < 0.05 * rgb_corr


def test_v1_stamped_output_still_verifies(tmp_path: Path) -> None:
    """A file the stamp path marked with v1 (as publish did before v3) is read by the
    front door, which names v1."""
    _, by_luma = _stamp_both(tmp_path, V1_ALGORITHM)
    found = VideoWatermarker(KEY).detect(f.rgb for f in iter_frames(by_luma))
    assert found.render_id == RENDER_ID and found.algorithm == V1_ALGORITHM


def test_published_v3_luma_mark_decodes_like_the_rgb_mark(tmp_path: Path) -> None:
    assert PUBLISHED_ALGORITHM == V3_ALGORITHM
    by_rgb, by_luma = _stamp_both(tmp_path, V3_ALGORITHM, frames=8)
    detector = VideoWatermarker(KEY)
    rgb = detector.detect(f.rgb for f in iter_frames(by_rgb))
    luma = detector.detect(f.rgb for f in iter_frames(by_luma))
    assert rgb.render_id == luma.render_id == RENDER_ID
    assert rgb.algorithm == luma.algorithm == V3_ALGORITHM
    assert luma.margin == pytest.approx(rgb.margin, rel=0.15)


@pytest.mark.parametrize("algorithm", [V1_ALGORITHM, V3_ALGORITHM])
def test_luma_delta_is_the_rgb_delta_in_limited_range(algorithm: str) -> None:
    """Both add d to R, G and B: d * 219/255 on the Y plane, and chroma stays."""
    frame = _clip()[0]
    picture = _i420(frame)
    marker = VideoWatermarker(KEY, algorithm=algorithm)
    rgb_delta = _i420(marker.embed_frame(frame, RENDER_ID)).y.astype(float) - picture.y
    luma_delta = marker.embed_luma(picture.y, RENDER_ID).astype(float) - picture.y
    assert np.corrcoef(rgb_delta.ravel(), luma_delta.ravel())[0, 1] > 0.9
    assert luma_delta.std() == pytest.approx(rgb_delta.std(), rel=0.05)
    if algorithm == V1_ALGORITHM:
        assert luma_delta.std() == pytest.approx(2.0 * 219 / 255, rel=0.05)
    else:  # at least the mid-grey level, more on the darker half of the picture
        assert 0.76 * 1.2 * 219 / 255 * 0.95 < luma_delta.std() < 2.0


def test_luma_plane_must_be_one_8_bit_plane() -> None:
    for algorithm in (V1_ALGORITHM, V3_ALGORITHM):
        with pytest.raises(BadInput):
            VideoWatermarker(KEY, algorithm=algorithm).embed_luma(
                np.zeros((360, 640, 3), np.uint8), RENDER_ID)
        with pytest.raises(BadInput):
            VideoWatermarker(KEY, algorithm=algorithm).embed_luma(
                np.zeros((60, 100), np.uint8), RENDER_ID)
