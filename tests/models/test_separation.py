"""Source separation: the registry picks Demucs only with a checkpoint, loads it safely,
and the dub's mix keeps the separated music and effects under the new lines.

HT-Demucs weights are not installable here, so the Demucs tests build a checkpoint in
the test: the real HTDemucs architecture (a small configuration) with random weights,
saved in Demucs' own package format. That proves the wiring (loading, resampling,
channels, stems, SHA-256, the registry's choice), not the separation's quality.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest

from flows.dub import mix_soundtrack
from likeness.errors import BadInput, MissingWeights
from media.audio import AudioTrack
from models import registry
from models.separation import Stems
from tests.support.engines import NO_MODELS_DIR, STUDIO_DEFAULT, engine

RATE_HZ = 48_000


def _tiny_htdemucs(path: Path) -> Path:
    """A random-weight HTDemucs (4 stems, vocals last) in the format Demucs saves."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("demucs")
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(0)
    kwargs = {"sources": ["drums", "bass", "other", "vocals"], "channels": 8, "depth": 2,
              "t_layers": 1, "t_heads": 2, "nfft": 1024, "segment": 2}
    model = HTDemucs(**kwargs)
    torch.save({"klass": HTDemucs, "args": (), "kwargs": kwargs,
                "state": model.state_dict(), "training_args": {}}, path)
    return path


def test_without_a_checkpoint_auto_separates_nothing_and_says_why() -> None:
    choice = registry.choose("separation", models_dir=NO_MODELS_DIR, policy=STUDIO_DEFAULT)
    assert choice.name == "none"
    assert any(s.startswith("demucs:") and "--separation-weights" in s for s in choice.skipped)
    assert engine("separation").separate(np.zeros((100, 2), np.float32), RATE_HZ) is None
    with pytest.raises(MissingWeights, match="no HT-Demucs checkpoint"):
        engine("separation", "demucs")


def test_a_demucs_checkpoint_is_picked_loaded_and_splits_the_track(tmp_path: Path) -> None:
    models = tmp_path / "models"
    (models / "demucs").mkdir(parents=True)
    checkpoint = _tiny_htdemucs(models / "demucs" / "tiny-htdemucs.th")
    choice = registry.choose("separation", models_dir=models, policy=STUDIO_DEFAULT)
    assert choice.name == "demucs"
    separator = registry.build(choice)

    t = np.arange(int(1.5 * RATE_HZ)) / RATE_HZ
    stereo = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], axis=1)
    stems = separator.separate((0.2 * stereo).astype(np.float32), RATE_HZ)
    assert stems.vocals.shape == stems.background.shape == stereo.shape  # rate, channels kept
    assert stems.vocals.dtype == np.float32
    assert np.isfinite(stems.vocals).all() and np.isfinite(stems.background).all()
    assert float(np.abs(stems.background).max()) > 0.0
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert stems.model == f"demucs:tiny-htdemucs.th sha256={digest}"

    mono = separator.separate((0.2 * stereo[:, :1]).astype(np.float32), 16_000)
    assert mono.vocals.shape == (stereo.shape[0], 1)  # back to the input's layout

    named = engine("separation", "demucs", weights=checkpoint)  # --separation-weights PATH
    assert named.sha256 == digest


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("demucs")

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("this must never run",))

    evil = tmp_path / "evil.th"
    evil.write_bytes(pickle.dumps({"klass": Payload()}))
    with pytest.raises(BadInput, match="not a Demucs checkpoint"):
        engine("separation", "demucs", weights=evil).separate(
            np.zeros((4800, 2), np.float32), RATE_HZ)


def test_the_mix_keeps_the_separated_music_under_the_new_lines() -> None:
    """With stems the music plays on where the original voice was, at its own level
    (within 1 dB), and no voice is left there; without them the region is cut in time."""
    t = np.arange(4 * RATE_HZ) / RATE_HZ
    music = (0.05 * np.sin(2 * np.pi * 110 * t)).astype(np.float32)
    voice = np.zeros_like(music)
    voice[RATE_HZ:3 * RATE_HZ] = 0.3 * np.sin(2 * np.pi * 440 * t[RATE_HZ:3 * RATE_HZ]) \
        * (np.sin(2 * np.pi * 3 * t[RATE_HZ:3 * RATE_HZ]) > 0)
    original = AudioTrack(np.stack([music + voice, music + voice], axis=1), RATE_HZ)
    stems = Stems(vocals=np.stack([voice, voice], axis=1),
                  background=np.stack([music, music], axis=1), model="test stems")
    heard = ((1.0, 3.0),)  # the original line, as the recognizer would mark it
    separated = mix_soundtrack.fn(original, (), heard_words=heard, stems=stems)
    in_time = mix_soundtrack.fn(original, (), heard_words=heard)

    def level_db(samples: np.ndarray) -> float:
        return float(20 * np.log10(np.sqrt(np.mean(np.square(samples))) + 1e-12))

    under = slice(int(1.5 * RATE_HZ), int(2.5 * RATE_HZ))
    outside = slice(0, int(0.8 * RATE_HZ))
    kept = separated.mixed.samples
    assert separated.report.separation == "test stems"
    assert separated.engines == ("separation:demucs",)
    assert separated.report.attenuation_db == 0.0
    assert abs(level_db(kept[under]) - level_db(kept[outside])) <= 1.0  # music plays on
    spectrum = np.abs(np.fft.rfft(kept[under, 0]))
    freqs = np.fft.rfftfreq(under.stop - under.start, 1 / RATE_HZ)
    voice_bin, music_bin = (int(np.argmin(np.abs(freqs - f))) for f in (440.0, 110.0))
    assert spectrum[voice_bin] < 0.01 * spectrum[music_bin]  # none of the old voice left
    assert in_time.report.separation is None and in_time.engines == ()
    assert in_time.report.attenuation_db <= -30.0  # the fallback: removed in time
