"""MuseTalk end to end on a generated clip of a fictional portrait, with RANDOM weights.

The checkpoints are written by the test (official layout and names, reduced widths,
random values) and loaded strictly, then a short clip goes through the engine's
render(): crop, VAE encode, UNet step, VAE decode, paste. Random weights paint noise,
so these tests check the plumbing (order, pass-through, where pixels may change,
batching, the network's inputs), never lip quality.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from likeness.errors import BadInput  # noqa: E402
from models.face.tracking import TrackedFace  # noqa: E402
from models.lipsync.musetalk.audio import (  # noqa: E402
    frame_windows,
    log_mel_segments,
)
from models.lipsync.musetalk.config import Architecture  # noqa: E402
from models.lipsync.musetalk.crop import blend_mask, crop_box  # noqa: E402
from models.lipsync.musetalk.engine import MuseTalkEngine  # noqa: E402
from models.lipsync.musetalk.layout import require_placement  # noqa: E402
from models.lipsync.musetalk.loading import load_networks  # noqa: E402
from models.lipsync.musetalk.networks import MuseTalkNetworks  # noqa: E402
from models.lipsync.musetalk.whisper import WhisperEncoder  # noqa: E402
from tests.models.lipsync.test_musetalk_checkpoint import write_official_layout  # noqa: E402

FACES_DIR = Path(__file__).resolve().parents[3] / "assets" / "faces"
FPS = 25.0
RATE = 16_000
FRAME_COUNT = 6
NO_FACE_FRAME = 3
SIZE = 360
REAL_MODELS = Path(os.environ.get("LIKENESS_MODELS_DIR", "/nonexistent"))


def speech_like(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t))
    return (0.2 * envelope * sum(np.sin(2 * np.pi * 140 * k * t) / k
                                 for k in range(1, 8))).astype(np.float32)


@pytest.fixture(scope="module")
def clip() -> tuple[list[np.ndarray], list[TrackedFace | None]]:
    """female01 on a canvas, drifting a pixel per frame, tracked with dlib."""
    from models.face import load_image
    from models.face.tracking import FaceTracker
    from tests.support.engines import engine

    portrait = load_image(FACES_DIR / "female01.png")
    frames = []
    for index in range(FRAME_COUNT):
        canvas = np.full((SIZE, SIZE, 3), (200, 205, 210), dtype=np.uint8)
        canvas[20 + index % 2:340 + index % 2, 20 + index:340 + index] = portrait
        frames.append(canvas)
    track = list(FaceTracker(engine("face", "dlib"), fps=FPS).track(frames))
    assert all(t is not None for t in track), "dlib must find the portrait in every frame"
    track[NO_FACE_FRAME] = None  # a lost face passes through
    return frames, track


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> MuseTalkEngine:
    """Random reduced networks, saved in the official layout and loaded back strictly."""
    torch.manual_seed(3)
    models_dir = tmp_path_factory.mktemp("models")
    write_official_layout(models_dir, MuseTalkNetworks(Architecture.reduced()).eval())
    networks, loaded = load_networks(require_placement(models_dir),
                                     architecture=Architecture.reduced())
    return MuseTalkEngine(networks, device="cpu", batch_size=4, weights=loaded.digests)


def render(engine: MuseTalkEngine, frames: list[np.ndarray],
           track: list[TrackedFace | None]) -> list[np.ndarray]:
    return list(engine.render(iter(frames), iter(track), speech_like(0.5), RATE, fps=FPS))


def test_render_end_to_end_changes_only_the_lower_face(clip, engine) -> None:  # type: ignore[no-untyped-def]
    frames, track = clip
    out = render(engine, frames, track)
    assert len(out) == FRAME_COUNT and out[NO_FACE_FRAME] is frames[NO_FACE_FRAME]
    assert engine.last_stats.frames == FRAME_COUNT
    assert engine.last_stats.changed == FRAME_COUNT - 1 and engine.last_stats.passed_through == 1
    assert len(engine.weights) == 3  # each loaded file's SHA-256 is on record
    for before, after, tracked in zip(frames, out, track, strict=True):
        assert after.shape == before.shape and after.dtype == np.uint8
        if tracked is None:
            continue
        region = crop_box(tracked.face, frame_height=SIZE, frame_width=SIZE)
        assert region is not None
        changed = np.any(after != before, axis=2)
        allowed = np.zeros_like(changed)
        allowed[region.top:region.bottom, region.left:region.right] = (
            blend_mask(tracked.face, region) > 0)
        assert changed.any() and not changed[~allowed].any()  # eyes, hair, background intact
        nose_y = tracked.face.landmarks[29, 1]
        assert not changed[: int(np.floor(nose_y)) - 1].any()  # nothing above the nose


@pytest.mark.slow
def test_renders_are_reproducible_and_batch_size_does_not_change_them(clip, engine) -> None:  # type: ignore[no-untyped-def]
    frames, track = clip
    four = render(engine, frames, track)
    again = render(engine, frames, track)
    assert all(np.array_equal(a, b) for a, b in zip(four, again, strict=True))  # no sampling
    one = render(MuseTalkEngine(engine.networks, device="cpu", batch_size=1), frames, track)
    for a, b in zip(one, four, strict=True):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 2  # float rounding only


def test_each_frame_gets_its_own_audio_window_and_an_identity_paints_the_face_back(
        clip, engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    frames, track = clip
    seen: list[tuple[np.ndarray, np.ndarray]] = []

    def identity(crops: np.ndarray, prompts: np.ndarray) -> np.ndarray:
        seen.append((crops.copy(), prompts.copy()))
        return crops

    monkeypatch.setattr(engine, "generate", identity)
    out = render(engine, frames, track)
    faced = [i for i in range(FRAME_COUNT) if i != NO_FACE_FRAME]
    prompts = np.concatenate([p for _, p in seen])
    features = engine.speech_features(speech_like(0.5), RATE)
    assert np.array_equal(prompts, frame_windows(features, np.array(faced), fps=FPS))
    assert prompts.shape == (len(faced), 50, 384)
    assert all(c.shape[1:] == (256, 256, 3) for c, _ in seen)
    for index in faced:
        region = crop_box(track[index].face, frame_height=SIZE, frame_width=SIZE)
        box = (slice(region.top, region.bottom), slice(region.left, region.right))
        error = np.abs(out[index][box].astype(int) - frames[index][box].astype(int))
        assert error.mean() < 1.5, (index, error.mean())  # the round trip lands in place


def test_the_vae_sees_a_black_lower_half_and_the_whole_face(engine) -> None:  # type: ignore[no-untyped-def]
    networks = engine.networks
    faces = torch.rand(2, 3, 256, 256) * 2 - 1
    with torch.inference_mode():
        latents = networks.encode_faces(faces)
        masked = faces.clone()
        masked[:, :, 128:] = -1.0
        expect_masked = networks.vae.encode(masked).latent_dist.mean * 0.18215
        expect_ref = networks.vae.encode(faces).latent_dist.mean * 0.18215
    assert tuple(latents.shape) == (2, 8, 32, 32)
    assert torch.allclose(latents[:, :4], expect_masked, atol=1e-5)
    assert torch.allclose(latents[:, 4:], expect_ref, atol=1e-5)


def test_audio_windows_follow_musetalk_timing() -> None:
    features = np.arange(40, dtype=np.float32)[:, None, None] * np.ones((1, 5, 384), np.float32)
    windows = frame_windows(features, np.array([0, 10, 19]), fps=25.0)
    steps = windows.reshape(3, 10, 5, 384)[..., 0, 0]  # time-major, then hidden state
    assert steps[0].tolist() == [0, 0, 0, 0, 0, 1, 2, 3, 4, 5]  # 4 silent steps before t=0
    assert steps[1].tolist() == list(range(16, 26))  # frame 10 at 0.4 s: steps 16..25
    assert steps[2].tolist() == list(range(34, 40)) + [0] * 4  # past the speech: silence
    thirty = frame_windows(features, np.array([3]), fps=30.0).reshape(10, 5, 384)[:, 0, 0]
    assert thirty.tolist() == list(range(1, 11))  # floor(3 * 50 / 30) - 4 = 1
    with pytest.raises(BadInput, match="fps"):
        frame_windows(features, np.array([0]), fps=0)


def test_log_mel_is_whispers_recipe() -> None:
    silence = log_mel_segments(np.zeros(RATE))
    assert silence.shape == (1, 80, 3000) and np.allclose(silence, (-10 + 4) / 4)
    long = log_mel_segments(np.zeros(31 * RATE))
    assert long.shape == (2, 80, 3000)  # 30 s per row, the last one zero-padded
    t = np.arange(2 * RATE) / RATE
    tone = log_mel_segments(0.5 * np.sin(2 * np.pi * 1000 * t))[0]
    assert tone.max() <= tone[:, 50].max() + 1e-6  # the tone's frames hold the peak
    band = int(np.argmax(tone[:, 50]))
    assert 25 <= band <= 30  # 1 kHz falls in Slaney band ~27 of 80 (0-8 kHz)
    assert tone[:, 2500].max() == pytest.approx(tone.max() - 2.0, abs=1e-6)  # 8 decades floor


def test_whisper_encoder_returns_five_hidden_states() -> None:
    torch.manual_seed(0)
    encoder = WhisperEncoder().eval()
    gelu = torch.nn.functional.gelu
    mel = torch.randn(1, 80, 3000)
    with torch.inference_mode():
        states = encoder(mel)
        embedded = gelu(encoder.conv2(gelu(encoder.conv1(mel)))).transpose(1, 2)
        embedded = embedded + encoder.embed_positions.weight
        after_first = encoder.layers[0](embedded)
    assert tuple(states.shape) == (1, 1500, 5, 384)  # 50 steps/s for 30 s, 5 states
    assert torch.allclose(states[:, :, 0], embedded, atol=1e-5)  # the embeddings first
    assert torch.allclose(states[:, :, 1], after_first, atol=1e-5)
    assert torch.allclose(states[0, :, 4].mean(dim=-1), torch.zeros(1500), atol=1e-4)  # normed
    assert not torch.allclose(states[0, :, 3].mean(dim=-1), torch.zeros(1500), atol=1e-4)


@pytest.mark.slow
def test_the_official_weights_load_strictly_and_render(clip) -> None:  # type: ignore[no-untyped-def]
    """Runs where the user placed MuseTalk 1.5's files under $LIKENESS_MODELS_DIR/musetalk/."""
    from models.lipsync import musetalk

    if not musetalk.placed(REAL_MODELS):
        pytest.skip("official MuseTalk 1.5 weights not placed in $LIKENESS_MODELS_DIR")
    official = musetalk.create(models_dir=REAL_MODELS)
    frames, track = clip
    out = render(official, frames, track)
    assert official.last_stats.changed == FRAME_COUNT - 1 and len(official.weights) == 3
    for before, after, tracked in zip(frames, out, track, strict=True):
        if tracked is None:
            assert after is before
            continue
        region = crop_box(tracked.face, frame_height=SIZE, frame_width=SIZE)
        box = (slice(region.top, region.bottom), slice(region.left, region.right))
        # trained weights repaint the mouth of the same face: close to the source, not noise
        assert np.abs(after[box].astype(int) - before[box].astype(int)).mean() < 25
