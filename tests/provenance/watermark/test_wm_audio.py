"""Audio watermark v1 (``likeness-stft-ss/1``, the scheme publish falls back to): SNR >= 30 dB,
keyed, and robust to codecs, resampling and gain; and the publish choice between v2 and v1
(`embed_checked`).

Test audio is espeak-ng speech over pink noise and two soft tones, mixed by ffmpeg
(provenance.watermark.attacks.speech_mix); codecs are the real ffmpeg AAC and LAME.
v2's own properties are in test_audio_v2.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from likeness.errors import BadInput
from provenance.watermark.audio import ALGORITHM, FALLBACK, AudioWatermarker
from provenance.watermark.keys import new_watermark_key
from tests.support import attacks
from tests.support import audio_attacks as AA
from tests.support.audio_attacks import librivox_available as attacks_speech_available

KEY = bytes(range(100, 132))
RENDER_ID = 0x0A11_CE00_1234_5678
RATE_HZ = 48_000
TEXT = ("Every render carries an invisible mark. The performer signed a grant, "
        "and the studio keeps a ledger of what was made.")


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return attacks.speech_mix(TEXT, seconds=5, sample_rate=RATE_HZ, seed=3)


@pytest.fixture(scope="module")
def marked(speech: np.ndarray) -> np.ndarray:
    return AudioWatermarker(KEY, algorithm=FALLBACK).embed(speech, RATE_HZ, RENDER_ID)


def test_embed_keeps_shape_dtype_and_snr(speech: np.ndarray, marked: np.ndarray) -> None:
    assert marked.shape == speech.shape and marked.dtype == np.float32
    assert attacks.snr_db(speech, marked) >= 30.0
    assert not np.array_equal(speech, marked)


def test_round_trip(marked: np.ndarray) -> None:
    found = AudioWatermarker(KEY).detect(marked, RATE_HZ)
    assert found.render_id == RENDER_ID
    assert found.bit_accuracy == 1.0 and found.confidence > 0.999 and found.frames_used > 0


def test_unmarked_and_wrong_key_find_nothing(speech: np.ndarray, marked: np.ndarray) -> None:
    assert AudioWatermarker(KEY).detect(speech, RATE_HZ).render_id is None
    assert AudioWatermarker(new_watermark_key()).detect(marked, RATE_HZ).render_id is None


def test_survives_aac_96k(marked: np.ndarray) -> None:
    decoded = attacks.aac(marked, RATE_HZ, bitrate_kbps=96)
    assert AudioWatermarker(KEY).detect(decoded, RATE_HZ).render_id == RENDER_ID


def test_survives_mp3_128k(marked: np.ndarray) -> None:
    decoded = attacks.mp3(marked, RATE_HZ, bitrate_kbps=128)
    assert AudioWatermarker(KEY).detect(decoded, RATE_HZ).render_id == RENDER_ID


def test_survives_resampling_to_16k(marked: np.ndarray) -> None:
    low = attacks.resample(marked, RATE_HZ, target_rate=16_000)
    assert AudioWatermarker(KEY).detect(low, 16_000).render_id == RENDER_ID


@pytest.mark.parametrize("gain_db", [-6.0, 6.0])
def test_survives_gain(marked: np.ndarray, gain_db: float) -> None:
    louder = (marked * np.float32(10 ** (gain_db / 20))).astype(np.float32)
    assert AudioWatermarker(KEY).detect(louder, RATE_HZ).render_id == RENDER_ID


def test_survives_cutting_the_start(marked: np.ndarray) -> None:
    cut = marked[int(1.3 * RATE_HZ):]
    assert AudioWatermarker(KEY).detect(cut, RATE_HZ).render_id == RENDER_ID


def test_stereo_44k1_keeps_shape_and_decodes() -> None:
    stereo = attacks.speech_mix(TEXT, seconds=4, sample_rate=44_100, seed=5, channels=2)
    marked = AudioWatermarker(KEY, algorithm=FALLBACK).embed(stereo, 44_100, RENDER_ID)
    assert marked.shape == stereo.shape and marked.dtype == stereo.dtype
    assert attacks.snr_db(stereo, marked) >= 30.0
    assert AudioWatermarker(KEY).detect(marked[:, 1], 44_100).render_id == RENDER_ID


def test_bad_input_is_refused(speech: np.ndarray) -> None:
    wm = AudioWatermarker(KEY)
    with pytest.raises(BadInput):
        wm.embed(speech[:RATE_HZ], RATE_HZ, RENDER_ID)  # shorter than one period
    with pytest.raises(BadInput):
        wm.embed(speech.astype(np.int16), RATE_HZ, RENDER_ID)
    with pytest.raises(BadInput):
        wm.detect(speech, 4_000)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_codecs_after_a_cut(seed: int) -> None:
    """Harder: the start is cut *and* the rest is coded, on several voices/beds."""
    audio = attacks.speech_mix(TEXT, seconds=6, sample_rate=RATE_HZ, seed=seed)
    wm = AudioWatermarker(KEY)
    marked = wm.embed(audio, RATE_HZ, RENDER_ID)
    cut = marked[int(0.77 * RATE_HZ):]
    assert wm.detect(attacks.mp3(cut, RATE_HZ), RATE_HZ).render_id == RENDER_ID
    assert wm.detect(attacks.aac(cut, RATE_HZ), RATE_HZ).render_id == RENDER_ID


def test_publish_embeds_v2_where_it_reads_back_else_v1(speech: np.ndarray) -> None:
    """Publish's choice (`embed_checked`): v2 on speech, v1 where v2 does not decode from
    the marked audio itself (a steady pink-noise bed, as room tone: v2 does not read back
    from it, v1 does; since the soft-distance decoding v2 reads 38 of 39 synthetic music
    beds, so music no longer makes this case)."""
    marks = AudioWatermarker(KEY)
    marked, scheme = marks.embed_checked(speech, RATE_HZ, RENDER_ID)
    assert scheme == ALGORITHM
    assert attacks.snr_db(speech, marked) >= 30.0
    assert marks.detect(marked, RATE_HZ).algorithm == ALGORITHM
    bed = AA.noise("pink", seconds=6, sample_rate=RATE_HZ, seed=0)
    v2_only = AudioWatermarker(KEY, algorithm=ALGORITHM).embed(bed, RATE_HZ, RENDER_ID)
    assert marks.detect(v2_only, RATE_HZ).render_id != RENDER_ID
    marked, scheme = marks.embed_checked(bed, RATE_HZ, RENDER_ID)
    assert scheme == FALLBACK
    found = marks.detect(marked, RATE_HZ)
    assert (found.render_id, found.algorithm) == (RENDER_ID, FALLBACK)
    if not attacks_speech_available():
        pytest.skip("LibriVox excerpts (pocketsphinx-en-us test data) not installed")
    real = AA.real_speech(seconds=8.0, start_s=20.0, sample_rate=RATE_HZ)
    marked, scheme = marks.embed_checked(real, RATE_HZ, RENDER_ID)
    assert scheme == ALGORITHM and marks.detect(marked, RATE_HZ).render_id == RENDER_ID
