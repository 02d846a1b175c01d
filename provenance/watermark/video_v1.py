"""Version 1 of the video watermark (``likeness-dct-ss/1``), kept so earlier outputs verify.

Superseded by provenance.watermark.video_v3 (published since the fifth round), which
survives crops, flips and rotations and stays below one JND on flat areas; this module
still embeds (for tests and the benchmark's comparison) and detects, so files
published with it verify.

Keyed spread spectrum in block-DCT mid-band of luma.

How it works, and why:

* Everything keyed happens on a fixed working grid of 256x144 luma samples (8x8
  blocks, 32x18 of them) that the whole frame is resized to. Any resize of the full
  frame (1280x720, 640x360, ...) lands on the same grid, so detection needs no
  knowledge of the original resolution.
* Every frame carries the whole 144-bit codeword: each of the 576 blocks x 12
  mid-band DCT coefficients (u+v in 2..4) is a chip of one bit with a keyed sign,
  48 chips per bit per frame. No frame index or phase is needed, so trimming the
  start (or any cut) does not matter; detection just sums evidence over frames.
* The additive pattern depends only on (key, render id, frame size): it is built
  once, upsampled to the frame size and cached as two uint8 planes (positive and
  negative parts). Embedding a frame is then one saturating add and one saturating
  subtract (~0.4 ms at 720p), far below the cost of an H.264 encode. The same value
  is added to R, G and B, which changes luma only and leaves chroma untouched; on a
  limited-range Y plane (`embed_luma`, the stamp path's I420 pictures) that is a delta
  of 219/255 of the RGB one, so both paths leave the same mark in the encoded file.
* The pattern is low in spatial frequency at 720p (periods of ~20-80 px), so H.264
  at CRF 28 and a 2x downscale keep it; a brightness change scales coefficients but
  not their signs.
* Detection weights each block's correlation by the inverse of that block's
  mid-band energy (a locally optimal detector when texture varies across the frame),
  so flat areas, where the mark stands out, count most.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from likeness.errors import BadInput
from media.yuv import RGB_LEVELS, Y_SPAN
from provenance.watermark import payload
from provenance.watermark.detection import WatermarkDetection
from provenance.watermark.keys import balanced_assignment, keyed_rng, validate_key

ALGORITHM = "likeness-dct-ss/1"
WORK_WIDTH_PX = 256
WORK_HEIGHT_PX = 144
BLOCK_PX = 8
BLOCKS_X = WORK_WIDTH_PX // BLOCK_PX
BLOCKS_Y = WORK_HEIGHT_PX // BLOCK_PX
MIDBAND_MIN_ORDER = 2
MIDBAND_MAX_ORDER = 4
# Default RMS of the added luma pattern, in 8-bit code values; 2.0 gives PSNR ~42 dB.
DEFAULT_STRENGTH_RMS_LEVELS = 2.0
_CACHE_LIMIT = 8


def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix (rows are basis vectors)."""
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    mat = np.cos(np.pi * (2 * x + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    mat[0] /= np.sqrt(2.0)
    return mat


_DCT = _dct_matrix(BLOCK_PX)
_U, _V = np.meshgrid(np.arange(BLOCK_PX), np.arange(BLOCK_PX), indexing="ij")
_ORDER = _U + _V
_MIDBAND = (_ORDER >= MIDBAND_MIN_ORDER) & (_ORDER <= MIDBAND_MAX_ORDER)
_MIDBAND_ROWS, _MIDBAND_COLS = np.nonzero(_MIDBAND)
N_MIDBAND = int(_MIDBAND.sum())
N_CHIPS = BLOCKS_X * BLOCKS_Y * N_MIDBAND


@dataclass(frozen=True)
class _Layout:
    """Keyed chip layout: which bit each (block, coefficient) carries, and its sign."""

    bit_of_chip: np.ndarray  # (blocks, N_MIDBAND) int64 in [0, 144)
    chip_sign: np.ndarray  # (blocks, N_MIDBAND) float64 +-1


def _layout_for(key: bytes) -> _Layout:
    rng = keyed_rng(key, stream="video-dct-v1")
    owners = balanced_assignment(rng, n_slots=N_CHIPS, n_bits=payload.CODEWORD_BITS)
    signs = rng.integers(0, 2, size=N_CHIPS) * 2.0 - 1.0
    shape = (BLOCKS_X * BLOCKS_Y, N_MIDBAND)
    return _Layout(bit_of_chip=owners.reshape(shape), chip_sign=signs.reshape(shape))


def _blocks_to_image(blocks: np.ndarray) -> np.ndarray:
    """(BLOCKS_Y*BLOCKS_X, 8, 8) -> (144, 256)."""
    grid = blocks.reshape(BLOCKS_Y, BLOCKS_X, BLOCK_PX, BLOCK_PX)
    return grid.transpose(0, 2, 1, 3).reshape(WORK_HEIGHT_PX, WORK_WIDTH_PX)


def _image_to_blocks(image: np.ndarray) -> np.ndarray:
    """(144, 256) -> (BLOCKS_Y*BLOCKS_X, 8, 8)."""
    grid = image.reshape(BLOCKS_Y, BLOCK_PX, BLOCKS_X, BLOCK_PX)
    return grid.transpose(0, 2, 1, 3).reshape(-1, BLOCK_PX, BLOCK_PX)


def _check_frame(frame: np.ndarray) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 \
            or frame.shape[2] != 3:
        raise BadInput("video frames must be RGB uint8 arrays of shape (H, W, 3)")
    if frame.shape[0] < WORK_HEIGHT_PX // 2 or frame.shape[1] < WORK_WIDTH_PX // 2:
        raise BadInput(f"frame {frame.shape[1]}x{frame.shape[0]} is too small to watermark",
                       hint=f"use at least {WORK_WIDTH_PX // 2}x{WORK_HEIGHT_PX // 2}")


def _check_luma(y: np.ndarray) -> None:
    if not isinstance(y, np.ndarray) or y.dtype != np.uint8 or y.ndim != 2:
        raise BadInput("a luma plane must be a uint8 array of shape (H, W)")
    if y.shape[0] < WORK_HEIGHT_PX // 2 or y.shape[1] < WORK_WIDTH_PX // 2:
        raise BadInput(f"frame {y.shape[1]}x{y.shape[0]} is too small to watermark",
                       hint=f"use at least {WORK_WIDTH_PX // 2}x{WORK_HEIGHT_PX // 2}")


def _remember(cache: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]],
              key: tuple[int, int, int], planes: tuple[np.ndarray, np.ndarray]) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.pop(next(iter(cache)))
    cache[key] = planes


