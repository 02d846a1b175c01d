"""iter_frames(): upright RGB frames, timestamps, scaling and constant-rate resampling."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from likeness.errors import BadInput
from media.decode import iter_frames
from media.probe import probe


def _red_box(rgb: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero((rgb[..., 0] > 150) & (rgb[..., 1] < 100))
    return int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())


def test_cfr_frames_and_timestamps(cfr_clip: Path) -> None:
    frames = list(iter_frames(cfr_clip))
    assert len(frames) == 50
    assert all(f.rgb.shape == (120, 160, 3) and f.rgb.dtype == np.uint8 for f in frames)
    assert [f.index for f in frames] == list(range(50))
    np.testing.assert_allclose([f.pts_s for f in frames], np.arange(50) / 25, atol=1e-6)
    assert frames[0].rgb.flags.c_contiguous


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_rotation_matches_ffmpeg_autorotate(
    rotated_clips: dict[int, Path],
    degrees: int,
    autorotated_first_frame: Callable[[Path], np.ndarray],
) -> None:
    path = rotated_clips[degrees]
    first = next(iter_frames(path)).rgb
    reference = autorotated_first_frame(path).reshape(first.shape)
    assert np.abs(first.astype(int) - reference.astype(int)).mean() < 3.0
    assert _red_box(first) == _red_box(reference)


def test_rotate_false_keeps_stored_orientation(rotated_clips: dict[int, Path]) -> None:
    stored = next(iter_frames(rotated_clips[90], rotate=False)).rgb
    assert stored.shape == (48, 64, 3)
    top, _, left, _ = _red_box(stored)
    assert (top, left) == (0, 0)


def test_size_applies_to_the_upright_frame(rotated_clips: dict[int, Path]) -> None:
    frame = next(iter_frames(rotated_clips[90], size=(24, 32))).rgb
    assert frame.shape == (32, 24, 3)
    # Upright, the marker sits bottom-left (ffmpeg's autorotate agrees, see above).
    top, bottom, left, _ = _red_box(frame)
    assert left == 0 and bottom == 31 and top >= 20


def test_vfr_timestamps_are_exposed(vfr_clip: Path) -> None:
    pts = np.array([f.pts_s for f in iter_frames(vfr_clip)])
    assert len(pts) == 40
    gaps = np.diff(pts)
    assert gaps.max() == pytest.approx(0.44, abs=1e-3)
    assert np.median(gaps) == pytest.approx(0.04, abs=1e-3)


def test_vfr_resampled_to_constant_rate(vfr_clip: Path) -> None:
    info = probe(vfr_clip)
    source = list(iter_frames(vfr_clip, info=info))
    cfr = list(iter_frames(vfr_clip, info=info, cfr_fps=25))
    assert len(cfr) == 50
    np.testing.assert_allclose([f.pts_s for f in cfr], np.arange(50) / 25, atol=1e-9)
    # Slots 0.40-0.56 s are nearest to the frame shown at 0.36 s (source 9),
    # slots 0.60-0.76 s to the one at 0.80 s (source 10).
    for slot in range(10, 15):
        assert np.array_equal(cfr[slot].rgb, source[9].rgb)
    for slot in range(15, 21):
        assert np.array_equal(cfr[slot].rgb, source[10].rgb)
    assert np.array_equal(cfr[-1].rgb, source[-1].rgb)


def test_repeated_slots_are_independent_copies(vfr_clip: Path) -> None:
    cfr = list(iter_frames(vfr_clip, cfr_fps=25))
    cfr[10].rgb[:] = 0
    assert cfr[11].rgb.any()


def test_downsampling_to_a_lower_rate(cfr_clip: Path) -> None:
    frames = list(iter_frames(cfr_clip, cfr_fps=10))
    assert len(frames) == 20


def test_bad_inputs(
    bad_media: dict[str, Path], audio_files: dict[str, Path], cfr_clip: Path
) -> None:
    with pytest.raises(BadInput, match="cannot read video"):
        next(iter_frames(bad_media["noise"]))
    with pytest.raises(BadInput, match="no video stream"):
        next(iter_frames(audio_files["stereo"]))
    with pytest.raises(BadInput, match="invalid frame size"):
        next(iter_frames(cfr_clip, size=(0, 10)))
