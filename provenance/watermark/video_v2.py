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

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

import cv2
import numpy as np

from likeness.errors import BadInput
from provenance.watermark import payload
from provenance.watermark.detection import WatermarkDetection
from provenance.watermark.keys import balanced_assignment, keyed_rng, validate_key

ALGORITHM = "likeness-dct-ss/2"
WORK_SHORT_SIDE = 360
TILE_SAMPLES = 75  # 150 px at 720p: not a multiple of the codecs' 8/16 px block grid
BAND_LOW = 0.025  # cycles per work sample
BAND_HIGH = 0.16
SYNC_SHARE = 0.2
FLAT_LEVELS = 0.85  # mark RMS on a flat area, 8-bit code values
TEXTURE_GAIN = 0.5  # extra RMS per level of local standard deviation above the floor
TEXTURE_FLOOR_LEVELS = 1.0  # sensor noise below this does not count as texture
MAX_LEVELS = 6.0
FRAME_RMS_CAP_LEVELS = 1.9
MIN_FRAME_PX = (128, 72)
CODEC_BLOCK_PX = 16
# Geometry the detector searches: tile period relative to the embedded one, rotation.
SCALE_RANGE = (0.45, 2.0)
MAX_ROTATION_DEG = 4.0
GEOMETRY_CANDIDATES = 8
DECODE_ATTEMPTS = 4
MAX_DETECT_FRAMES = 150
_MASK_WINDOW = 7
_RESIDUAL_SIGMA = 3.0
_NORM_SIGMA = 8.0
_CACHE_LIMIT = 8


@dataclass(frozen=True)
class _Tile:
    """The keyed tile, built in the tile's own DFT: each in-band coefficient (its real
    or imaginary part) belongs to the sync pattern or to one bit, with a keyed sign,
    so bits and sync are exactly orthogonal and band-limited by construction."""

    rows: np.ndarray  # (dims,) DFT row index of each real dimension
    cols: np.ndarray
    imag: np.ndarray  # (dims,) bool: the imaginary part (else the real part)
    owner: np.ndarray  # (dims,) -1 = sync, else bit index
    sign: np.ndarray  # (dims,) +-1
    sync: np.ndarray  # (P, P) the sync pattern alone, in samples


def _half_plane_band(n: int) -> tuple[np.ndarray, np.ndarray]:
    """DFT indices of the in-band coefficients in one half plane (the other is their
    conjugate); n is odd, so no coefficient but DC is its own conjugate."""
    f = np.fft.fftfreq(n)
    rows, cols = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    radius = np.hypot(f[rows], f[cols])
    half = (f[rows] > 0) | ((f[rows] == 0) & (f[cols] > 0))
    keep = half & (radius >= BAND_LOW) & (radius <= BAND_HIGH)
    return rows[keep], cols[keep]


