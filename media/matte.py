"""A performer lifted off their own reel and put over another background, without a
segmentation model.

Two cues, each honest about what it can and cannot see:

1. **Where the person is**, from the face track: a feathered head-and-shoulders region
   grown from the face box (an ellipse over the head and hair, a trapezoid widening from
   the chin to the shoulders and down to the frame's bottom edge). The face itself is
   always kept; the region also bounds where the key below may keep anything, so noise far
   from the performer never shows.
2. **What the reel's background looks like**: a *plate*, the per-pixel median of frames
   sampled over the reel with each frame's head-and-shoulders region left out. Pixels the
   performer covered in every sample were never seen; they are filled in from the
   surrounding background (OpenCV inpainting), which is right for the plain walls and
   studio backdrops avatar reels are shot against. A pixel of a frame that differs from
   the plate by more than the codec's noise is the performer (a difference key).

Its limits (docs/avatar.md says the same): a background that itself moves (people walking,
foliage, a screen) or changes its light leaks through the key; clothing of the same
colour as the wall behind it is lost outside the face region; hair strands are feathered,
not pulled; hands raised far outside the head-and-shoulders region are cut; and whatever
of the performer lies outside that region in more than half the samples (a wide costume,
a chair) is taken for background by the median, so the old background shows faintly
beside it. A reel shot in front of a plain wall, with the performer moving a little, keys
cleanly.

Everything is computed on copies `MATTE_WIDTH_PX` wide and the matte is scaled back up and
feathered: a few milliseconds per 720p frame.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from likeness.errors import BadInput

MATTE_WIDTH_PX = 320
PLATE_SAMPLES = 24  # reel frames the plate is the median of
MIN_BACKGROUND_SAMPLES = 3  # a pixel seen fewer times than this is inpainted
INPAINT_RADIUS_PX = 5  # at matte scale
KEY_LOW = 14.0  # largest channel difference (0-255) still taken for codec noise
KEY_HIGH = 40.0  # from here on the pixel is the performer
ZONE_SCALE = 1.7  # the key may keep pixels within this much of the head-and-shoulders region
PLATE_MARGIN = 1.4  # the plate leaves out this much more than the head-and-shoulders region
CORE_SCALE = 0.75  # this much of the head ellipse is always kept
FEATHER_FRACTION = 0.012  # Gaussian sigma of the matte's edge, of the frame height
# head-and-shoulders geometry, in face-box widths (w) and heights (h) from the box
HEAD_CENTRE_DY = 0.2  # the head's centre sits this far above the box's centre (hair)
HEAD_AXES = (0.85, 0.95)  # semi-axes of the head ellipse
NECK_HALF_WIDTH = 0.45
SHOULDER_DROP = 1.1  # shoulders are this far below the chin
SHOULDER_HALF_WIDTH = 1.6


@dataclass(frozen=True)
class Box:
    """A face box in frame pixels (left, top, right, bottom)."""

    left: float
    top: float
    right: float
    bottom: float

    def scaled(self, factor: float) -> Box:
        return Box(self.left * factor, self.top * factor, self.right * factor,
                   self.bottom * factor)


def person_region(size: tuple[int, int], box: Box, *, scale: float = 1.0,
                  torso: bool = True) -> np.ndarray:
    """A 0/1 float32 mask (height, width) of the head and shoulders over ``box``, grown by
    ``scale`` about the face's centre; ``torso=False`` gives the head ellipse alone."""
    width, height = size
    mask = np.zeros((height, width), dtype=np.float32)
    w, h = box.right - box.left, box.bottom - box.top
    cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    centre = (round(cx), round(cy - HEAD_CENTRE_DY * h))
    axes = (max(1, round(HEAD_AXES[0] * w * scale)), max(1, round(HEAD_AXES[1] * h * scale)))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1.0, thickness=-1)
    if torso:
        chin = box.bottom - 0.1 * h
        shoulders = box.bottom + SHOULDER_DROP * h * scale
        neck, wide = NECK_HALF_WIDTH * w * scale, SHOULDER_HALF_WIDTH * w * scale
        body = np.array([(cx - neck, chin), (cx + neck, chin), (cx + wide, shoulders),
                         (cx + wide, height), (cx - wide, height), (cx - wide, shoulders)])
        cv2.fillPoly(mask, [np.round(body).astype(np.int32)], 1.0)
    return mask


@dataclass(frozen=True)
class Plate:
    """The reel's background as the matte sees it, at matte scale."""

    image: np.ndarray  # (h, w, 3) float32, 0-255
    seen: np.ndarray  # (h, w) bool: the background showed here in enough samples
    frame_size: tuple[int, int]  # (width, height) of the reel

    @property
    def seen_share(self) -> float:
        """How much of the background the samples showed (the rest is inpainted)."""
        return float(self.seen.mean())

    @property
    def scale(self) -> float:
        return self.image.shape[1] / self.frame_size[0]


