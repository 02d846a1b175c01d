"""Audio watermark v2: inaudible (SNR >= 30 dB), keyed, and robust to what platforms
and people do -- one representative attack per class on real speech (LibriVox, from
Debian's pocketsphinx-testdata); the full grid is benchmarks/audio_watermark_bench.py.
v1 outputs must still verify through the front door.
"""

from __future__ import annotations

import numpy as np
import pytest

from likeness.errors import BadInput
from provenance.watermark import payload
from provenance.watermark.audio import AudioWatermarker
from provenance.watermark.audio_v1 import ALGORITHM as V1
from provenance.watermark.audio_v2 import ALGORITHM as V2
from provenance.watermark.audio_v2 import (
    MIN_SECONDS,
    N_BANDS,
    AudioWatermarkerV2,
    band_reliability,
    band_tilt,
)
from provenance.watermark.keys import new_watermark_key
from tests.support import attacks as A
from tests.support import audio_attacks as AA

KEY = bytes(range(100, 132))
RENDER_ID = 0x0A11_CE00_1234_5678
RATE_HZ = 48_000

pytestmark = pytest.mark.skipif(not AA.librivox_available(),
                                reason="pocketsphinx-testdata (LibriVox speech) is not installed")


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return AA.real_speech(seconds=8.0, start_s=0.0, sample_rate=RATE_HZ)


@pytest.fixture(scope="module")
def marked(speech: np.ndarray) -> np.ndarray:
    return AudioWatermarkerV2(KEY).embed(speech, RATE_HZ, RENDER_ID)


def _detect(signal: np.ndarray, rate: int = RATE_HZ) -> int | None:
    return AudioWatermarker(KEY).detect(signal, rate).render_id


def test_embed_keeps_shape_dtype_and_snr(speech: np.ndarray, marked: np.ndarray) -> None:
    assert marked.shape == speech.shape and marked.dtype == np.float32
    assert A.snr_db(speech, marked) >= 30.0
    assert not np.array_equal(speech, marked)


def test_round_trip_names_v2(marked: np.ndarray) -> None:
    found = AudioWatermarker(KEY).detect(marked, RATE_HZ)
    assert found.render_id == RENDER_ID and found.algorithm == V2
    assert found.bit_accuracy >= 0.99 and found.confidence > 0.999


def test_unmarked_and_wrong_key_find_nothing(speech: np.ndarray, marked: np.ndarray) -> None:
    assert _detect(speech) is None
    assert AudioWatermarker(new_watermark_key()).detect(marked, RATE_HZ).render_id is None


def test_survives_a_low_bitrate_codec(marked: np.ndarray) -> None:
    assert _detect(A.aac(marked, RATE_HZ, bitrate_kbps=48)) == RENDER_ID


def test_survives_noise_at_20_db(marked: np.ndarray) -> None:
    assert _detect(A.add_noise(marked, snr_db_target=20.0)) == RENDER_ID


def test_survives_tempo_change(marked: np.ndarray) -> None:
    assert _detect(A.tempo(marked, RATE_HZ, factor=1.1)) == RENDER_ID


def test_survives_speed_change_with_pitch(marked: np.ndarray) -> None:
    assert _detect(A.speed(marked, RATE_HZ, factor=0.9)) == RENDER_ID


def test_survives_pitch_shift(marked: np.ndarray) -> None:
    assert _detect(A.pitch(marked, RATE_HZ, factor=0.95)) == RENDER_ID


def test_a_short_window_cut_anywhere_decodes(marked: np.ndarray) -> None:
    window = AA.trim(marked, RATE_HZ, start_s=2.37, seconds=3.0)
    assert _detect(window) == RENDER_ID


def test_v1_outputs_still_verify(speech: np.ndarray) -> None:
    old = AudioWatermarker(KEY, algorithm=V1).embed(speech, RATE_HZ, RENDER_ID)
    found = AudioWatermarker(KEY).detect(old, RATE_HZ)
    assert found.render_id == RENDER_ID and found.algorithm == V1


def test_stereo_44k1_speech_over_a_bed() -> None:
    stereo = A.speech_mix("Every render carries an invisible mark, and the studio keeps "
                          "a ledger of what was made.", seconds=6.0, sample_rate=44_100,
                          seed=5, channels=2)
    marked = AudioWatermarkerV2(KEY).embed(stereo, 44_100, RENDER_ID)
    assert marked.shape == stereo.shape and A.snr_db(stereo, marked) >= 30.0
    assert _detect(marked[:, 1], 44_100) == RENDER_ID