def _spectrum_to_tile(rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> np.ndarray:
    n = TILE_SAMPLES
    spectrum = np.zeros((n, n), dtype=np.complex128)
    spectrum[rows, cols] = values
    spectrum[(-rows) % n, (-cols) % n] = np.conj(values)
    return np.real(np.fft.ifft2(spectrum))


def _tile_for(key: bytes) -> _Tile:
    rng = keyed_rng(key, stream="video-tile-v2")
    rows, cols = _half_plane_band(TILE_SAMPLES)
    dims = 2 * rows.size
    d_rows, d_cols = np.concatenate([rows, rows]), np.concatenate([cols, cols])
    imag = np.arange(dims) >= rows.size
    order = rng.permutation(dims)
    n_sync = int(dims * SYNC_SHARE)
    owner = np.full(dims, -1, dtype=np.int64)
    assigned = balanced_assignment(rng, n_slots=dims - n_sync, n_bits=payload.CODEWORD_BITS)
    owner[order[n_sync:]] = np.where(assigned < 0, -2, assigned)  # -2: left unused
    sign = rng.integers(0, 2, size=dims) * 2.0 - 1.0
    tile = _Tile(rows=d_rows, cols=d_cols, imag=imag, owner=owner, sign=sign,
                 sync=np.zeros((1, 1)))
    return _Tile(rows=d_rows, cols=d_cols, imag=imag, owner=owner, sign=sign,
                 sync=_tile_from_dims(tile, np.where(owner == -1, sign, 0.0)))


def _tile_from_dims(tile: _Tile, dim_values: np.ndarray) -> np.ndarray:
    """Samples of the tile whose real DFT dimensions hold `dim_values`."""
    half = tile.rows.size // 2
    values = dim_values[:half] + 1j * dim_values[half:]
    return _spectrum_to_tile(tile.rows[:half], tile.cols[:half], values)


def _check_frame(frame: np.ndarray) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 \
            or frame.shape[2] != 3:
        raise BadInput("video frames must be RGB uint8 arrays of shape (H, W, 3)")
    if frame.shape[1] < MIN_FRAME_PX[0] or frame.shape[0] < MIN_FRAME_PX[1]:
        raise BadInput(f"frame {frame.shape[1]}x{frame.shape[0]} is too small to watermark",
                       hint=f"use at least {MIN_FRAME_PX[0]}x{MIN_FRAME_PX[1]}")


def work_size(height: int, width: int) -> tuple[int, int]:
    """(work height, work width) for a frame: shorter side -> WORK_SHORT_SIDE."""
    scale = WORK_SHORT_SIDE / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _work_gray(frame: np.ndarray) -> np.ndarray:
    return _gray_to_work(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))


