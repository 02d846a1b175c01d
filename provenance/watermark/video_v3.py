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
* A detector that weights by inverse variance. The residual (luma less a wide blur,
  RESIDUAL_SIGMA) is divided by its local energy, not its local RMS, which is the
  locally optimal weighting when texture varies: edges and text, which a re-encode
  leaves strong, no longer count as much as the flat areas where the mark is read.
* Soft-decision decoding (provenance.watermark.video_softdecode): the least reliable
  bytes become Reed-Solomon erasures, accepted only with a stated false-positive bound.

The mask (JND) is v2's: FLAT_LEVELS RMS on flat areas (flat 16x16 blocks >= 48 dB
PSNR), growing with local contrast up to MAX_LEVELS, whole frame capped at
FRAME_RMS_CAP_LEVELS (whole-frame PSNR >= 42 dB); the same value goes to R, G and B.

False positives per check: at most DECODE_ATTEMPTS soft decodes, each below
video_softdecode.false_positive_per_attempt() (~6e-10).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

import cv2
import numpy as np

from provenance.watermark.detection import WatermarkDetection
from provenance.watermark.video_softdecode import decode_soft
from provenance.watermark.video_tiling import (
    MAX_DETECT_FRAMES,
    MeanLuma,
    TiledMarker,
    aligned_candidates,
    check_frame,
    refine_offset,
)

ALGORITHM = "likeness-dct-ss/3"
TILE_SAMPLES = 125  # odd, and no multiple of the codecs' 8/16 px block grid
BAND_LOW = 0.02  # cycles per work sample
BAND_HIGH = 0.09
SYNC_SHARE = 0.2
FLAT_LEVELS = 0.76  # mark RMS on a flat area, 8-bit code values
TEXTURE_GAIN = 0.5  # extra RMS per level of local standard deviation above the floor
TEXTURE_FLOOR_LEVELS = 1.0  # sensor noise below this does not count as texture
MAX_LEVELS = 6.0
FRAME_RMS_CAP_LEVELS = 1.9
SATURATION_GAIN_MAX = 3.0
DECODE_ATTEMPTS = 4
LATTICE_DECIMATION = 2  # the band tops out at 0.09 cycles/sample: search on a 2x grid
RESIDUAL_SIGMA = 6.0
_NORM_SIGMA = 8.0
_NOISE_FLOOR = 1.0  # residual energy floor (code values squared) in the weighting
_MASK_WINDOW = 7
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def texture_levels(gray_work: np.ndarray) -> np.ndarray:
    """Per-sample mark RMS allowed on top of FLAT_LEVELS, from local contrast.

    Texture masks a noise-like pattern roughly in proportion to the local contrast
    (the texture term of JND models such as Chou and Li's).
    """
    window = (_MASK_WINDOW, _MASK_WINDOW)
    mean = cv2.boxFilter(gray_work, -1, window)
    mean_sq = cv2.boxFilter(gray_work * gray_work, -1, window)
    local_sd = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
    return np.minimum(TEXTURE_GAIN * np.maximum(local_sd - TEXTURE_FLOOR_LEVELS, 0.0),
                      MAX_LEVELS - FLAT_LEVELS)


def capped_delta(texture: np.ndarray, carrier: np.ndarray) -> np.ndarray:
    """(FLAT_LEVELS + a * texture) * carrier with the largest a <= 1 whose RMS stays
    within FRAME_RMS_CAP_LEVELS (whole-frame PSNR >= 42 dB): the cap takes from the
    texture allowance first, so flat areas keep their (invisible) amplitude."""
    c2 = carrier * carrier
    flat = FLAT_LEVELS * FLAT_LEVELS * float(np.mean(c2))
    cross = 2.0 * FLAT_LEVELS * float(np.mean(texture * c2))
    tex = float(np.mean(texture * texture * c2))
    budget = FRAME_RMS_CAP_LEVELS**2
    if flat >= budget:
        return (FLAT_LEVELS * np.sqrt(budget / flat)) * carrier
    if flat + cross + tex <= budget:
        share = 1.0
    else:
        share = (-cross + np.sqrt(cross * cross + 4.0 * tex * (budget - flat))) / (2.0 * tex)
    return (FLAT_LEVELS + np.float32(share) * texture) * carrier


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


def normalized_residual(gray: np.ndarray) -> np.ndarray:
    """Luma less a wide blur, divided by its local energy (inverse-variance weights)."""
    residual = gray - cv2.GaussianBlur(gray, (0, 0), RESIDUAL_SIGMA)
    energy = cv2.GaussianBlur(residual * residual, (0, 0), _NORM_SIGMA)
    return (residual / (energy + _NOISE_FLOOR)).astype(np.float32)


class VideoWatermarkerV3(TiledMarker):
    """Embeds and detects a v3 mark carrying a render id in RGB frames under one studio key."""

    STREAM = "video-tile-v3"
    TILE_SAMPLES = TILE_SAMPLES
    BAND = (BAND_LOW, BAND_HIGH)
    SYNC_SHARE = SYNC_SHARE

    # -- embedding -----------------------------------------------------------------
    def embed_frame(self, frame: np.ndarray, render_id: int, frame_index: int = 0
                    ) -> np.ndarray:
        """A marked copy of one RGB frame. `frame_index` is accepted for API symmetry:
        every frame carries the same tile, so the mark is phase-free."""
        check_frame(frame)
        del frame_index
        height, width = frame.shape[:2]
        pattern = self._work_pattern(height, width, render_id)
        wh, ww = pattern.shape
        shrink = wh < height
        rgb = cv2.resize(frame, (ww, wh),
                         interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
                         ).astype(np.float32)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        texture = texture_levels(gray)
        carrier = pattern * saturation_gain(rgb, (FLAT_LEVELS + texture) * pattern)
        delta = capped_delta(texture, carrier)
        full = cv2.resize(delta, (width, height), interpolation=cv2.INTER_LINEAR)
        # Rounded positive and negative parts as uint8: two saturating integer ops
        # instead of a float add over three channels.
        pos = cv2.convertScaleAbs(cv2.max(full, 0.0))
        neg = cv2.convertScaleAbs(cv2.min(full, 0.0))
        out = cv2.add(np.ascontiguousarray(frame), cv2.merge([pos, pos, pos]))
        return cv2.subtract(out, cv2.merge([neg, neg, neg]), dst=out)

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