def test_bad_input_is_refused(speech: np.ndarray) -> None:
    wm = AudioWatermarkerV2(KEY)
    with pytest.raises(BadInput):
        wm.embed(speech[: int(RATE_HZ * (MIN_SECONDS - 0.1))], RATE_HZ, RENDER_ID)
    with pytest.raises(BadInput):
        wm.embed(speech.astype(np.int16), RATE_HZ, RENDER_ID)
    with pytest.raises(BadInput):
        wm.detect(speech, 4_000)
    with pytest.raises(BadInput):
        AudioWatermarker(KEY, algorithm="likeness-none/9")
    assert wm.detect(speech[: RATE_HZ], RATE_HZ).render_id is None  # too short: nothing


@pytest.mark.slow
@pytest.mark.parametrize("start_s", [3.1, 9.7, 21.0])
def test_combined_attacks_on_other_speech(start_s: float) -> None:
    """Harder: other passages, a slow-down (pitch down) then MP3, and a trim then MP3.

    A regression check on three passages that decode today; the benchmark's rate for
    speed 0.9x + MP3 64k on real speech is 0.83 (one passage in six fails)."""
    audio = AA.real_speech(seconds=8.0, start_s=start_s, sample_rate=RATE_HZ)
    marked = AudioWatermarkerV2(KEY).embed(audio, RATE_HZ, RENDER_ID)
    assert _detect(A.mp3(AA.trim(marked, RATE_HZ, start_s=0.9), RATE_HZ,
                         bitrate_kbps=64)) == RENDER_ID
    assert _detect(A.mp3(A.speed(marked, RATE_HZ, factor=0.9), RATE_HZ,
                         bitrate_kbps=64)) == RENDER_ID


def test_band_reliability_silences_bands_without_the_mark() -> None:
    """Phases on the cosets (0 or 0.5, whatever the bit; a filter's tilt only turns
    them) score near 1; uniform phases, as in a phone line's stop band, near 0."""
    rng = np.random.default_rng(3)
    n = 400
    on_cosets = rng.integers(0, 2, n) * 0.5 + 0.07 + rng.normal(0.0, 0.04, n)
    uniform = rng.random(n)
    bands = N_BANDS // 2
    phase = np.concatenate([on_cosets, uniform])
    band = np.concatenate([np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)])
    reliability = band_reliability(phase, np.ones(2 * n), band)
    assert reliability.shape == (bands,)
    assert reliability[0] > 0.8 and reliability[1] < 0.15
    assert np.all(reliability[2:] == 0.0)  # no pairs: no weight


def test_survives_speed_up_with_pitch(marked: np.ndarray) -> None:
    """1.1x by resampling: stretch 0.909 and bands x 1.1. A regression check (this
    passage decoded before too); on the benchmark's four other passages the finer
    band-scale refinement took speed 1.1x from 0/4 to 4/4."""
    assert _detect(A.speed(marked, RATE_HZ, factor=1.1)) == RENDER_ID


def test_a_narrowband_phone_line_decodes_at_its_geometry(marked: np.ndarray) -> None:
    """300-3400 Hz, carried at 8 kHz: the 3.4 kHz edge turns the 3.2-3.7 kHz band
    pair's phases by about a third of a step, which `band_tilt` undoes (without it
    this passage reads 5 wrong bits and does not decode; neither did half the
    benchmark's LibriVox clips). Read at the known geometry to stay fast; the search
    is the slow test below."""
    phone = AA.narrowband_phone(marked, RATE_HZ)
    render_id, _ = payload.decode(AudioWatermarkerV2(KEY).soft_bits_at(phone, 16_000))
    assert render_id == RENDER_ID


@pytest.mark.slow
def test_survives_a_narrowband_phone_line(marked: np.ndarray) -> None:
    """The same channel through the front door (search included)."""
    assert _detect(AA.narrowband_phone(marked, RATE_HZ), 16_000) == RENDER_ID


def test_band_tilt_undoes_a_channel_slope() -> None:
    """Each band pair's common phase shift comes back from the doubled phase, and the
    sync pairs (always on the bit-0 coset) decide a shift past a quarter step; with
    no sync evidence the smaller candidate stands."""
    rng = np.random.default_rng(4)
    n = 300
    shifts = {0: 0.35, 1: -0.1, 2: 0.35}
    phase, band, sync = [], [], []
    for pair, shift in shifts.items():
        bits = rng.integers(0, 2, n) * 0.5
        is_sync = np.arange(n) < (40 if pair < 2 else 0)
        bits[is_sync] = 0.0
        phase.append(bits + shift + rng.normal(0.0, 0.05, n))
        band.append(np.full(n, pair))
        sync.append(is_sync)
    tilt = band_tilt(np.concatenate(phase), np.ones(3 * n), np.concatenate(band),
                     np.concatenate(sync))
    assert tilt.shape == (N_BANDS // 2,)
    assert abs(tilt[0] - 0.35) < 0.02 and abs(tilt[1] + 0.1) < 0.02
    assert abs(tilt[2] + 0.15) < 0.02  # no sync pairs: the smaller candidate