def _gray_to_work(gray: np.ndarray) -> np.ndarray:
    height, width = work_size(gray.shape[0], gray.shape[1])
    shrink = height < gray.shape[0]
    small = cv2.resize(gray, (width, height),
                       interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return small.astype(np.float32)


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


class VideoWatermarkerV2:
    """Embeds and detects a v2 mark carrying a render id in RGB frames under one studio key."""

    def __init__(self, key: bytes, *, strength: float = 1.0) -> None:
        """`strength` scales the masked amplitude (1.0 = the documented defaults)."""
        if not 0.0 < strength <= 4.0:
            raise BadInput(f"video watermark strength {strength} is outside (0, 4]")
        self._key = validate_key(key)
        self._tile = _tile_for(self._key)
        self._strength = float(strength)
        self._cache: dict[tuple[int, int, int], np.ndarray] = {}

    # -- embedding -----------------------------------------------------------------
    def tile_pattern(self, render_id: int) -> np.ndarray:
        """Unit-RMS (P, P) tile carrying `render_id` (sync plus payload chips)."""
        bit_signs = payload.encode(render_id).astype(np.float64) * 2.0 - 1.0
        owner = self._tile.owner
        carried = np.where(owner == -1, 1.0, np.where(owner >= 0, bit_signs[owner.clip(0)], 0.0))
        tile = _tile_from_dims(self._tile, self._tile.sign * carried)
        return tile / np.sqrt(np.mean(tile**2))

    def _work_pattern(self, height: int, width: int, render_id: int) -> np.ndarray:
        """The tile repeated over the work grid of a (height, width) frame, cached."""
        cache_key = (height, width, render_id)
        pattern = self._cache.get(cache_key)
        if pattern is None:
            wh, ww = work_size(height, width)
            reps = (-(-wh // TILE_SAMPLES), -(-ww // TILE_SAMPLES))
            pattern = np.tile(self.tile_pattern(render_id), reps)[:wh, :ww]
            pattern = (pattern * self._strength).astype(np.float32)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.pop(next(iter(self._cache)))
            self._cache[cache_key] = pattern
        return pattern

    def embed_frame(self, frame: np.ndarray, render_id: int, frame_index: int = 0
                    ) -> np.ndarray:
        """A marked copy of one RGB frame. `frame_index` is accepted for API symmetry:
        every frame carries the same tile, so the mark is phase-free."""
        _check_frame(frame)
        del frame_index
        height, width = frame.shape[:2]
        pattern = self._work_pattern(height, width, render_id)
        delta = jnd_amplitude(_work_gray(frame)) * pattern
        full = cv2.resize(delta, (width, height), interpolation=cv2.INTER_LINEAR)
        return cv2.add(np.ascontiguousarray(frame), cv2.merge([full, full, full]),
                       dtype=cv2.CV_8U)

    def embed(self, frames: Iterable[np.ndarray], render_id: int) -> Iterator[np.ndarray]:
        """Lazily mark a stream of frames (constant memory)."""
        payload.encode(render_id)  # validate before the first frame is pulled
        for index, frame in enumerate(frames):
            yield self.embed_frame(frame, render_id, index)

    # -- detection -----------------------------------------------------------------
    def _soft_bits(self, aligned: np.ndarray) -> np.ndarray:
        """(144,) soft bits from an aligned tile's spectrum (positive = 1)."""
        dims = self._tile
        spectrum = aligned[dims.rows, dims.cols]
        values = np.where(dims.imag, spectrum.imag, spectrum.real) * dims.sign
        used = dims.owner >= 0
        return np.bincount(dims.owner[used], weights=values[used],
                           minlength=payload.CODEWORD_BITS)

    def aligned_tiles(self, mean_gray: np.ndarray, *, block_period: float
                      ) -> list[tuple[float, np.ndarray]]:
        """Best-first (sync z-score, aligned tile spectrum) candidates.

        Each folded view is correlated with the sync pattern over all cyclic shifts;
        the peak, refined to a fraction of a sample, is undone as a phase ramp on
        the view's spectrum, which is what `_soft_bits` reads.
        """
        residual = normalized_residual(mean_gray)
        found: list[tuple[float, np.ndarray]] = []
        sync_spectrum = np.conj(np.fft.fft2(self._tile.sync))
        freq = np.fft.fftfreq(TILE_SAMPLES)
        for period, angle in lattice_candidates(residual, block_period=block_period):
            folded = fold(residual, period=period, angle_deg=angle)
            scored = []
            for view in _symmetries(folded):
                spectrum = np.fft.fft2(view)
                corr = np.real(np.fft.ifft2(spectrum * sync_spectrum))
                dy, dx = _subsample_peak(corr)
                peak = corr[int(round(dy)) % TILE_SAMPLES, int(round(dx)) % TILE_SAMPLES]
                z = float((peak - corr.mean()) / (corr.std() + 1e-12))
                ramp = np.exp(2j * np.pi * (freq[:, None] * dy + freq[None, :] * dx))
                scored.append((z, spectrum * ramp))
            scored.sort(key=lambda item: -item[0])
            found.append(scored[0])
        found.sort(key=lambda item: -item[0])
        return found[:DECODE_ATTEMPTS]

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


class MeanLuma:
    """Running mean of the frames' luma on the work grid: every frame carries the same
    tile, so the mark adds up while moving content averages out."""

    def __init__(self) -> None:
        self._total: np.ndarray | None = None
        self._work_per_px = 1.0
        self.used = 0

    def add(self, frame: np.ndarray) -> np.ndarray:
        """Add one RGB frame; returns its (H, W) uint8 luma for other detectors to reuse."""
        _check_frame(frame)
        luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        gray = _gray_to_work(luma)
        if self._total is None:
            self._total = np.zeros_like(gray, dtype=np.float64)
            self._work_per_px = gray.shape[0] / frame.shape[0]
        elif gray.shape != self._total.shape:
            raise BadInput("video frames change size mid-stream")
        self._total += gray
        self.used += 1
        return luma

    def mean(self) -> np.ndarray:
        if self._total is None:
            raise BadInput("no frames to detect a watermark in")
        return (self._total / self.used).astype(np.float32)

    @property
    def block_period(self) -> float:
        """The codec's 16 px block grid, in work samples."""
        return CODEC_BLOCK_PX * self._work_per_px


# -- geometry ------------------------------------------------------------------------
def normalized_residual(gray: np.ndarray) -> np.ndarray:
    """High-passed luma divided by its local RMS: texture and flat areas count alike."""
    residual = gray - cv2.GaussianBlur(gray, (0, 0), _RESIDUAL_SIGMA)
    energy = cv2.GaussianBlur(residual * residual, (0, 0), _NORM_SIGMA)
    return (residual / np.sqrt(energy + 0.25)).astype(np.float32)


def _whitened_autocorrelation(residual: np.ndarray, max_lag: int, block_period: float
                              ) -> np.ndarray:
    """Autocorrelation of the residual with a whitened spectrum (sharp lattice peaks).

    Codecs leave a grid of block edges every 16 px of the *decoded* frame (which is
    `block_period` work samples); its spectral lines are notched out so the search
    does not lock onto the codec's grid instead of the tile.
    """
    height, width = residual.shape
    size = (cv2.getOptimalDFTSize(height + max_lag), cv2.getOptimalDFTSize(width + max_lag))
    spectrum = np.fft.rfft2(residual, s=size)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    smooth = cv2.GaussianBlur(power, (0, 0), 2.0)
    white = power / (smooth + 1e-6 * float(smooth.mean()) + 1e-12)
    white[0, 0] = 0.0
    for harmonic in np.arange(1, block_period / 2 + 1e-9):
        frequency = harmonic / block_period
        col = int(round(frequency * size[1]))
        row = int(round(frequency * size[0]))
        white[:, max(col - 1, 0):col + 2] = 0.0
        white[max(row - 1, 0):row + 2, :] = 0.0
        white[size[0] - row - 1:size[0] - row + 2, :] = 0.0
    return np.fft.irfft2(white, s=size).astype(np.float32)


def _lattice_points(order: int) -> np.ndarray:
    """(m, n) lattice indices in a half plane with max(|m|, |n|) <= order, no origin."""
    pts = [(m, n) for m in range(0, order + 1) for n in range(-order, order + 1)
           if (m > 0 or n > 0)]
    return np.asarray(pts, dtype=np.float64)


# Cell midpoints: high there means the candidate is a multiple of the true period.
_HALF_POINTS = np.array([(0.5, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, -0.5)])


def _lattice_scores(acf: np.ndarray, periods: np.ndarray, angles_deg: np.ndarray,
                    order: int) -> np.ndarray:
    """Autocorrelation on the lattice points of each (period, angle), less that on the
    first cell's midpoints (so twice the true period does not score as well)."""
    on = _sample_lattice(acf, periods, angles_deg, _lattice_points(order))
    off = _sample_lattice(acf, periods, angles_deg, _HALF_POINTS)
    return on.mean(axis=2) - np.maximum(off, 0.0).mean(axis=2)


def _sample_lattice(acf: np.ndarray, periods: np.ndarray, angles_deg: np.ndarray,
                    pts: np.ndarray) -> np.ndarray:
    """(periods, angles, points) autocorrelation, bilinear, at period * R(angle) @ pts."""
    theta = np.deg2rad(angles_deg)
    cos, sin = np.cos(theta), np.sin(theta)
    # lag = period * R(theta) @ (m, n)
    lag_x = periods[:, None, None] * (cos[None, :, None] * pts[None, None, :, 0]
                                      - sin[None, :, None] * pts[None, None, :, 1])
    lag_y = periods[:, None, None] * (sin[None, :, None] * pts[None, None, :, 0]
                                      + cos[None, :, None] * pts[None, None, :, 1])
    h, w = acf.shape
    x0, y0 = np.floor(lag_x), np.floor(lag_y)
    fx, fy = lag_x - x0, lag_y - y0
    xi, yi = x0.astype(np.int64) % w, y0.astype(np.int64) % h
    xj, yj = (xi + 1) % w, (yi + 1) % h
    value = (acf[yi, xi] * (1 - fx) * (1 - fy) + acf[yi, xj] * fx * (1 - fy)
             + acf[yj, xi] * (1 - fx) * fy + acf[yj, xj] * fx * fy)
    return value


def lattice_candidates(residual: np.ndarray, *, block_period: float
                       ) -> list[tuple[float, float]]:
    """Up to GEOMETRY_CANDIDATES (tile period in samples, rotation in degrees), best first.

    A coarse grid over period and angle scores first-order lattice points; the best
    distinct cells are refined with points up to the fourth order, whose larger
    lags pin the period to ~0.1 %, which folding over a whole frame needs.
    """
    max_period = TILE_SAMPLES * SCALE_RANGE[1]
    acf = _whitened_autocorrelation(residual, max_lag=int(4 * max_period) + 2,
                                    block_period=block_period)
    periods = TILE_SAMPLES * np.exp(np.arange(np.log(SCALE_RANGE[0]),
                                              np.log(SCALE_RANGE[1]), 0.004))
    angles = np.arange(-MAX_ROTATION_DEG, MAX_ROTATION_DEG + 1e-9, 0.25)
    coarse = _lattice_scores(acf, periods, angles, order=2)
    picked: list[tuple[float, float]] = []
    for flat in np.argsort(coarse, axis=None)[::-1]:
        pi, ai = divmod(int(flat), angles.size)
        period, angle = float(periods[pi]), float(angles[ai])
        if any(abs(np.log(period / p)) < 0.03 and abs(angle - a) < 1.5 for p, a in picked):
            continue
        picked.append((period, angle))
        if len(picked) == GEOMETRY_CANDIDATES:
            break
    refined = [(float(TILE_SAMPLES), 0.0)]  # untouched geometry: always worth a look
    for period, angle in picked:
        fine_p = period * np.exp(np.arange(-0.008, 0.0081, 0.001))
        fine_a = angle + np.arange(-0.3, 0.301, 0.05)
        order = 4 if period * 4 < min(acf.shape) / 2 else 2
        scores = _lattice_scores(acf, fine_p, fine_a, order=order)
        pi, ai = np.unravel_index(int(np.argmax(scores)), scores.shape)
        refined.append((float(fine_p[pi]), float(fine_a[ai])))
    return refined


def fold(residual: np.ndarray, *, period: float, angle_deg: float) -> np.ndarray:
    """Undo scale and rotation, then sum the residual onto one (P, P) tile.

    The crop offset is left as a cyclic shift of the result.
    """
    scale = period / TILE_SAMPLES
    height, width = residual.shape
    theta = np.deg2rad(angle_deg)
    cos, sin = np.cos(theta), np.sin(theta)
    out_w = int(np.ceil((width * abs(cos) + height * abs(sin)) / scale)) + 2
    out_h = int(np.ceil((width * abs(sin) + height * abs(cos)) / scale)) + 2
    out_w += (-out_w) % TILE_SAMPLES
    out_h += (-out_h) % TILE_SAMPLES
    uc, vc = out_w / 2, out_h / 2
    cx, cy = width / 2, height / 2
    matrix = np.array([[scale * cos, -scale * sin, cx - scale * (cos * uc - sin * vc)],
                       [scale * sin, scale * cos, cy - scale * (sin * uc + cos * vc)]])
    canon = cv2.warpAffine(residual, matrix, (out_w, out_h),
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    return canon.reshape(out_h // TILE_SAMPLES, TILE_SAMPLES, out_w // TILE_SAMPLES,
                         TILE_SAMPLES).sum(axis=(0, 2)).astype(np.float64)


def _subsample_peak(corr: np.ndarray) -> tuple[float, float]:
    """Location of the cyclic correlation maximum, refined by a parabola on each axis."""
    n = corr.shape[0]
    py, px = divmod(int(np.argmax(corr)), n)

    def vertex(minus: float, centre: float, plus: float) -> float:
        denom = minus - 2 * centre + plus
        return 0.0 if denom >= 0 else float(np.clip(0.5 * (minus - plus) / denom, -0.5, 0.5))

    dy = vertex(corr[(py - 1) % n, px], corr[py, px], corr[(py + 1) % n, px])
    dx = vertex(corr[py, (px - 1) % n], corr[py, px], corr[py, (px + 1) % n])
    return py + dy, px + dx


def _symmetries(tile: np.ndarray) -> list[np.ndarray]:
    """The eight symmetries of the square: turns and mirror flips of a folded tile."""
    turns = [np.rot90(tile, k) for k in range(4)]
    return [np.ascontiguousarray(t) for t in turns + [np.fliplr(t) for t in turns]]
