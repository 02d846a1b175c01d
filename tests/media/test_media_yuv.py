"""I420 pictures: planes that are views of one buffer, decoded without RGB, rotated like
the RGB frames, and encoded as they are."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from likeness.errors import InternalError
from media.decode import iter_frames, iter_lazy_frames
from media.encode import VideoWriter
from media.yuv import Yuv420
from tests.media.conftest import run_ffmpeg_cli


def _picture(height: int = 48, width: int = 64, seed: int = 0) -> Yuv420:
    rng = np.random.default_rng(seed)
    return Yuv420(rng.integers(16, 236, size=(height * 3 // 2, width), dtype=np.uint8))


@pytest.mark.parametrize(("height", "width"), [(48, 64), (46, 66)])  # odd chroma sizes too
def test_planes_are_views_of_the_one_buffer(height: int, width: int) -> None:
    picture = _picture(height, width)
    assert (picture.width, picture.height) == (width, height)
    chroma = (height // 2, width // 2)
    assert picture.y.shape == (height, width) and picture.u.shape == picture.v.shape == chroma
    picture.v[0, 0] = 7
    assert picture.i420.reshape(-1)[height * width + chroma[0] * chroma[1]] == 7
    again = Yuv420.from_planes(picture.y, picture.u, picture.v)
    assert np.array_equal(again.i420, picture.i420)
    brighter = picture.with_luma(np.full((height, width), 200, np.uint8))
    assert np.array_equal(brighter.u, picture.u) and int(brighter.y.min()) == 200
    assert int(picture.y.min()) < 200  # the original is left alone


@pytest.mark.parametrize("shape", [(71, 64), (72, 63), (70, 64)])
def test_buffers_that_are_not_i420_are_refused(shape: tuple[int, int]) -> None:
    with pytest.raises(InternalError):
        Yuv420(np.zeros(shape, np.uint8))


def test_rotation_turns_every_plane() -> None:
    picture = _picture()
    turned = picture.rotated(1)
    assert (turned.width, turned.height) == (48, 64)
    assert np.array_equal(turned.y, np.rot90(picture.y))
    assert np.array_equal(turned.u, np.rot90(picture.u))
    assert np.array_equal(turned.v, np.rot90(picture.v))
    assert picture.rotated(4) is picture


def test_decoded_planes_are_the_stream_s_own(cfr_clip: Path) -> None:
    """A yuv420p source is read as it is stored: the planes PyAV holds, no conversion."""
    lazy = next(iter_lazy_frames(cfr_clip, cfr_fps=25))
    with av.open(str(cfr_clip)) as container:
        stored = next(container.decode(video=0)).to_ndarray(format="yuv420p")
    assert np.array_equal(lazy.yuv420().i420, stored)


@pytest.mark.parametrize("degrees", [90, 270])
def test_rotated_source_is_upright_in_yuv(degrees: int, rotated_clips: dict[int, Path]) -> None:
    """The red marker sits where the RGB decoder (checked against ffmpeg) puts it."""
    picture = next(iter_lazy_frames(rotated_clips[degrees], cfr_fps=25)).yuv420()
    rgb = next(iter_frames(rotated_clips[degrees])).rgb
    assert (picture.width, picture.height) == (rgb.shape[1], rgb.shape[0])
    red = np.argwhere(rgb[..., 0] > 128).mean(axis=0)
    high_cr = np.argwhere(picture.v > 160).mean(axis=0) * 2 + 0.5  # red: high Cr
    assert np.abs(red - high_cr).max() <= 3


def test_writer_encodes_pictures_without_rgb(cfr_clip: Path, tmp_path: Path) -> None:
    pictures = [lazy.yuv420() for lazy in islice(iter_lazy_frames(cfr_clip, cfr_fps=25), 10)]
    out = tmp_path / "yuv.mp4"
    with VideoWriter(out, fps=25) as writer:
        for picture in pictures:
            writer.write(picture)
    with av.open(str(out)) as container:
        decoded = [f.to_ndarray(format="yuv420p") for f in container.decode(video=0)]
    assert len(decoded) == 10
    error = np.abs(decoded[5].astype(int) - pictures[5].i420.astype(int))
    assert float(error.mean()) < 2.0


def test_writer_refuses_a_picture_of_another_size(tmp_path: Path) -> None:
    with pytest.raises(InternalError, match="earlier frames"), \
            VideoWriter(tmp_path / "x.mp4", fps=25) as writer:
        writer.write(_picture(48, 64))
        writer.write(_picture(48, 80))
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize(("pix_fmt", "decoded"), [("yuv420p", "yuv420p"),
                                                 ("yuvj420p", "yuvj420p"), ("rgb24", "gbrp")])
def test_grey_thumbnails_match_swscale_whatever_the_range(
        media_dir: Path, pix_fmt: str, decoded: str) -> None:
    """`LazyFrame.grey` scales the luma plane itself (limited range expanded as swscale
    does, full range as is); other formats take swscale's way: the same picture."""
    clip = media_dir / f"grey-{pix_fmt}.mkv"
    codec = ["-c:v", "libx264rgb"] if pix_fmt == "rgb24" else ["-c:v", "libx264"]
    run_ffmpeg_cli("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=0.4",
                   *codec, "-preset", "ultrafast", "-pix_fmt", pix_fmt, str(clip))
    for lazy in islice(iter_lazy_frames(clip, cfr_fps=25.0), 4):
        assert lazy.frame.format.name == decoded
        for size in ((64, 36), (160, 90)):
            ours = lazy.grey(size)
            theirs = lazy.frame.to_ndarray(format="gray", width=size[0], height=size[1],
                                           interpolation="AREA")
            assert ours.shape == (size[1], size[0]) and ours.dtype == np.uint8
            assert int(np.abs(ours.astype(int) - theirs).max()) <= 2
            assert float(np.abs(ours.astype(int) - theirs).mean()) < 0.8