def luma_midband(frame: np.ndarray) -> np.ndarray:
    """Mid-band DCT coefficients (blocks, N_MIDBAND) of the frame's luma on the work grid."""
    return gray_midband(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))


def gray_midband(gray: np.ndarray) -> np.ndarray:
    """`luma_midband` of an already converted (H, W) uint8 luma plane."""
    small = cv2.resize(gray, (WORK_WIDTH_PX, WORK_HEIGHT_PX), interpolation=cv2.INTER_AREA)
    blocks = _image_to_blocks(small.astype(np.float64))
    coefs = _DCT @ blocks @ _DCT.T
    return coefs[:, _MIDBAND_ROWS, _MIDBAND_COLS]


class VideoWatermarkerV1:
    """Embeds and detects a render id in RGB frames under one studio key."""

    def __init__(self, key: bytes, *, strength: float = DEFAULT_STRENGTH_RMS_LEVELS) -> None:
        if not 0.0 < strength <= 16.0:
            raise BadInput(f"video watermark strength {strength} is outside (0, 16] levels")
        self._layout = _layout_for(validate_key(key))
        self._strength_rms_levels = float(strength)
        self._cache: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._luma_cache: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}

    # -- embedding -----------------------------------------------------------------
    def _work_pattern(self, render_id: int) -> np.ndarray:
        """Unit-RMS additive luma pattern on the work grid for `render_id`."""
        bit_signs = payload.encode(render_id).astype(np.float64) * 2.0 - 1.0
        coefs = np.zeros((BLOCKS_X * BLOCKS_Y, BLOCK_PX, BLOCK_PX))
        coefs[:, _MIDBAND_ROWS, _MIDBAND_COLS] = (
            self._layout.chip_sign * bit_signs[self._layout.bit_of_chip])
        spatial = _blocks_to_image(_DCT.T @ coefs @ _DCT)
        return spatial / np.sqrt(np.mean(spatial**2))

    def _frame_pattern(self, height: int, width: int, render_id: int
                       ) -> tuple[np.ndarray, np.ndarray]:
        """Cached (positive, negative) uint8 RGB planes of the pattern at frame size."""
        cache_key = (height, width, render_id)
        planes = self._cache.get(cache_key)
        if planes is None:
            pos, neg = self._split(self._full_pattern(height, width, render_id))
            planes = (cv2.merge([pos, pos, pos]), cv2.merge([neg, neg, neg]))
            _remember(self._cache, cache_key, planes)
        return planes

    def _luma_pattern(self, height: int, width: int, render_id: int
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Cached (positive, negative) uint8 planes of the pattern in limited-range Y."""
        cache_key = (height, width, render_id)
        planes = self._luma_cache.get(cache_key)
        if planes is None:
            full = self._full_pattern(height, width, render_id) * (Y_SPAN / RGB_LEVELS)
            planes = self._split(full)
            _remember(self._luma_cache, cache_key, planes)
        return planes

    def _full_pattern(self, height: int, width: int, render_id: int) -> np.ndarray:
        """The pattern at frame size, in 8-bit RGB levels at the configured strength."""
        work = self._work_pattern(render_id).astype(np.float32)
        full = cv2.resize(work, (width, height), interpolation=cv2.INTER_CUBIC)
        full *= self._strength_rms_levels / float(np.sqrt(np.mean(full**2)))
        return full

    @staticmethod
    def _split(full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        levels = np.rint(full).astype(np.int16)
        return (np.clip(levels, 0, 255).astype(np.uint8),
                np.clip(-levels, 0, 255).astype(np.uint8))

    def embed_frame(self, frame: np.ndarray, render_id: int, frame_index: int = 0
                    ) -> np.ndarray:
        """A marked copy of one RGB frame. `frame_index` is accepted for API symmetry:
        every frame carries the same full codeword, so the mark is phase-free."""
        _check_frame(frame)
        del frame_index
        pos, neg = self._frame_pattern(frame.shape[0], frame.shape[1], render_id)
        out = cv2.add(np.ascontiguousarray(frame), pos)
        return cv2.subtract(out, neg, dst=out)

    def embed_luma(self, y: np.ndarray, render_id: int, frame_index: int = 0) -> np.ndarray:
        """A marked copy of one limited-range (H, W) uint8 Y plane: the mark `embed_frame`
        leaves, without the picture's conversion to RGB and back."""
        _check_luma(y)
        del frame_index
        pos, neg = self._luma_pattern(y.shape[0], y.shape[1], render_id)
        out = cv2.add(np.ascontiguousarray(y), pos)
        return cv2.subtract(out, neg, dst=out)

    def embed(self, frames: Iterable[np.ndarray], render_id: int) -> Iterator[np.ndarray]:
        """Lazily mark a stream of frames (constant memory)."""
        payload.encode(render_id)  # validate before the first frame is pulled
        for index, frame in enumerate(frames):
            yield self.embed_frame(frame, render_id, index)

    # -- detection -----------------------------------------------------------------
    def frame_evidence(self, frame: np.ndarray) -> np.ndarray:
        """Per-bit weighted correlations (144,) from one frame; sum them over frames."""
        _check_frame(frame)
        return self.gray_evidence(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))

    def gray_evidence(self, gray: np.ndarray) -> np.ndarray:
        """`frame_evidence` of a frame's (H, W) uint8 luma (shared with the v2 detector)."""
        coefs = gray_midband(gray)
        energy = np.mean(coefs**2, axis=1, keepdims=True)
        floor = (0.5 * self._strength_rms_levels) ** 2
        weighted = coefs * self._layout.chip_sign / (energy + floor)
        return np.bincount(self._layout.bit_of_chip.reshape(-1), weights=weighted.reshape(-1),
                           minlength=payload.CODEWORD_BITS)

    def soft_bits(self, frames: Iterable[np.ndarray]) -> np.ndarray:
        """Diagnostics: the (144,) summed evidence, positive = 1 (for bit accuracy)."""
        total = np.zeros(payload.CODEWORD_BITS)
        for frame in frames:
            total += self.frame_evidence(frame)
        return total

    def detect(self, frames: Iterable[np.ndarray], *, max_frames: int | None = None
               ) -> WatermarkDetection:
        """Vote over frames and decode; `render_id` is None when nothing valid is found."""
        total = np.zeros(payload.CODEWORD_BITS)
        used = 0
        for frame in frames:
            if max_frames is not None and used >= max_frames:
                break
            total += self.frame_evidence(frame)
            used += 1
        if used == 0:
            raise BadInput("no frames to detect a watermark in")
        render_id, info = payload.decode(total)
        return WatermarkDetection(render_id=render_id, confidence=info.confidence,
                                  bit_accuracy=info.bit_accuracy, margin=info.margin,
                                  frames_used=used, algorithm=ALGORITHM)
