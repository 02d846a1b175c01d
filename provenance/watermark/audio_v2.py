"""Audio watermark v2 (``likeness-erb-qim/2``): keyed dither modulation of the energy
ratio between neighbouring ERB bands, with sync pairs and a stretch/pitch search.

How it works, and why:

* Work signal: the mono mix at 16 kHz and the sqrt-Hann STFT of v1 (32 ms frames,
  16 ms hop; provenance.watermark.audio_signal). A cell is 64 ms (4 frames) by one
  of N_BANDS bands spaced evenly on the ERB-rate scale (~0.7 ERB each) from 250 to
  6000 Hz.
* The carried feature is the log-energy difference between two *frequency*-adjacent
  cells of one column, d = ln E(c, b) - ln E(c, b+1). Both cells start and stop
  together, so a time shift, a tempo change (atempo/WSOLA moves whole chunks) or an
  onset changes both alike and d barely moves; a gain cancels; a smooth EQ, a
  band-pass or a codec's low-pass changes d by a near-constant. Keyed pitch and speed
  changes move the bands, which the detector undoes by scaling its band edges.
* Each pair's d is quantized to the lattice coset of its bit (dither modulation with
  a keyed dither per pair, step STEP_NP): the embedder knows the host and moves d at
  most half a step, so speech itself is no noise to the detector. The quieter cell of
  a pair takes the larger share of the move (least added energy), a per-frame
  masking threshold caps each cell, and the pairs that would cost most are left
  alone so the SNR stays >= 30 dB (BUDGET_DB).
* Layout: a period is 40 columns (2.56 s) = 20 column pairs. 18 column pairs each
  carry one payload byte (8 bits x 4 pairs) plus 2 sync pairs; 2 are all sync. A
  byte sits in 128 ms of audio, so a pause or a codec burst costs one byte, which is
  what Reed-Solomon corrects best, and any stretch of one period plus a column holds
  every bit whole (MIN_SECONDS). Soft bits are -cos(2 pi phase) per pair, weighted
  by how far both cells sit above the clip's quiet level (noise, a codec's floor, a
  phone channel's stop band carry nothing), summed over a bit's pairs and periods.
* Psychoacoustic mask (frequency masking per 64 ms frame): each band's energy is
  spread to its neighbours (a masker masks 10 dB/ERB above and 25 dB/ERB below
  itself) and the threshold sits MASK_OFFSET_DB below the spread energy; a cell's
  added energy (a change of its own content) stays under that threshold.
* Detection: the power spectrogram at 8 ms hop is read once; for a grid of time
  stretches (0.88-1.12: atempo, speed) and band scales (0.9-1.1: speed, pitch) the
  sync pairs are scored at every 16 ms offset of one period, the best candidates
  are refined (0.75 % stretch, 1.25 % scale, 8 ms) and the best few decoded, each
  through video_softdecode.decode_soft (Reed-Solomon with 0-8 of the weakest bytes
  erased, each erasure decode accepted only if the erased soft bits agree; 16-bit
  check; then a search for a valid payload at a small soft distance;
  ~6.6e-10 false match per try, the bound video v3 uses and a test pins).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from likeness.errors import BadInput
from provenance.watermark import payload
from provenance.watermark.audio_signal import (
    HOP,
    N_FFT,
    WORK_RATE_HZ,
    as_2d,
    istft,
    resample,
    stft,
    work_mono,
)
from provenance.watermark.detection import WatermarkDetection
from provenance.watermark.keys import keyed_rng, validate_key
from provenance.watermark.video_softdecode import decode_soft

ALGORITHM = "likeness-erb-qim/2"
"""The name this carrier goes by in the C2PA watermark assertion."""

BAND_LOW_HZ = 250.0
BAND_HIGH_HZ = 6000.0
N_BANDS = 34
FRAMES_PER_COLUMN = 4
COLUMN_SAMPLES = FRAMES_PER_COLUMN * HOP  # 64 ms
COLUMNS_PER_PERIOD = 40
COLUMN_PAIRS = COLUMNS_PER_PERIOD // 2
PERIOD_SAMPLES = COLUMNS_PER_PERIOD * COLUMN_SAMPLES
PERIOD_S = PERIOD_SAMPLES / WORK_RATE_HZ
BITS_PER_BYTE = 8
PAIRS_PER_BIT = 4
MIN_SECONDS = (PERIOD_SAMPLES + 2 * COLUMN_SAMPLES + N_FFT) / WORK_RATE_HZ
"""Shortest audio that holds every bit whole wherever it was cut (~2.72 s)."""

STEP_NP = 1.7  # quantizer step on a pair's log-energy difference, nepers of energy
BUDGET_DB = 31.0  # planned added energy at most this far below the signal's
MIN_SNR_DB = 30.2  # measured; a final guard scales the change to hold it
MASK_OFFSET_DB = 8.0
_MAX_AMPLITUDE_CHANGE = 0.65  # per cell, on top of the mask
_SPREAD_UP_DB_PER_ERB = 10.0  # masking of higher bands
_SPREAD_DOWN_DB_PER_ERB = 25.0  # masking of lower bands
_EMBED_ITERATIONS = 3
_FLOOR_RATIO = 1e-4

DETECT_HOP = 128  # 8 ms
_STRETCHES = np.round(np.arange(0.88, 1.1201, 0.02), 4)
# (stretch, band scale) of the coarse search: tempo changes (scale 1), speed changes
# (scale = 1 / stretch) and pitch shifts (stretch about 1).
_GEOMETRIES = sorted({(float(s), 1.0) for s in _STRETCHES}
                     | {(float(s), round(1.0 / float(s), 4)) for s in _STRETCHES}
                     | {(s, f) for s in (0.98, 1.0, 1.02) for f in (0.9, 0.95, 1.05, 1.1)})
_COARSE_OFFSET = 2  # detection frames (16 ms)
_SEARCH_PERIODS = 1.6  # the coarse search reads this much audio (periods)
_REFINE_KEEP = 3
# Band scales tried around a coarse candidate: a 1 % scale error already costs a
# speed-1.1x clip its id (the coarse grid's 1 / 0.90 = 1.111 against the true 1.1).
_REFINE_SCALES = np.array([-0.025, -0.0125, 0.0, 0.0125, 0.025])
_POLISH_KEEP = 2
_POLISH_STRETCHES = np.array([-0.005, -0.0025, 0.0, 0.0025, 0.005])
_POLISH_SCALES = np.array([-0.00625, 0.0, 0.00625])
_DECODE_TRIES = 6
_QUIET_PERCENTILE = 10
_QUIET_MARGIN = 2.0  # a cell this close to the quiet level has weight 0
_TILT_FLIP_Z = 2.5  # sync evidence needed to take a band pair's larger tilt candidate


def _erb_rate(hz: np.ndarray | float) -> np.ndarray:
    return 21.4 * np.log10(1.0 + 0.00437 * np.asarray(hz, dtype=np.float64))


def _erb_hz(rate: np.ndarray) -> np.ndarray:
    return (10 ** (np.asarray(rate) / 21.4) - 1.0) / 0.00437


BAND_EDGES_HZ = _erb_hz(np.linspace(_erb_rate(BAND_LOW_HZ), _erb_rate(BAND_HIGH_HZ),
                                    N_BANDS + 1))
_ERB_PER_BAND = float(_erb_rate(BAND_HIGH_HZ) - _erb_rate(BAND_LOW_HZ)) / N_BANDS


def _band_weights(scale: float = 1.0) -> np.ndarray:
    """(bins, N_BANDS) share of each FFT bin's width inside each band (edges x scale)."""
    width = WORK_RATE_HZ / N_FFT
    centres = np.arange(N_FFT // 2 + 1) * width
    lo, hi = centres - width / 2, centres + width / 2
    edges = BAND_EDGES_HZ * scale
    overlap = (np.minimum(hi[:, None], edges[None, 1:])
               - np.maximum(lo[:, None], edges[None, :-1]))
    return np.clip(overlap, 0.0, None) / width


_WEIGHTS = _band_weights()


@dataclass(frozen=True)
class _Layout:
    """Keyed pairs of one period: cell a (column, band) minus cell b (same column, the
    next band up or down), the pair's dither, and the codeword bit it carries (-1:
    a sync pair, always on the bit-0 coset)."""

    column: np.ndarray
    band_a: np.ndarray
    band_b: np.ndarray
    dither: np.ndarray
    bit: np.ndarray


def _layout_for(key: bytes) -> _Layout:
    """A keyed layout in which each payload byte lives in one column pair (128 ms)."""
    rng = keyed_rng(key, stream="audio-erb-qim-v2")
    rows: list[tuple[int, int, int, int]] = []
    for slot, column_pair in enumerate(rng.permutation(COLUMN_PAIRS)):
        cells = [(2 * int(column_pair) + t, 2 * p, 2 * p + 1)
                 for t in (0, 1) for p in range(N_BANDS // 2)]
        owners = np.full(len(cells), -1)
        if slot < payload.CODEWORD_BYTES:
            byte_bits = slot * BITS_PER_BYTE + np.repeat(np.arange(BITS_PER_BYTE),
                                                         PAIRS_PER_BIT)
            owners[: byte_bits.size] = byte_bits
        for index, owner in zip(rng.permutation(len(cells)), owners, strict=True):
            column, low, high = cells[int(index)]
            if rng.integers(0, 2):
                low, high = high, low
            rows.append((column, low, high, int(owner)))
    table = np.asarray(rows)
    return _Layout(column=table[:, 0], band_a=table[:, 1], band_b=table[:, 2],
                   dither=rng.random(len(rows)), bit=table[:, 3])


def _check_rate(sample_rate: int) -> None:
    if not isinstance(sample_rate, int) or sample_rate < 8000:
        raise BadInput(f"sample rate {sample_rate} Hz is too low to carry the audio "
                       "watermark (at least 8000 Hz)")


def _log(energy: np.ndarray, floor: float) -> np.ndarray:
    return np.log(np.maximum(energy, 0.0) + floor + 1e-30)


def _mask_headroom(cells: np.ndarray) -> np.ndarray:
    """(columns, bands) largest relative amplitude change the frame's mask allows.

    Threshold = the column's band energies spread over the bands (10 dB/ERB upward,
    25 dB/ERB downward) minus MASK_OFFSET_DB; changing a cell's own content by a
    factor (1 + r) adds r**2 * E, so r = sqrt(threshold / E).
    """
    index = np.arange(N_BANDS)
    erbs = (index[:, None] - index[None, :]) * _ERB_PER_BAND  # target - masker
    spread_db = np.where(erbs >= 0, -_SPREAD_UP_DB_PER_ERB * erbs,
                         _SPREAD_DOWN_DB_PER_ERB * erbs)
    threshold = cells @ (10 ** (spread_db / 10.0)).T * 10 ** (-MASK_OFFSET_DB / 10.0)
    return np.sqrt(threshold / np.maximum(cells, 1e-30))


class AudioWatermarkerV2:
    """Embeds and detects a render id (v2) in float audio under one studio key."""

    def __init__(self, key: bytes) -> None:
        self._layout = _layout_for(validate_key(key))

    # -- embedding ---------------------------------------------------------------
    def _offsets(self, render_id: int) -> np.ndarray:
        """(pairs,) lattice offset, in steps, of the coset each pair must sit on."""
        bits = payload.encode(render_id).astype(np.float64)
        lay = self._layout
        carried = np.where(lay.bit < 0, 0.0, bits[np.maximum(lay.bit, 0)])
        return lay.dither + carried / 2.0

    def _pairs_in(self, n_columns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                 np.ndarray]:
        """Column, band a, band b and layout index of every pair in `n_columns`."""
        lay = self._layout
        periods = n_columns // COLUMNS_PER_PERIOD + 1
        column = (np.arange(periods)[:, None] * COLUMNS_PER_PERIOD
                  + lay.column[None, :]).reshape(-1)
        which = np.tile(np.arange(lay.bit.size), periods)
        keep = column < n_columns
        which = which[keep]
        return column[keep], lay.band_a[which], lay.band_b[which], which

    def embed(self, samples: np.ndarray, sample_rate: int, render_id: int) -> np.ndarray:
        """A marked copy of `samples` (same shape and dtype)."""
        _check_rate(sample_rate)
        data = as_2d(samples)
        offsets = self._offsets(render_id)
        mono = work_mono(data, sample_rate)
        if mono.size < MIN_SECONDS * WORK_RATE_HZ:
            raise BadInput(f"audio of {data.shape[0] / sample_rate:.2f} s is too short to "
                           f"watermark; at least {MIN_SECONDS:.2f} s is needed")
        spec = stft(mono)
        n_cols = spec.shape[0] // FRAMES_PER_COLUMN
        used = n_cols * FRAMES_PER_COLUMN

        def cells_of(signal_spec: np.ndarray) -> np.ndarray:
            power = np.abs(signal_spec[:used]) ** 2
            return (power @ _WEIGHTS).reshape(n_cols, FRAMES_PER_COLUMN, N_BANDS).sum(axis=1)

        cells = cells_of(spec)
        floor = _FLOOR_RATIO * float(np.mean(cells))
        cap = 2.0 * np.log1p(np.minimum(_mask_headroom(cells), _MAX_AMPLITUDE_CHANGE))
        column, band_a, band_b, which = self._pairs_in(n_cols)
        cell_a, cell_b = (column, band_a), (column, band_b)
        flat_a, flat_b = column * N_BANDS + band_a, column * N_BANDS + band_b
        log0 = _log(cells, floor)
        d0 = log0[cell_a] - log0[cell_b]
        off = offsets[which]
        target = STEP_NP * (np.round(d0 / STEP_NP - off) + off)
        # The quieter cell takes the larger share of a move (least added energy); the
        # pairs that would cost most are left alone to hold the SNR.
        ea, eb = cells[cell_a], cells[cell_b]
        share_a = eb / np.maximum(ea + eb, 1e-30)
        cost = (target - d0) ** 2 * ea * eb / np.maximum(ea + eb, 1e-30) / 4.0
        order = np.argsort(cost)
        budget = float(np.sum(np.abs(spec) ** 2)) * 10 ** (-BUDGET_DB / 10.0)
        keep = np.zeros(cost.size, dtype=bool)
        keep[order[np.cumsum(cost[order]) <= budget]] = True
        log_gain = np.zeros((n_cols, N_BANDS))
        residual = np.zeros_like(mono)
        now = log0
        for _ in range(_EMBED_ITERATIONS):
            # Re-measure after each pass: the STFT smears a cell's gain into its
            # neighbours, so a pass lands short and the next one tops it up.
            move = np.where(keep, target - (now[cell_a] - now[cell_b]), 0.0)
            delta = np.bincount(flat_a, move * share_a, minlength=log_gain.size)
            delta -= np.bincount(flat_b, move * (1.0 - share_a), minlength=log_gain.size)
            log_gain = np.clip(log_gain + delta.reshape(log_gain.shape), -cap, cap)
            amplitude = np.exp(log_gain / 2.0) - 1.0
            change = np.zeros(spec.shape)
            change[:used] = np.repeat(amplitude @ _WEIGHTS.T, FRAMES_PER_COLUMN, axis=0)
            residual = istft(spec * change, mono.size)
            now = _log(cells_of(stft(mono + residual)), floor)
        snr_db = 10 * np.log10(np.sum(mono**2) / max(float(np.sum(residual**2)), 1e-30))
        if snr_db < MIN_SNR_DB:  # the budget's cost model is approximate: trim the rest
            residual *= 10 ** ((snr_db - MIN_SNR_DB) / 20.0)
        full = resample(residual, WORK_RATE_HZ, sample_rate)
        fitted = np.zeros(data.shape[0])
        fitted[: min(full.size, fitted.size)] = full[: fitted.size]
        out = (data.astype(np.float64) + fitted[:, None]).astype(data.dtype)
        return out.reshape(np.shape(samples))

    # -- detection ---------------------------------------------------------------
    def detect(self, samples: np.ndarray, sample_rate: int) -> WatermarkDetection:
        """Search stretch, band scale and offset on the sync pairs; decode the best few.

        `render_id` is None when no candidate yields a valid payload.
        """
        _check_rate(sample_rate)
        mono = work_mono(samples, sample_rate)
        reader = _Reader(mono, self._layout)
        if mono.size >= N_FFT + PERIOD_SAMPLES * 0.8:
            for candidate in reader.candidates():
                render_id, info = decode_soft(reader.soft_bits(*candidate))
                if render_id is not None:
                    return WatermarkDetection(
                        render_id=render_id, confidence=info.confidence,
                        bit_accuracy=info.bit_accuracy, margin=info.margin,
                        frames_used=reader.columns_read, algorithm=ALGORITHM)
        return WatermarkDetection(render_id=None, confidence=0.0, bit_accuracy=0.0,
                                  margin=0.0, frames_used=reader.columns_read)

    def soft_bits_at(self, samples: np.ndarray, sample_rate: int, *, start_s: float = 0.0,
                     stretch: float = 1.0, scale: float = 1.0) -> np.ndarray:
        """Diagnostics: the (144,) soft bits on a known geometry, for audio whose first
        sample was `start_s` seconds into the marked original, played `stretch` times
        as long with its bands `scale` times higher (benchmarks report raw bit
        accuracy from it even where decoding fails)."""
        _check_rate(sample_rate)
        reader = _Reader(work_mono(samples, sample_rate), self._layout)
        offset = (-start_s * WORK_RATE_HZ * stretch) % (PERIOD_SAMPLES * stretch)
        return reader.soft_bits(stretch, scale, offset / DETECT_HOP)


class _Reader:
    """One clip's band energies (8 ms hop), read at any stretch, band scale and offset."""

    def __init__(self, mono: np.ndarray, layout: _Layout) -> None:
        self._layout = layout
        self._sync = np.flatnonzero(layout.bit < 0)
        self._data = np.flatnonzero(layout.bit >= 0)
        self._power = (np.abs(stft(mono, hop=DETECT_HOP)) ** 2).astype(np.float32)
        self._frames = self._power.shape[0]
        self._bands: dict[float, tuple[np.ndarray, float, np.ndarray]] = {}
        self._tracks: dict[tuple[float, float], np.ndarray] = {}
        self._quiet: np.ndarray | None = None
        self._keep_lambda: float | None = None
        self.columns_read = int(mono.size // COLUMN_SAMPLES)

    def _band_energy(self, scale: float) -> tuple[np.ndarray, float, np.ndarray]:
        """Band energy per detection frame, the log floor, and each band's quiet level
        (noise, room tone, a codec's floor, a stop band): cells near it carry nothing."""
        key = round(float(scale), 5)
        if key not in self._bands:
            bands = self._power @ _band_weights(key).astype(np.float32)
            floor = _FLOOR_RATIO * float(np.mean(bands)) * FRAMES_PER_COLUMN
            if self._quiet is None:  # a few percent of band scale hardly moves it
                rank = max(int(bands.shape[0] * _QUIET_PERCENTILE / 100), 0)
                self._quiet = np.partition(bands, rank, axis=0)[rank] * FRAMES_PER_COLUMN
            self._bands[key] = (bands, floor, self._quiet)
        return self._bands[key]

    def _track(self, stretch: float, scale: float) -> np.ndarray:
        """(frames * bands,) log energy + 1j * reliability of a cell starting at every
        detection frame, flattened for one gather per read.

        A cell is read on the embedder's own frames (every other detection frame at
        stretch 1), so the energies match what the embedder quantized.
        """
        key = (round(float(stretch), 5), round(float(scale), 5))
        if key not in self._tracks:
            bands, floor, quiet = self._band_energy(scale)
            step = HOP * stretch / DETECT_HOP
            start = np.arange(self._frames, dtype=np.float64)
            total = np.zeros(bands.shape)
            for frame in range(FRAMES_PER_COLUMN):
                t = np.minimum(start + frame * step, self._frames - 1.000001)
                i = t.astype(np.int64)
                frac = (t - i)[:, None]
                total += bands[i] * (1.0 - frac) + bands[np.minimum(i + 1, self._frames - 1)] * frac
            reliability = np.clip(1.0 - _QUIET_MARGIN * quiet / np.maximum(total, 1e-30), 0, 1)
            self._tracks[key] = (_log(total, floor) + 1j * reliability).reshape(-1)
        return self._tracks[key]

    def _pair_phase(self, stretch: float, scale: float, offsets: np.ndarray,
                    pairs: np.ndarray, max_periods: float | None = None,
                    exact: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, periods, pairs) lattice phase of each pair (0 on the bit-0 coset,
        0.5 on the bit-1 coset) and its weight (0 unless the pair is in the clip).

        `offsets` are in detection frames: where a period starts in the clip. With
        `exact` False cells start on the nearest detection frame (the coarse search).
        """
        track = self._track(stretch, scale)
        column_frames = COLUMN_SAMPLES * stretch / DETECT_HOP
        period = COLUMNS_PER_PERIOD * column_frames
        limit = self._frames if max_periods is None else min(self._frames,
                                                             max_periods * period)
        n_per = int(np.ceil(limit / period)) + 1
        lay = self._layout
        t = (offsets[:, None, None] + (np.arange(n_per) - 1)[None, :, None] * period
             + lay.column[pairs][None, None, :] * column_frames)
        inside = (t >= 0) & (t + column_frames <= limit)
        t = np.clip(t, 0.0, self._frames - 1.000001)
        band_a, band_b = lay.band_a[pairs], lay.band_b[pairs]
        if exact:
            i = t.astype(np.int64)
            frac = t - i
            j = np.minimum(i + 1, self._frames - 1) * N_BANDS
            i = i * N_BANDS
            cell_a = track[i + band_a] * (1.0 - frac) + track[j + band_a] * frac
            cell_b = track[i + band_b] * (1.0 - frac) + track[j + band_b] * frac
        else:
            i = np.rint(t).astype(np.int64) * N_BANDS
            cell_a, cell_b = track[i + band_a], track[i + band_b]
        d = cell_a.real - cell_b.real
        weight = np.minimum(cell_a.imag, cell_b.imag) * inside
        if exact:  # the coarse pass goes without the keep weighting: a third of its time
            weight = weight * self._keep_probability(cell_a.real, cell_b.real)
        return d / STEP_NP - lay.dither[pairs], weight

    def _keep_probability(self, log_a: np.ndarray, log_b: np.ndarray) -> np.ndarray:
        """Chance that the embedder moved a pair with these cell energies at all.

        Why: the embedder leaves the costliest pairs alone to hold the SNR, and a
        move's cost is the move squared times the pair's harmonic-mean energy h; in
        speech only about a third of the loudest tenth of pairs are moved. An unmoved
        pair's phase is the host's (uniform), so its vote is noise at full weight.
        With moves uniform over a step, a pair is kept when |move| < sqrt(4 lambda /
        h); lambda is solved from this clip so that the expected cost of the kept
        pairs equals the embedder's budget (`_solve_keep_lambda`). Energies only, so
        it is blind to the bits.
        """
        if self._keep_lambda is None:
            self._keep_lambda = self._solve_keep_lambda()
        harmonic = 1.0 / (np.exp(-log_a) + np.exp(-log_b))
        reach = 2.0 * np.sqrt(4.0 * self._keep_lambda / np.maximum(harmonic, 1e-30))
        return np.minimum(reach / STEP_NP, 1.0)

    def _solve_keep_lambda(self) -> float:
        """The cost threshold of the embedder's pair selection, re-derived from this
        clip's own cells (columns of 8 detection frames, band pairs 2p, 2p + 1: the
        layout holds exactly one pair per column and band pair)."""
        track = self._track(1.0, 1.0).real.reshape(self._frames, N_BANDS)
        cells = np.exp(track[:: COLUMN_SAMPLES // DETECT_HOP])
        harmonic = (1.0 / (1.0 / cells[:, 0::2] + 1.0 / cells[:, 1::2])).reshape(-1)
        # All-bin energy at the embedder's 16 ms hop: every other 8 ms frame.
        budget = float(np.sum(self._power[::HOP // DETECT_HOP])) * 10 ** (-BUDGET_DB / 10.0)
        half = STEP_NP / 2.0

        def expected_cost(lam: float) -> float:
            reach = np.minimum(np.sqrt(4.0 * lam / harmonic), half)
            return float(np.sum(harmonic / 4.0 * reach**3 / (3.0 * half)))

        lo, hi = 0.0, float(np.max(harmonic)) * half**2
        if expected_cost(hi) <= budget:
            return hi
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if expected_cost(mid) <= budget else (lo, mid)
        return lo

    def _sync_scores(self, stretch: float, scale: float, offsets: np.ndarray,
                     max_periods: float | None, exact: bool = True) -> np.ndarray:
        """Weighted agreement of the sync pairs with their coset, ~N(0, 1) off the mark."""
        phase, weight = self._pair_phase(stretch, scale, offsets, self._sync, max_periods,
                                         exact)
        votes = np.cos(2 * np.pi * phase) * weight
        norm = np.sqrt(np.sum(weight**2, axis=(1, 2)) / 2.0)
        return votes.sum(axis=(1, 2)) / np.maximum(norm, 1.0)

    def candidates(self) -> list[tuple[float, float, float]]:
        """(stretch, scale, offset) to decode, best sync first: a coarse grid over the
        first periods, then a finer search around the best few."""
        coarse: list[tuple[float, float, float, float]] = []
        for stretch, scale in _GEOMETRIES:
            offsets = np.arange(0.0, PERIOD_SAMPLES * stretch / DETECT_HOP, _COARSE_OFFSET)
            scores = self._sync_scores(stretch, scale, offsets, _SEARCH_PERIODS, exact=False)
            best = int(np.argmax(scores))
            coarse.append((float(scores[best]), stretch, scale, float(offsets[best])))
        coarse.sort(reverse=True)
        refined: list[tuple[float, float, float, float]] = []
        for _, stretch, scale, offset in coarse[:_REFINE_KEEP]:
            offsets = offset + np.arange(-2.0, 2.01, 1.0)
            for s in stretch + np.array([-0.0075, 0.0, 0.0075]):
                for f in scale + _REFINE_SCALES:
                    scores = self._sync_scores(float(s), float(f), offsets, None)
                    best = int(np.argmax(scores))
                    refined.append((float(scores[best]), float(s), float(f),
                                    float(offsets[best])))
        refined.sort(reverse=True)
        # A second, finer pass around the best two: atempo 1.1x sits at stretch 0.909,
        # 0.0016 from the nearest refined point, which over 6 s drifts ~10 ms and
        # costs a clip its id (bit errors 7-9 against 4 at the true stretch).
        polished: list[tuple[float, float, float, float]] = []
        for _, stretch, scale, offset in refined[:_POLISH_KEEP]:
            offsets = offset + np.arange(-1.0, 1.01, 0.5)
            for s in stretch + _POLISH_STRETCHES:
                for f in scale + _POLISH_SCALES:
                    scores = self._sync_scores(float(s), float(f), offsets, None)
                    best = int(np.argmax(scores))
                    polished.append((float(scores[best]), float(s), float(f),
                                     float(offsets[best])))
        refined = sorted(refined + polished, reverse=True)
        out: list[tuple[float, float, float]] = []
        for _, s, f, o in refined:
            if all(abs(s - s2) > 0.003 or abs(o - o2) > 1.5 for s2, _, o2 in out):
                out.append((s, f, o))
            if len(out) == _DECODE_TRIES:
                break
        return out

    def soft_bits(self, stretch: float, scale: float, offset: float) -> np.ndarray:
        """(144,) soft bits read at one geometry, summed over every pair in the clip.

        Each band pair's phases are first turned back by the band pair's tilt
        (`band_tilt`: a channel's slope across the two bands, e.g. a phone line's
        3.4 kHz edge, shifts every d there by a near-constant), then its votes are
        scaled by its reliability (`band_reliability`).
        """
        offsets = np.array([offset])
        phase, weight = self._pair_phase(stretch, scale, offsets, self._data)
        sync_phase, sync_weight = self._pair_phase(stretch, scale, offsets, self._sync)
        lay = self._layout
        data_bp, sync_bp = _band_pair(lay, self._data), _band_pair(lay, self._sync)
        data_o, sync_o = _orientation(lay, self._data), _orientation(lay, self._sync)
        oriented = np.concatenate([(phase * data_o).reshape(-1),
                                   (sync_phase * sync_o).reshape(-1)])
        weights = np.concatenate([weight.reshape(-1), sync_weight.reshape(-1)])
        band_pairs = np.concatenate([np.broadcast_to(data_bp, phase.shape).reshape(-1),
                                     np.broadcast_to(sync_bp, sync_phase.shape).reshape(-1)])
        is_sync = np.zeros(oriented.size, dtype=bool)
        is_sync[phase.size:] = True
        tilt = band_tilt(oriented, weights, band_pairs, is_sync)
        reliability = band_reliability(oriented - tilt[band_pairs], weights, band_pairs)
        phase = phase - data_o * tilt[data_bp]
        votes = (-np.cos(2 * np.pi * phase) * weight
                 * reliability[data_bp]).sum(axis=(0, 1))
        return np.bincount(lay.bit[self._data], votes, minlength=payload.CODEWORD_BITS)


def _band_pair(layout: _Layout, pairs: np.ndarray) -> np.ndarray:
    """Which of the N_BANDS // 2 band pairs (2p, 2p + 1) each pair sits in."""
    return np.minimum(layout.band_a[pairs], layout.band_b[pairs]) // 2


def _orientation(layout: _Layout, pairs: np.ndarray) -> np.ndarray:
    """+1 where cell a is the lower band, -1 where the pair reads the band pair upside
    down: a filter's tilt then shifts both kinds' phases the same way once multiplied."""
    return np.where(layout.band_a[pairs] < layout.band_b[pairs], 1.0, -1.0)


def band_reliability(phase: np.ndarray, weight: np.ndarray, band_pair: np.ndarray
                     ) -> np.ndarray:
    """(N_BANDS // 2,) how tightly each band pair's lattice phases cluster on the two
    cosets, 0 (uniform: no mark there) to 1 (every pair on a coset).

    Why: a marked pair's phase sits near 0 or 0.5 whatever its bit, so the doubled
    phase exp(4 pi i phase) of a band that still carries the mark points one way (a
    filter's tilt turns it, which is why `phase` comes multiplied by the pair's
    orientation, but does not spread it); in a band that a channel removed (a phone
    line's stop band, a codec's cut-off) or that noise drowns, it is uniform and its
    weighted mean is near 0. The per-cell quiet level cannot see that case: a filter
    scales a band's energy and its quiet level alike. The measure is blind to the
    bits, so on unmarked audio it scales votes without favouring any codeword (the
    payload check's false-positive bound is unchanged).
    """
    mean = _per_band_pair(band_pair, weight * np.exp(4j * np.pi * phase))
    total = np.bincount(band_pair, weight, minlength=N_BANDS // 2)
    return np.abs(mean) / np.maximum(total, 1e-12)


def _per_band_pair(band_pair: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(N_BANDS // 2,) complex sum of ``values`` over each band pair."""
    bands = N_BANDS // 2
    return (np.bincount(band_pair, values.real, minlength=bands)
            + 1j * np.bincount(band_pair, values.imag, minlength=bands))


def band_tilt(phase: np.ndarray, weight: np.ndarray, band_pair: np.ndarray,
              is_sync: np.ndarray) -> np.ndarray:
    """(N_BANDS // 2,) each band pair's phase shift, in steps, in [-0.5, 0.5).

    Why: a channel whose gain slopes across a band pair (a phone line's 300 Hz and
    3.4 kHz edges, a codec's cut-off) adds a near-constant to every d there, which
    turns all of the band pair's oriented phases by the same amount; past a quarter
    step every vote there reads the wrong bit, with full reliability. The doubled
    phase exp(4 pi i phase) of all pairs gives the shift modulo half a step, blind to
    the bits; the sync pairs (always on the bit-0 coset, whatever the payload) pick
    which of the two candidates it is: the larger one only where their agreement with
    the smaller one is below -_TILT_FLIP_Z standard deviations (a wrong flip reverses
    a whole band pair's votes; on a phone line the 3.2-3.7 kHz pair reads about -4,
    elsewhere the sync pairs of one band pair, a dozen in a 6 s clip, reach -1.8).
    Blind to the payload, so the false-positive bound is unchanged.
    """
    mean = _per_band_pair(band_pair, weight * np.exp(4j * np.pi * phase))
    small = np.angle(mean) / (4 * np.pi)  # in [-0.25, 0.25]
    pointer = _per_band_pair(band_pair[is_sync],
                             (weight * np.exp(2j * np.pi * phase))[is_sync])
    spread = np.sqrt(np.bincount(band_pair[is_sync], weight[is_sync] ** 2,
                                 minlength=N_BANDS // 2) / 2.0)
    flipped = np.real(pointer * np.exp(-2j * np.pi * small)) < -_TILT_FLIP_Z * spread
    tilt = small + 0.5 * flipped
    return (tilt + 0.5) % 1.0 - 0.5