def test_grey_thumbnails_are_upright(rotated_clips: dict[int, Path]) -> None:
    quarter = next(iter_lazy_frames(rotated_clips[90], cfr_fps=25.0))
    half = next(iter_lazy_frames(rotated_clips[180], cfr_fps=25.0))
    assert quarter.grey((12, 16)).shape == (16, 12)  # a 64x48 picture stood up: 48x64
    rgb = half.rgb()
    expected = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (16, 12),
                          interpolation=cv2.INTER_AREA)
    assert float(np.abs(half.grey((16, 12)).astype(int) - expected).mean()) < 4.0


def _smooth_rgb(height: int, width: int, seed: int = 3) -> np.ndarray:
    """A picture with the spatial spectrum of footage rather than of dice."""
    coarse = np.random.default_rng(seed).integers(0, 256, (height // 16, width // 16, 3),
                                                  dtype=np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def test_from_rgb_is_what_the_encoder_would_have_made() -> None:
    """publish converts the dub's RGB frames itself: luma as swscale's within one code
    value, chroma (a 2x2 mean) within one on average and a few at worst."""
    rgb = _smooth_rgb(180, 320)
    ours = Yuv420.from_rgb(rgb)
    theirs = Yuv420(av.VideoFrame.from_ndarray(rgb, format="rgb24").to_ndarray(format="yuv420p"))
    luma = np.abs(ours.y.astype(int) - theirs.y)
    chroma = np.abs(np.concatenate([ours.u - theirs.u.astype(int), ours.v - theirs.v.astype(int)]))
    assert int(luma.max()) <= 1
    assert float(chroma.mean()) < 0.5 and int(chroma.max()) <= 4
    grey = Yuv420.from_rgb(np.full((4, 6, 3), 255, np.uint8))
    assert set(grey.y.ravel()) == {235} and set(grey.u.ravel()) == set(grey.v.ravel()) == {128}


def test_from_rgb_refuses_what_i420_cannot_hold() -> None:
    with pytest.raises(InternalError, match="even-sized"):
        Yuv420.from_rgb(np.zeros((45, 64, 3), np.uint8))
    with pytest.raises(InternalError, match="even-sized"):
        Yuv420.from_rgb(np.zeros((48, 64), np.uint8))
