"""The work grid, frame averaging and geometry search shared by the periodic-tile marks.

v2 (provenance.watermark.video_v2) and v3 (video_v3) both repeat one keyed square
tile over a work grid whose shorter side is WORK_SHORT_SIDE samples, so they share
how frames are averaged and how the tile lattice is found again after a crop, pad,
scale or small rotation; they differ in tile size, band, mask and decoder, which is
why the tile size is a parameter here.

Why a lattice search: because the tile repeats, the autocorrelation of the frame's
residual peaks on the tile lattice, which gives scale and rotation without side
information; folding the residual onto one tile turns the crop offset into a
cyclic shift (found by the caller with its sync pattern); the eight symmetries of
the square on the folded tile cover a mirror flip and 90 degree turns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import ClassVar

import cv2
import numpy as np

from likeness.errors import BadInput
from provenance.watermark import payload
from provenance.watermark.keys import balanced_assignment, keyed_rng, validate_key

WORK_SHORT_SIDE = 360
MIN_FRAME_PX = (128, 72)
CODEC_BLOCK_PX = 16
# Geometry the search covers: tile period relative to the embedded one, rotation.
SCALE_RANGE = (0.45, 2.0)
MAX_ROTATION_DEG = 4.0
GEOMETRY_CANDIDATES = 8
MAX_DETECT_FRAMES = 150


def check_frame(frame: np.ndarray) -> None:
    """Raise BadInput unless `frame` is an RGB uint8 frame big enough to carry a tile."""
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


def gray_to_work(gray: np.ndarray) -> np.ndarray:
    """A (H, W) luma plane resized onto the work grid, as float32."""
    height, width = work_size(gray.shape[0], gray.shape[1])
    shrink = height < gray.shape[0]
    small = cv2.resize(gray, (width, height),
                       interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return small.astype(np.float32)


def work_gray(frame: np.ndarray) -> np.ndarray:
    """The luma of an RGB frame on the work grid."""
    return gray_to_work(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))


class MeanLuma:
    """Running mean of the frames' luma on the work grid: every frame carries the same
    tile, so the mark adds up while moving content averages out."""

    def __init__(self) -> None:
        self._total: np.ndarray | None = None
        self._work_per_px = 1.0
        self.used = 0

    def add(self, frame: np.ndarray) -> np.ndarray:
        """Add one RGB frame; returns its (H, W) uint8 luma for other detectors to reuse."""
        check_frame(frame)
        luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        gray = gray_to_work(luma)
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


def lattice_candidates(residual: np.ndarray, *, tile: int, block_period: float,
                       decimate: int = 1) -> list[tuple[float, float]]:
    """Up to GEOMETRY_CANDIDATES + 1 (tile period in samples, rotation in degrees).

    The untouched geometry comes first; then a coarse grid over period and angle
    scores first-order lattice points, and the best distinct cells are refined with
    points up to the fourth order, whose larger lags pin the period to ~0.1 %.
    `decimate` > 1 runs the search on a residual shrunk that many times (for a tile
    whose band sits well below the shrunk grid's Nyquist), which cuts the cost of
    the autocorrelation by its square.
    """
    if decimate > 1:
        height, width = residual.shape
        small = cv2.resize(residual, (width // decimate, height // decimate),
                           interpolation=cv2.INTER_AREA)
        found = _lattice_search(small, tile=tile / decimate,
                                block_period=block_period / decimate)
        return [(float(tile), 0.0)] + [(p * decimate, a) for p, a in found[1:]]
    return _lattice_search(residual, tile=tile, block_period=block_period)


def _lattice_search(residual: np.ndarray, *, tile: float, block_period: float
                    ) -> list[tuple[float, float]]:
    max_period = tile * SCALE_RANGE[1]
    acf = _whitened_autocorrelation(residual, max_lag=int(4 * max_period) + 2,
                                    block_period=block_period)
    periods = tile * np.exp(np.arange(np.log(SCALE_RANGE[0]), np.log(SCALE_RANGE[1]), 0.004))
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
    refined = [(float(tile), 0.0)]  # untouched geometry: always worth a look
    for period, angle in picked:
        fine_p = period * np.exp(np.arange(-0.008, 0.0081, 0.001))
        fine_a = angle + np.arange(-0.3, 0.301, 0.05)
        order = 4 if period * 4 < min(acf.shape) / 2 else 2
        scores = _lattice_scores(acf, fine_p, fine_a, order=order)
        pi, ai = np.unravel_index(int(np.argmax(scores)), scores.shape)
        refined.append((float(fine_p[pi]), float(fine_a[ai])))
    return refined


def fold(residual: np.ndarray, *, tile: int, period: float, angle_deg: float) -> np.ndarray:
    """Undo scale and rotation, then sum the residual onto one (tile, tile) array.

    The crop offset is left as a cyclic shift of the result.
    """
    scale = period / tile
    height, width = residual.shape
    theta = np.deg2rad(angle_deg)
    cos, sin = np.cos(theta), np.sin(theta)
    out_w = int(np.ceil((width * abs(cos) + height * abs(sin)) / scale)) + 2
    out_h = int(np.ceil((width * abs(sin) + height * abs(cos)) / scale)) + 2
    out_w += (-out_w) % tile
    out_h += (-out_h) % tile
    uc, vc = out_w / 2, out_h / 2
    cx, cy = width / 2, height / 2
    matrix = np.array([[scale * cos, -scale * sin, cx - scale * (cos * uc - sin * vc)],
                       [scale * sin, scale * cos, cy - scale * (sin * uc + cos * vc)]])
    canon = cv2.warpAffine(residual, matrix, (out_w, out_h),
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    return canon.reshape(out_h // tile, tile, out_w // tile, tile).sum(axis=(0, 2)
                                                                       ).astype(np.float64)


def subsample_peak(corr: np.ndarray) -> tuple[float, float]:
    """Location of the cyclic correlation maximum, refined by a parabola on each axis."""
    n = corr.shape[0]
    py, px = divmod(int(np.argmax(corr)), n)

    def vertex(minus: float, centre: float, plus: float) -> float:
        denom = minus - 2 * centre + plus
        return 0.0 if denom >= 0 else float(np.clip(0.5 * (minus - plus) / denom, -0.5, 0.5))

    dy = vertex(corr[(py - 1) % n, px], corr[py, px], corr[(py + 1) % n, px])
    dx = vertex(corr[py, (px - 1) % n], corr[py, px], corr[py, (px + 1) % n])
    return py + dy, px + dx


def symmetries(tile: np.ndarray) -> list[np.ndarray]:
    """The eight symmetries of the square: turns and mirror flips of a folded tile."""
    turns = [np.rot90(tile, k) for k in range(4)]
    return [np.ascontiguousarray(t) for t in turns + [np.fliplr(t) for t in turns]]


# -- the keyed tile ------------------------------------------------------------------
@dataclass(frozen=True)
class KeyedTile:
    """A keyed tile built in its own DFT: each in-band coefficient (its real or
    imaginary part) belongs to the sync pattern or to one bit, with a keyed sign, so
    bits and sync are exactly orthogonal and band-limited by construction."""

    size: int  # samples per side (odd)
    rows: np.ndarray  # (dims,) DFT row index of each real dimension
    cols: np.ndarray
    imag: np.ndarray  # (dims,) bool: the imaginary part (else the real part)
    owner: np.ndarray  # (dims,) -1 = sync, -2 = unused, else bit index
    sign: np.ndarray  # (dims,) +-1
    sync: np.ndarray  # (size, size) the sync pattern alone, in samples

    def samples(self, dim_values: np.ndarray) -> np.ndarray:
        """Samples of the tile whose real DFT dimensions hold `dim_values`."""
        half = self.rows.size // 2
        values = dim_values[:half] + 1j * dim_values[half:]
        n = self.size
        rows, cols = self.rows[:half], self.cols[:half]
        spectrum = np.zeros((n, n), dtype=np.complex128)
        spectrum[rows, cols] = values
        spectrum[(-rows) % n, (-cols) % n] = np.conj(values)
        return np.real(np.fft.ifft2(spectrum))

    def pattern(self, codeword_bits: np.ndarray) -> np.ndarray:
        """Unit-RMS tile carrying the codeword (sync plus payload chips)."""
        bit_signs = codeword_bits.astype(np.float64) * 2.0 - 1.0
        owner = self.owner
        carried = np.where(owner == -1, 1.0, np.where(owner >= 0, bit_signs[owner.clip(0)],
                                                      0.0))
        tile = self.samples(self.sign * carried)
        return tile / np.sqrt(np.mean(tile**2))

    def soft_bits(self, aligned: np.ndarray, weights: np.ndarray | None = None
                  ) -> np.ndarray:
        """(bits,) soft bits from an aligned tile's spectrum (positive = 1); `weights`
        (dims,) scales each dimension's vote (e.g. by its expected SNR)."""
        spectrum = aligned[self.rows, self.cols]
        values = np.where(self.imag, spectrum.imag, spectrum.real) * self.sign
        if weights is not None:
            values = values * weights
        used = self.owner >= 0
        return np.bincount(self.owner[used], weights=values[used],
                           minlength=payload.CODEWORD_BITS)


def _half_plane_band(n: int, band: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """DFT indices of the in-band coefficients in one half plane (the other is their
    conjugate); n is odd, so no coefficient but DC is its own conjugate."""
    f = np.fft.fftfreq(n)
    rows, cols = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    radius = np.hypot(f[rows], f[cols])
    half = (f[rows] > 0) | ((f[rows] == 0) & (f[cols] > 0))
    keep = half & (radius >= band[0]) & (radius <= band[1])
    return rows[keep], cols[keep]


def keyed_tile(key: bytes, *, stream: str, size: int, band: tuple[float, float],
               sync_share: float) -> KeyedTile:
    """The tile for one scheme under `key`: `band` in cycles per work sample,
    `sync_share` of the in-band dimensions for the sync pattern, the rest shared
    evenly by the codeword bits."""
    if size % 2 == 0:
        raise BadInput(f"tile size {size} must be odd")
    rng = keyed_rng(key, stream=stream)
    rows, cols = _half_plane_band(size, band)
    dims = 2 * rows.size
    d_rows, d_cols = np.concatenate([rows, rows]), np.concatenate([cols, cols])
    imag = np.arange(dims) >= rows.size
    order = rng.permutation(dims)
    n_sync = int(dims * sync_share)
    owner = np.full(dims, -1, dtype=np.int64)
    assigned = balanced_assignment(rng, n_slots=dims - n_sync, n_bits=payload.CODEWORD_BITS)
    owner[order[n_sync:]] = np.where(assigned < 0, -2, assigned)
    sign = rng.integers(0, 2, size=dims) * 2.0 - 1.0
    bare = KeyedTile(size=size, rows=d_rows, cols=d_cols, imag=imag, owner=owner, sign=sign,
                     sync=np.zeros((1, 1)))
    return replace(bare, sync=bare.samples(np.where(owner == -1, sign, 0.0)))


def aligned_candidates(residual: np.ndarray, tile: KeyedTile, *, block_period: float,
                       keep: int, decimate: int = 1) -> list[tuple[float, np.ndarray]]:
    """Best-first (sync z-score, aligned tile spectrum) candidates, at most `keep`.

    For each lattice candidate the residual is folded, each of the eight symmetric
    views is correlated with the sync pattern over all cyclic shifts, and the
    peak, refined to a fraction of a sample, is undone as a phase ramp on the
    view's spectrum, which is what `KeyedTile.soft_bits` reads.
    """
    n = tile.size
    found: list[tuple[float, np.ndarray]] = []
    sync_spectrum = np.conj(np.fft.fft2(tile.sync))
    freq = np.fft.fftfreq(n)
    for period, angle in lattice_candidates(residual, tile=n, block_period=block_period,
                                            decimate=decimate):
        folded = fold(residual, tile=n, period=period, angle_deg=angle)
        scored = []
        for view in symmetries(folded):
            spectrum = np.fft.fft2(view)
            corr = np.real(np.fft.ifft2(spectrum * sync_spectrum))
            dy, dx = subsample_peak(corr)
            peak = corr[int(round(dy)) % n, int(round(dx)) % n]
            z = float((peak - corr.mean()) / (corr.std() + 1e-12))
            ramp = np.exp(2j * np.pi * (freq[:, None] * dy + freq[None, :] * dx))
            scored.append((z, spectrum * ramp))
        scored.sort(key=lambda item: -item[0])
        found.append(scored[0])
    found.sort(key=lambda item: -item[0])
    return found[:keep]


def refine_offset(tile: KeyedTile, aligned: np.ndarray, *, radius: float = 2.0,
                  step: float = 0.25) -> np.ndarray:
    """`aligned` shifted by the sub-sample offset (within +-radius) that maximises the
    sync correlation plus the payload's energy (sum over bits of |soft bit|).

    Why: the sync pattern holds a fifth of the mark, so at low SNR its peak is off by
    a sample or so, which at the top of the band leaks real into imaginary parts;
    the payload's energy uses all of the mark to place it, without knowing the bits.
    """
    steps = np.arange(-radius, radius + 1e-9, step)
    freq = np.fft.fftfreq(tile.size)
    fy, fx = freq[tile.rows], freq[tile.cols]
    dy, dx = np.meshgrid(steps, steps, indexing="ij")
    dy, dx = dy.reshape(-1), dx.reshape(-1)
    ramps = np.exp(2j * np.pi * (dy[:, None] * fy[None, :] + dx[:, None] * fx[None, :]))
    coefs = aligned[tile.rows, tile.cols][None, :] * ramps
    values = np.where(tile.imag[None, :], coefs.imag, coefs.real) * tile.sign[None, :]
    sync = values[:, tile.owner == -1].sum(axis=1)
    used = tile.owner >= 0
    one_hot = np.zeros((int(used.sum()), payload.CODEWORD_BITS))
    one_hot[np.arange(one_hot.shape[0]), tile.owner[used]] = 1.0
    energy = np.abs(values[:, used] @ one_hot).sum(axis=1)
    best = int(np.argmax(sync + energy))
    ramp = np.exp(2j * np.pi * (freq[:, None] * dy[best] + freq[None, :] * dx[best]))
    return aligned * ramp


class WorkPatterns:
    """The tile of one render repeated over a frame size's work grid, scaled by the
    strength; kept for the last few (size, render) pairs, since a clip asks for the
    same one on every frame.

    `crest` (v3) clips the unit-RMS tile at that many RMS and restores its RMS. Why:
    the tile is a sum of hundreds of keyed sinusoids, so its peaks depend on the
    render id (a few samples of some tiles reach 4.5 RMS, of others 3.5), and the
    peaks are what crosses a visibility threshold first; clipping at 2.5 RMS touches
    ~1.2 % of the samples and ~0.3 % of the energy, so the in-band coefficients the
    detector reads barely move, while every render gets the same visibility and the
    RMS can rise by the peaks' share."""

    LIMIT = 8

    def __init__(self, tile: KeyedTile, *, strength: float, crest: float | None = None
                 ) -> None:
        self.tile = tile
        self.strength = float(strength)
        self.crest = crest
        self._cache: dict[tuple[int, int, int], np.ndarray] = {}

    def tile_pattern(self, render_id: int) -> np.ndarray:
        """Unit-RMS (P, P) tile carrying `render_id` (sync plus payload chips)."""
        pattern = self.tile.pattern(payload.encode(render_id))
        if self.crest is None:
            return pattern
        clipped = np.clip(pattern, -self.crest, self.crest)
        return clipped / np.sqrt(np.mean(clipped**2))

    def get(self, height: int, width: int, render_id: int) -> np.ndarray:
        key = (height, width, render_id)
        pattern = self._cache.get(key)
        if pattern is None:
            wh, ww = work_size(height, width)
            size = self.tile.size
            reps = (-(-wh // size), -(-ww // size))
            pattern = np.tile(self.tile_pattern(render_id), reps)[:wh, :ww]
            pattern = (pattern * self.strength).astype(np.float32)
            if len(self._cache) >= self.LIMIT:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = pattern
        return pattern


class TiledMarker:
    """What the tiled schemes (v2, v3) share: a keyed tile under the studio key, its
    cached work-grid patterns and lazy stream marking; each scheme sets its tile and
    band and draws the pattern into a frame its own way (`embed_frame`)."""

    STREAM: ClassVar[str]  # the key stream the tile is drawn from
    TILE_SAMPLES: ClassVar[int]
    BAND: ClassVar[tuple[float, float]]  # cycles per work sample
    SYNC_SHARE: ClassVar[float]
    CREST: ClassVar[float | None] = None  # peak clipping of the tile (WorkPatterns)

    def __init__(self, key: bytes, *, strength: float = 1.0) -> None:
        """`strength` scales the masked amplitude (1.0 = the documented defaults)."""
        if not 0.0 < strength <= 4.0:
            raise BadInput(f"video watermark strength {strength} is outside (0, 4]")
        self._tile = keyed_tile(validate_key(key), stream=self.STREAM, size=self.TILE_SAMPLES,
                                band=self.BAND, sync_share=self.SYNC_SHARE)
        self._patterns = WorkPatterns(self._tile, strength=strength, crest=self.CREST)

    def tile_pattern(self, render_id: int) -> np.ndarray:
        """Unit-RMS (P, P) tile carrying `render_id` (sync plus payload chips)."""
        return self._patterns.tile_pattern(render_id)

    def _work_pattern(self, height: int, width: int, render_id: int) -> np.ndarray:
        """The tile repeated over the work grid of a (height, width) frame, cached."""
        return self._patterns.get(height, width, render_id)

    def embed_frame(self, frame: np.ndarray, render_id: int, frame_index: int = 0
                    ) -> np.ndarray:
        raise NotImplementedError

    def embed(self, frames: Iterable[np.ndarray], render_id: int) -> Iterator[np.ndarray]:
        """Lazily mark a stream of frames (constant memory)."""
        payload.encode(render_id)  # validate before the first frame is pulled
        for index, frame in enumerate(frames):
            yield self.embed_frame(frame, render_id, index)