def matte_size(frame_size: tuple[int, int]) -> tuple[int, int]:
    width, height = frame_size
    small_w = min(width, MATTE_WIDTH_PX)
    return small_w, max(2, round(height * small_w / width))


def estimate_plate(samples: Sequence[tuple[np.ndarray, Box | None]]) -> Plate:
    """The median background of ``samples`` (reel frames with their face box, or None
    where no face was found), leaving each frame's head-and-shoulders region out."""
    if not samples:
        raise BadInput("a background plate needs frames of the reel")
    height, width = samples[0][0].shape[:2]
    small = matte_size((width, height))
    factor = small[0] / width
    stack = np.full((len(samples), small[1], small[0], 3), np.nan, dtype=np.float32)
    for i, (frame, box) in enumerate(samples):
        if frame.shape[:2] != (height, width):
            raise BadInput("the reel's frames change size")
        pixels = cv2.resize(frame, small, interpolation=cv2.INTER_AREA).astype(np.float32)
        if box is not None:
            covered = person_region(small, box.scaled(factor), scale=PLATE_MARGIN) > 0
            pixels[covered] = np.nan
        stack[i] = pixels
    seen = np.count_nonzero(~np.isnan(stack[..., 0]), axis=0) >= MIN_BACKGROUND_SAMPLES
    with warnings.catch_warnings():  # pixels never seen warn; they are inpainted below
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(stack, axis=0)
    median = np.nan_to_num(median, nan=0.0)
    if not seen.all():
        if not seen.any():
            raise BadInput("the reel never shows its background around the performer",
                           hint="a reel for a new background needs the performer in front of "
                                "a visible wall or backdrop")
        hole = (~seen).astype(np.uint8)
        median = cv2.inpaint(np.clip(median, 0, 255).astype(np.uint8), hole,
                             INPAINT_RADIUS_PX, cv2.INPAINT_TELEA).astype(np.float32)
    return Plate(image=median, seen=seen, frame_size=(width, height))


def matte(frame: np.ndarray, plate: Plate, box: Box | None) -> np.ndarray:
    """The performer's opacity (height, width) float32 0..1 in ``frame``."""
    height, width = frame.shape[:2]
    if (width, height) != plate.frame_size:
        raise BadInput("the frame and the background plate differ in size")
    small = plate.image.shape[1], plate.image.shape[0]
    pixels = cv2.resize(frame, small, interpolation=cv2.INTER_AREA).astype(np.float32)
    difference = cv2.GaussianBlur(np.abs(pixels - plate.image).max(axis=2), (3, 3), 0)
    key = np.clip((difference - KEY_LOW) / (KEY_HIGH - KEY_LOW), 0.0, 1.0)
    key = cv2.morphologyEx(key, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))  # lone specks
    if box is not None:
        scaled = box.scaled(plate.scale)
        zone = cv2.GaussianBlur(person_region(small, scaled, scale=ZONE_SCALE), (0, 0), 2.0)
        core = person_region(small, scaled, scale=CORE_SCALE, torso=False)
        key = np.maximum(key * zone, core)
    key = cv2.morphologyEx(key, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))  # pinholes
    alpha = cv2.resize(key, (width, height), interpolation=cv2.INTER_LINEAR)
    sigma = max(1.0, FEATHER_FRACTION * height)
    return np.clip(cv2.GaussianBlur(alpha, (0, 0), sigma), 0.0, 1.0)


def composite(frame: np.ndarray, backdrop: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``frame`` over ``backdrop`` with opacity ``alpha`` (uint8 RGB out)."""
    if backdrop.shape != frame.shape:
        raise BadInput("the backdrop and the frame differ in size")
    a = alpha[:, :, None]
    mixed = frame.astype(np.float32) * a + backdrop.astype(np.float32) * (1.0 - a)
    return np.ascontiguousarray(np.clip(mixed + 0.5, 0, 255).astype(np.uint8))


def composite_frames(frames: Iterable[np.ndarray], boxes: Iterable[Box | None],
                     backdrops: Iterator[np.ndarray], plate: Plate) -> Iterator[np.ndarray]:
    """Each frame over the next backdrop; a frame whose face was not followed keeps the
    last box seen (a face lost for a frame has not left the picture)."""
    last: Box | None = None
    for frame, box in zip(frames, boxes, strict=True):
        last = box if box is not None else last
        yield composite(frame, next(backdrops), matte(frame, plate, last))

