"""Invisible video watermark v2: a masked, periodic, keyed luma tile (``likeness-dct-ss/2``).

How it works, and why:

* Geometry lives on a *work grid* whose shorter side is WORK_SHORT_SIDE samples
  (360 for any frame: 2 px per sample at 720p, 1 at 360p). A resize of the whole
  frame therefore lands on the same grid, and only crops, pads and rotations move
  the mark relative to it.
* The mark is one keyed TILE_SAMPLES-square tile repeated over the frame. A third of
  the tile's chips are a fixed *sync* pattern, the rest carry the 144 codeword bits
  (keyed position and sign per chip); the chip map is band-limited to
  BAND_LOW..BAND_HIGH cycles per sample (periods of 4-17 samples), which H.264 at
  CRF 28 and a 2x downscale keep and which shows no block structure.
* Because the tile repeats, the detector needs no side information about the edit:
  the autocorrelation of the frame's noise residual peaks on the tile lattice, which
  gives scale and rotation (any crop, pad, scale or small rotation keeps it a
  square lattice); folding the residual onto one tile turns the crop offset into a
  cyclic shift, found by one FFT correlation with the sync pattern; and trying the
  eight symmetries of the square on the folded tile covers a mirror flip (and 90
  degree turns) for the price of eight 75x75 FFTs.
* Strength follows a simple JND mask: FLAT_LEVELS RMS on flat areas (flat 16x16
  blocks stay >= 48 dB PSNR), growing with local standard deviation up to
  MAX_LEVELS on texture, and the frame's total capped at FRAME_RMS_CAP_LEVELS
  (whole-frame PSNR >= 42 dB). The same value goes to R, G and B (luma only).
* Every frame carries the same tile, so detection first averages the frames on the
  work grid (the mark adds up, moving content does not) and then runs the geometry
  search once: ~1 ms per frame plus ~0.1 s per clip.

Which version publish embeds, and the detector that reads every version in one pass
over the frames, live in provenance.watermark.video.

False positives: a decode attempt on random soft bits passes Reed-Solomon and the
16-bit check with probability ~5e-10 (provenance.watermark.payload); detection makes
at most DECODE_ATTEMPTS v2 attempts per check.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

import cv2
import numpy as np

from provenance.watermark import payload
from provenance.watermark.detection import WatermarkDetection
from provenance.watermark.video_tiling import (
    MAX_DETECT_FRAMES,
    MeanLuma,
    TiledMarker,
    aligned_candidates,
    check_frame,
    work_gray,
)

ALGORITHM = "likeness-dct-ss/2"
TILE_SAMPLES = 75  # 150 px at 720p: not a multiple of the codecs' 8/16 px block grid
BAND_LOW = 0.025  # cycles per work sample
BAND_HIGH = 0.16
SYNC_SHARE = 0.2
FLAT_LEVELS = 0.85  # mark RMS on a flat area, 8-bit code values
TEXTURE_GAIN = 0.5  # extra RMS per level of local standard deviation above the floor
TEXTURE_FLOOR_LEVELS = 1.0  # sensor noise below this does not count as texture
MAX_LEVELS = 6.0
FRAME_RMS_CAP_LEVELS = 1.9
DECODE_ATTEMPTS = 4
_MASK_WINDOW = 7
_RESIDUAL_SIGMA = 3.0
_NORM_SIGMA = 8.0


def jnd_amplitude(gray_work: np.ndarray) -> np.ndarray:
    """Per-sample mark RMS in code values: faint on flat areas, stronger on texture.

    Texture masks a noise-like pattern roughly in proportion to the local contrast
    (the texture term of JND models such as Chou and Li's); the frame-wide cap keeps
    the whole-frame PSNR above 42 dB even where everything is textured.
    """
    window = (_MASK_WINDOW, _MASK_WINDOW)
    mean = cv2.boxFilter(gray_work, -1, window)
    mean_sq = cv2.boxFilter(gray_work * gray_work, -1, window)
    local_sd = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
    amplitude = np.minimum(
        FLAT_LEVELS + TEXTURE_GAIN * np.maximum(local_sd - TEXTURE_FLOOR_LEVELS, 0.0),
        MAX_LEVELS)
    rms = float(np.sqrt(np.mean(amplitude * amplitude)))
    if rms > FRAME_RMS_CAP_LEVELS:
        amplitude *= FRAME_RMS_CAP_LEVELS / rms
    return amplitude.astype(np.float32)


class VideoWatermarkerV2(TiledMarker):
    """Embeds and detects a v2 mark carrying a render id in RGB frames under one studio key."""

    STREAM = "video-tile-v2"
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
        delta = jnd_amplitude(work_gray(frame)) * pattern
        full = cv2.resize(delta, (width, height), interpolation=cv2.INTER_LINEAR)
        return cv2.add(np.ascontiguousarray(frame), cv2.merge([full, full, full]),
                       dtype=cv2.CV_8U)

    # -- detection -----------------------------------------------------------------
    def _soft_bits(self, aligned: np.ndarray) -> np.ndarray:
        """(144,) soft bits from an aligned tile's spectrum (positive = 1)."""
        return self._tile.soft_bits(aligned)

    def aligned_tiles(self, mean_gray: np.ndarray, *, block_period: float
                      ) -> list[tuple[float, np.ndarray]]:
        """Best-first (sync z-score, aligned tile spectrum) candidates."""
        return aligned_candidates(normalized_residual(mean_gray), self._tile,
                                  block_period=block_period, keep=DECODE_ATTEMPTS)

    def soft_bits(self, frames: Iterable[np.ndarray]) -> np.ndarray:
        """Diagnostics: the (144,) soft bits of the best-aligned candidate (positive = 1)."""
        evidence = MeanLuma()
        for frame in islice(frames, MAX_DETECT_FRAMES):
            evidence.add(frame)
        candidates = self.aligned_tiles(evidence.mean(), block_period=evidence.block_period)
        return self._soft_bits(candidates[0][1]) if candidates else \
            np.zeros(payload.CODEWORD_BITS)

    def detect_mean(self, evidence: MeanLuma) -> WatermarkDetection:
        """Undo the geometry of the averaged frames and decode the best candidates."""
        for _, aligned in self.aligned_tiles(evidence.mean(),
                                             block_period=evidence.block_period):
            render_id, info = payload.decode(self._soft_bits(aligned))
            if render_id is not None:
                return WatermarkDetection(render_id=render_id, confidence=info.confidence,
                                          bit_accuracy=info.bit_accuracy, margin=info.margin,
                                          frames_used=evidence.used, algorithm=ALGORITHM)
        return WatermarkDetection(render_id=None, confidence=0.0, bit_accuracy=0.0,
                                  margin=0.0, frames_used=evidence.used)

    def detect(self, frames: Iterable[np.ndarray], *, max_frames: int | None = None
               ) -> WatermarkDetection:
        """v2 only; `render_id` is None when no valid v2 payload is found."""
        evidence = MeanLuma()
        for frame in islice(frames, MAX_DETECT_FRAMES if max_frames is None else max_frames):
            evidence.add(frame)
        return self.detect_mean(evidence)


def normalized_residual(gray: np.ndarray) -> np.ndarray:
    """High-passed luma divided by its local RMS: texture and flat areas count alike."""
    residual = gray - cv2.GaussianBlur(gray, (0, 0), _RESIDUAL_SIGMA)
    energy = cv2.GaussianBlur(residual * residual, (0, 0), _NORM_SIGMA)
    return (residual / np.sqrt(energy + 0.25)).astype(np.float32)
