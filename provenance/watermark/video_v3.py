"""Invisible video watermark v3: a large low-band periodic tile (``likeness-dct-ss/3``).

v3 keeps v2's idea (one keyed tile repeated over the work grid, found again by a
lattice search, a sync pattern and the eight symmetries of the square;
provenance.watermark.video_tiling) and changes what made v2 lose re-encodes:

* Lower frequencies in a larger tile. v2's 75-sample tile put most of its energy at
  periods of 6-10 px at 360p (the band is an annulus, its area grows with radius),
  which H.264 at CRF 28 removes after a downscale. v3's tile is TILE_SAMPLES = 125
  work samples (250 px at 720p) and its band is BAND_LOW..BAND_HIGH cycles per
  sample: periods of 11-50 samples, 22-100 px at 720p, about v1's band, which
  survives CRF 35 and 360p. The larger tile has ~380 in-band dimensions, so each
  bit still gets two while a fifth go to the sync pattern.
* Luma that stays luma on saturated colours. Adding one value to R, G and B clips
  on saturated areas (a red bar cannot get redder), which halves and rectifies the
  mark there; v3 divides the value by the luma weight of the channels that have room
  in that direction (at most SATURATION_GAIN_MAX), so the luma change is what the
  mask asked for.
* A detector that weights by inverse variance. The residual (luma less an
  edge-preserving blur, RESIDUAL_SIGMA wide; `normalized_residual`) is divided by its
  local energy, not its local RMS, which is the
  locally optimal weighting when texture varies: edges and text, which a re-encode
  leaves strong, no longer count as much as the flat areas where the mark is read.
* Soft-decision decoding (provenance.watermark.video_softdecode): the least reliable
  bytes become Reed-Solomon erasures, accepted only with a stated false-positive bound.

The mask (fifth round; the sixth round changed only the detector's residual, so
every v3 mark ever embedded reads with the same detector): FLAT_LEVELS x
DEFAULT_STRENGTH RMS at mid-grey, raised towards dark and bright backgrounds by Chou
and Li's luminance adaptation (at most LUMINANCE_GAIN_MAX; `luminance_gain`),
computed on a coarse grid (MASK_DECIMATION); whole frame capped at
FRAME_RMS_CAP_LEVELS (whole-frame PSNR >= 42 dB); the same value goes to R, G and B.
The third round's texture allowance (more mark where the local contrast is high) is
gone: it exceeded a JND model's threshold on edges on about 2 % of the pixels at any
strength and added almost nothing to detection, whose inverse-variance weights read
the flat areas. The tile is clipped at CREST_RMS (its rare peaks, which depend on
the render id, are what crosses a JND first). DEFAULT_STRENGTH is the largest at
which at most 0.1 % of the pixels of every benchmark clip change by more than one
JND (tests/support/jnd.py; docs/watermark.md).

False positives per check: at most DECODE_ATTEMPTS soft decodes, each below
video_softdecode.false_positive_per_attempt() (~6.6e-10).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice

import cv2
import numpy as np

from likeness.errors import BadInput
from media.yuv import RGB_LEVELS, Y_BLACK, Y_SPAN
from provenance.watermark.detection import WatermarkDetection
from provenance.watermark.video_softdecode import decode_soft
from provenance.watermark.video_tiling import (
    MAX_DETECT_FRAMES,
    MIN_FRAME_PX,
    MeanLuma,
    TiledMarker,
    aligned_candidates,
    check_frame,
    refine_offset,
    work_size,
)

ALGORITHM = "likeness-dct-ss/3"
TILE_SAMPLES = 125  # odd, and no multiple of the codecs' 8/16 px block grid
BAND_LOW = 0.02  # cycles per work sample
BAND_HIGH = 0.09
SYNC_SHARE = 0.2
FLAT_LEVELS = 0.76  # mark RMS on a mid-grey area at strength 1, 8-bit code values
DEFAULT_STRENGTH = 1.3  # the JND criterion's choice (docs/watermark.md, fifth round)
LUMINANCE_GAIN_MAX = 2.0
FRAME_RMS_CAP_LEVELS = 1.9
SATURATION_GAIN_MAX = 3.0
SATURATED_SHARE = 0.01  # more pixels than this near 0 or 255: the saturation-gain path
CREST_RMS = 2.5  # the tile is clipped at this many RMS (video_tiling.WorkPatterns)
MASK_DECIMATION = 4  # the luminance mask's grid: 4 work samples (8 px at 720p) a cell
DECODE_ATTEMPTS = 4
LATTICE_DECIMATION = 2  # the band tops out at 0.09 cycles/sample: search on a 2x grid
RESIDUAL_SIGMA = 6.0
BILATERAL_LEVELS = 4.0  # range (code values) of the residual's edge-preserving blur
_NORM_SIGMA = 8.0
_NOISE_FLOOR = 1.0  # residual energy floor (code values squared) in the weighting
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_GAIN_ONE = 64  # luma path: the mask as uint8, 64 = gain 1
_CHIP_ONE = 16  # luma path: the pattern as uint8, 16 = one code value


def luminance_gain(background: np.ndarray) -> np.ndarray:
    """Per-cell factor on FLAT_LEVELS from the background luminance (1 at mid-grey).

    Chou and Li's (1995) luminance adaptation: a change on a uniform background is
    least visible at mid-grey (3 levels) and grows towards black (20) and white (~6);
    the factor is that threshold over its mid-grey value, at most LUMINANCE_GAIN_MAX
    (darker displays and rooms than the model's make dark areas less forgiving).
    `background` is full-range luma averaged over a mask cell (8x8 px at 720p, about
    the model's 5x5 weighted mean); each cell then takes the least gain of its 3x3
    neighbourhood.
    """
    bg = background.astype(np.float32)
    dark = 17.0 * (1.0 - np.sqrt(np.clip(bg, 0.0, 127.0) / 127.0)) + 3.0
    bright = (3.0 / 128.0) * (bg - 127.0) + 3.0
    gain = np.clip(np.where(bg <= 127.0, dark, bright) / 3.0, 1.0, LUMINANCE_GAIN_MAX
                   ).astype(np.float32)
    # The least of each cell and its neighbours: the up-sampled mask blends a cell into
    # the next, and a dark cell's gain must not reach the mid-grey pixels beside it.
    return cv2.erode(gain, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)


def mask_grid(work_height: int, work_width: int) -> tuple[int, int]:
    """(height, width) of the luminance mask's grid for a work grid."""
    return max(1, work_height // MASK_DECIMATION), max(1, work_width // MASK_DECIMATION)


def capped_gain(background: np.ndarray, strength: float) -> np.ndarray:
    """`luminance_gain`, scaled down as a whole if the mark's RMS (FLAT_LEVELS x
    strength x gain over a unit-RMS carrier) would exceed FRAME_RMS_CAP_LEVELS
    (whole-frame PSNR >= 42 dB; binds only on frames that are nearly all dark)."""
    gain = luminance_gain(background)
    rms = FLAT_LEVELS * strength * float(np.sqrt(np.mean(gain * gain)))
    if rms > FRAME_RMS_CAP_LEVELS:
        gain *= np.float32(FRAME_RMS_CAP_LEVELS / rms)
    return gain


def saturation_gain(rgb_work: np.ndarray, delta: np.ndarray) -> np.ndarray | float:
    """Factor by which to scale `delta` so that, after R, G and B clip, luma still
    moves by about `delta`: 1 / (luma weight of the room the channels have that way).

    1.0 when no channel comes within reach of 0 or 255 (most natural footage).
    """
    reach = float(np.abs(delta).max())
    channels = cv2.split(rgb_work)
    top = cv2.max(cv2.max(channels[0], channels[1]), channels[2])
    bottom = cv2.min(cv2.min(channels[0], channels[1]), channels[2])
    if float(top.max()) < 255.0 - reach and float(bottom.min()) > reach:
        return 1.0
    step = np.maximum(np.abs(delta), 0.25)
    room_up = np.zeros_like(delta)
    room_down = np.zeros_like(delta)
    for weight, channel in zip(_LUMA_WEIGHTS, channels, strict=True):
        room_up += weight * np.minimum((255.0 - channel) / step, 1.0)
        room_down += weight * np.minimum(channel / step, 1.0)
    room = np.where(delta > 0, room_up, room_down)
    return 1.0 / np.maximum(room, 1.0 / SATURATION_GAIN_MAX)


def check_luma(y: np.ndarray) -> None:
    """Raise BadInput unless `y` is one uint8 plane big enough to carry a tile."""
    if not isinstance(y, np.ndarray) or y.dtype != np.uint8 or y.ndim != 2:
        raise BadInput("a luma plane must be a uint8 array of shape (H, W)")
    if y.shape[1] < MIN_FRAME_PX[0] or y.shape[0] < MIN_FRAME_PX[1]:
        raise BadInput(f"frame {y.shape[1]}x{y.shape[0]} is too small to watermark",
                       hint=f"use at least {MIN_FRAME_PX[0]}x{MIN_FRAME_PX[1]}")


def normalized_residual(gray: np.ndarray) -> np.ndarray:
    """Luma less an edge-preserving blur, divided by its local energy (inverse-variance
    weights).

    Why edge-preserving (sixth round): the residual must keep the mark (about a level)
    and lose the host. A Gaussian blur smooths a sharp edge too, so luma less a
    Gaussian keeps every edge's step response at full contrast. On a backdrop of
    periodic stripes (40 px, 25-40 levels of contrast) that response is periodic, ~20
    times the mark in the tile's own dimensions, so after x264 CRF 23 the sync search
    peaked at a wrong offset (z 3.5 against 8 on a flat backdrop) and even at the right
    alignment 3-6 % of the bits were wrong (docs/watermark.md, sixth round). A
    bilateral filter with a range of BILATERAL_LEVELS averages what differs by about
    the mark's amplitude and stops at edges of tens of levels, so those edges leave
    almost no residual.
    """
    residual = gray - cv2.bilateralFilter(gray, -1, BILATERAL_LEVELS, RESIDUAL_SIGMA)
    energy = cv2.GaussianBlur(residual * residual, (0, 0), _NORM_SIGMA)
    return (residual / (energy + _NOISE_FLOOR)).astype(np.float32)


@dataclass(frozen=True)
class CarrierPlanes:
    """FLAT_LEVELS x the tile at frame size as two uint8 planes (positive and negative
    parts in 1/_CHIP_ONE code values), so a frame's mark is uint8 arithmetic only."""

    pos: np.ndarray
    neg: np.ndarray
    peak: float  # the largest |value|, code values

    @classmethod
    def of(cls, full: np.ndarray) -> CarrierPlanes:
        """From the float carrier at frame size (code values)."""
        scaled = full * np.float32(_CHIP_ONE)
        return cls(pos=cv2.convertScaleAbs(cv2.max(scaled, 0.0)),
                   neg=cv2.convertScaleAbs(cv2.min(scaled, 0.0)),
                   peak=float(np.abs(full).max()))

    def scaled(self, gain: np.ndarray, width: int, height: int
               ) -> tuple[np.ndarray, np.ndarray]:
        """(positive, negative) rounded uint8 parts of the carrier x `gain` (the mask
        on its coarse grid, bilinearly up-sampled)."""
        gain8 = np.rint(gain * _GAIN_ONE).clip(0, 255).astype(np.uint8)
        mask = cv2.resize(gain8, (width, height), interpolation=cv2.INTER_LINEAR)
        scale = 1.0 / (_GAIN_ONE * _CHIP_ONE)
        return cv2.multiply(self.pos, mask, scale=scale), cv2.multiply(self.neg, mask,
                                                                      scale=scale)


class VideoWatermarkerV3(TiledMarker):
    """Embeds and detects a v3 mark carrying a render id in RGB frames under one studio key."""

    STREAM = "video-tile-v3"
    TILE_SAMPLES = TILE_SAMPLES
    BAND = (BAND_LOW, BAND_HIGH)
    SYNC_SHARE = SYNC_SHARE
    CREST = CREST_RMS

    def __init__(self, key: bytes, *, strength: float = DEFAULT_STRENGTH) -> None:
        """`strength` scales the masked amplitude (DEFAULT_STRENGTH is what publish uses;
        benchmarks compare others)."""
        super().__init__(key, strength=strength)
        self._strength = float(strength)
        self._planes: dict[tuple[int, int, int, bool], CarrierPlanes] = {}

    # -- embedding -----------------------------------------------------------------
    def embed_frame(self, frame: np.ndarray, render_id: int, frame_index: int = 0
                    ) -> np.ndarray:
        """A marked copy of one RGB frame. `frame_index` is accepted for API symmetry:
        every frame carries the same tile, so the mark is phase-free.

        The same value goes to R, G and B (a luma change). Frames where more than
        SATURATED_SHARE of the pixels have a channel within reach of 0 or 255 take the
        slower work-grid path with the saturation gain; others the cheap one
        `embed_luma` uses (cached carrier planes, mask on a coarse grid, uint8 passes),
        where the few clipped pixels keep part of their change."""
        check_frame(frame)
        del frame_index
        height, width = frame.shape[:2]
        planes = self._carrier(height, width, render_id, y_scale=False)
        gain = self._gain(cv2.cvtColor(self._mask_cells(frame), cv2.COLOR_RGB2GRAY)
                          .astype(np.float32))
        reach = int(np.ceil(planes.peak * float(gain.max()) + 0.5))
        inside = cv2.inRange(frame, (reach,) * 3, (255 - reach,) * 3)
        if frame.shape[0] * frame.shape[1] - cv2.countNonZero(inside) > \
                SATURATED_SHARE * frame.shape[0] * frame.shape[1]:
            return self._embed_saturated(frame, render_id, gain)
        pos, neg = planes.scaled(gain, width, height)
        out = cv2.add(np.ascontiguousarray(frame), cv2.merge([pos, pos, pos]))
        return cv2.subtract(out, cv2.merge([neg, neg, neg]), dst=out)

    def _embed_saturated(self, frame: np.ndarray, render_id: int, gain: np.ndarray
                         ) -> np.ndarray:
        """embed_frame on the work grid, with the saturation gain (see its docstring)."""
        height, width = frame.shape[:2]
        pattern = self._work_pattern(height, width, render_id)
        wh, ww = pattern.shape
        rgb = cv2.resize(frame, (ww, wh), interpolation=cv2.INTER_AREA if wh < height
                         else cv2.INTER_LINEAR).astype(np.float32)
        delta = (FLAT_LEVELS * cv2.resize(gain, (ww, wh), interpolation=cv2.INTER_LINEAR)
                 ) * pattern
        delta *= saturation_gain(rgb, delta)
        # The gain raises the channels that have room; what the whole-frame cap limits
        # is the change R, G and B get after clipping, estimated on the work grid.
        moved = np.clip(rgb + delta[:, :, None], 0.0, 255.0) - rgb
        rms = float(np.sqrt(np.mean(moved * moved)))
        if rms > FRAME_RMS_CAP_LEVELS:
            delta *= np.float32(FRAME_RMS_CAP_LEVELS / rms)
        full = cv2.resize(delta, (width, height), interpolation=cv2.INTER_LINEAR)
        pos = cv2.convertScaleAbs(cv2.max(full, 0.0))
        neg = cv2.convertScaleAbs(cv2.min(full, 0.0))
        out = cv2.add(np.ascontiguousarray(frame), cv2.merge([pos, pos, pos]))
        return cv2.subtract(out, cv2.merge([neg, neg, neg]), dst=out)

    def embed_luma(self, y: np.ndarray, render_id: int, frame_index: int = 0) -> np.ndarray:
        """A marked copy of one limited-range (H, W) uint8 Y plane (the stamp path's I420
        pictures): the mark `embed_frame` leaves, in Y's 219/255 scale.

        Why it is cheap: the carrier (the tile over the frame, at full size) is built
        once per frame size and render as two uint8 planes (positive and negative
        parts, 16 steps a code value); per frame only the luminance mask is computed,
        on a grid of 8 px cells at 720p, then uint8 passes at full size: up-sample the
        mask, multiply each plane by it (rounding), add and subtract. No saturation
        gain: nothing clips in Y, though a decoder's RGB conversion may clip saturated
        colours, which embed_frame corrects and studio footage rarely holds.
        """
        check_luma(y)
        del frame_index
        height, width = y.shape
        planes = self._carrier(height, width, render_id, y_scale=True)
        cells = self._mask_cells(y).astype(np.float32)
        gain = self._gain((cells - np.float32(Y_BLACK)) * np.float32(RGB_LEVELS / Y_SPAN))
        pos, neg = planes.scaled(gain, width, height)
        out = cv2.add(np.ascontiguousarray(y), pos)
        return cv2.subtract(out, neg, dst=out)

    @staticmethod
    def _mask_cells(picture: np.ndarray) -> np.ndarray:
        """The picture averaged onto the luminance mask's grid."""
        wh, ww = work_size(picture.shape[0], picture.shape[1])
        mh, mw = mask_grid(wh, ww)
        return cv2.resize(picture, (mw, mh), interpolation=cv2.INTER_AREA)

    def _gain(self, background: np.ndarray) -> np.ndarray:
        return capped_gain(background, self._strength)

    def _carrier(self, height: int, width: int, render_id: int, *, y_scale: bool
                 ) -> CarrierPlanes:
        """Cached carrier planes at frame size (RGB levels, or limited-range Y)."""
        cache_key = (height, width, render_id, y_scale)
        planes = self._planes.get(cache_key)
        if planes is None:
            pattern = self._work_pattern(height, width, render_id)
            full = cv2.resize(pattern, (width, height), interpolation=cv2.INTER_LINEAR)
            planes = CarrierPlanes.of(full * np.float32(
                FLAT_LEVELS * (Y_SPAN / RGB_LEVELS if y_scale else 1.0)))
            if len(self._planes) >= 4:
                self._planes.pop(next(iter(self._planes)))
            self._planes[cache_key] = planes
        return planes

    # -- detection -----------------------------------------------------------------
    def aligned_tiles(self, mean_gray: np.ndarray, *, block_period: float
                      ) -> list[tuple[float, np.ndarray]]:
        """Best-first (sync z-score, aligned tile spectrum) candidates."""
        return aligned_candidates(normalized_residual(mean_gray), self._tile,
                                  block_period=block_period, keep=DECODE_ATTEMPTS,
                                  decimate=LATTICE_DECIMATION)

    def soft_bits_of(self, aligned: np.ndarray) -> np.ndarray:
        """(144,) soft bits from an aligned tile spectrum (positive = 1)."""
        return self._tile.soft_bits(aligned)

    def detect_mean(self, evidence: MeanLuma) -> WatermarkDetection:
        """Undo the geometry of the averaged frames and decode the best candidates."""
        for _, aligned in self.aligned_tiles(evidence.mean(),
                                             block_period=evidence.block_period):
            render_id, info = decode_soft(self.soft_bits_of(refine_offset(self._tile,
                                                                          aligned)))
            if render_id is not None:
                return WatermarkDetection(render_id=render_id, confidence=info.confidence,
                                          bit_accuracy=info.bit_accuracy, margin=info.margin,
                                          frames_used=evidence.used, algorithm=ALGORITHM)
        return WatermarkDetection(render_id=None, confidence=0.0, bit_accuracy=0.0,
                                  margin=0.0, frames_used=evidence.used)

    def detect(self, frames: Iterable[np.ndarray], *, max_frames: int | None = None
               ) -> WatermarkDetection:
        """v3 only; `render_id` is None when no valid v3 payload is found."""
        evidence = MeanLuma()
        for frame in islice(frames, MAX_DETECT_FRAMES if max_frames is None else max_frames):
            evidence.add(frame)
        return self.detect_mean(evidence)
