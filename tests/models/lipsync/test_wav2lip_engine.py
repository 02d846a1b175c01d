"""The streaming engine on a generated clip of a fictional portrait (random weights).

The network weights are random, so these tests check plumbing, not lip quality:
order, pass-through, where pixels may change, batching invariance, device handling.
A real-weights test runs when ``$LIKENESS_MODELS_DIR/wav2lip/wav2lip.pth`` exists.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from likeness.errors import BadInput, MissingWeights  # noqa: E402
from models.face.tracking import TrackedFace  # noqa: E402
from models.lipsync.wav2lip import Wav2LipEngine  # noqa: E402
from models.lipsync.wav2lip.crop import blend_mask, face_crop_box  # noqa: E402
from models.lipsync.wav2lip.model import Wav2Lip  # noqa: E402

FACES_DIR = Path(__file__).resolve().parents[3] / "assets" / "faces"
FPS = 25.0
RATE = 16_000
FRAME_COUNT = 10
NO_FACE_FRAME = 4
REAL_CHECKPOINT = Path(os.environ.get("LIKENESS_MODELS_DIR", "/nonexistent")) / "wav2lip" / (
    "wav2lip.pth")


def speech_like(seconds: float) -> np.ndarray:
    """Amplitude-modulated harmonics: syllable-rate loudness changes, voiced spectrum."""
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t))
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 8))
    return (0.2 * envelope * voice).astype(np.float32)


@pytest.fixture(scope="module")
def clip() -> tuple[list[np.ndarray], list[TrackedFace | None]]:
    """female01 on a 400x400 canvas, drifting a few pixels per frame, tracked with dlib."""
    from models.face import load_image
    from models.face.tracking import FaceTracker
    from tests.support.engines import engine

    portrait = load_image(FACES_DIR / "female01.png")
    frames = []
    for index in range(FRAME_COUNT):
        canvas = np.full((400, 400, 3), (200, 205, 210), dtype=np.uint8)
        dx, dy = 30 + 2 * index, 40 + (index % 3)
        canvas[dy:dy + 320, dx:dx + 320] = portrait
        frames.append(canvas)
    track = list(FaceTracker(engine("face", "dlib"), fps=FPS).track(frames))
    assert all(t is not None for t in track), "dlib must find the portrait in every frame"
    track[NO_FACE_FRAME] = None  # a frame where the face is lost passes through
    return frames, track


@pytest.fixture(scope="module")
def network() -> Wav2Lip:
    torch.manual_seed(7)
    return Wav2Lip().eval()


def render(engine: Wav2LipEngine, frames: list[np.ndarray],
           track: list[TrackedFace | None]) -> list[np.ndarray]:
    return list(engine.render(iter(frames), iter(track), speech_like(1.0), RATE, fps=FPS))


def test_stream_order_pass_through_and_changed_area(clip, network) -> None:  # type: ignore[no-untyped-def]
    frames, track = clip
    engine = Wav2LipEngine.from_network(network, device="cpu", batch_size=4, smooth_window=1)
    out = render(engine, frames, track)
    assert len(out) == FRAME_COUNT
    assert out[NO_FACE_FRAME] is frames[NO_FACE_FRAME]
    assert engine.last_stats.frames == FRAME_COUNT
    assert engine.last_stats.changed == FRAME_COUNT - 1
    assert engine.last_stats.passed_through == 1
    for index, (before, after) in enumerate(zip(frames, out, strict=True)):
        assert after.shape == before.shape and after.dtype == np.uint8
        tracked = track[index]
        if tracked is None:
            continue
        region = face_crop_box(tracked.face, frame_height=400, frame_width=400)
        assert region is not None
        changed = np.any(after != before, axis=2)
        inside = np.zeros_like(changed)
        inside[region.top:region.bottom, region.left:region.right] = True
        assert changed.any() and not changed[~inside].any()  # nothing outside the box moves
        mask = blend_mask(region.height, region.width, top_fraction=engine.blend_top_fraction)
        box_changed = changed[region.top:region.bottom, region.left:region.right]
        assert not box_changed[mask == 0].any()  # eyes and feathered rim stay original


def test_batch_size_does_not_change_the_output(clip, network) -> None:  # type: ignore[no-untyped-def]
    frames, track = clip[0][:7], clip[1][:7]
    one = render(Wav2LipEngine.from_network(network, device="cpu", batch_size=1), frames, track)
    seven = render(Wav2LipEngine.from_network(network, device="cpu", batch_size=7), frames, track)
    for a, b in zip(one, seven, strict=True):
        diff = np.abs(a.astype(int) - b.astype(int))
        assert diff.max() <= 1 and (diff == 0).mean() > 0.999  # float rounding only


class EchoNetwork(Wav2Lip):
    """Returns the reference crop unchanged and records what the engine fed it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, mel: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        self.calls.append((mel.clone(), faces.clone()))
        return faces[:, 3:6]


def test_network_inputs_follow_the_training_layout() -> None:
    echo = EchoNetwork()
    engine = Wav2LipEngine.from_network(echo, device="cpu", batch_size=2)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, size=(2, 96, 96, 3), dtype=np.uint8)
    mels = rng.uniform(-4, 4, size=(2, 80, 16)).astype(np.float32)
    out = engine.predict(crops, mels)
    mel_in, faces_in = echo.calls[-1]
    assert tuple(mel_in.shape) == (2, 1, 80, 16)
    assert np.array_equal(mel_in[:, 0].numpy(), mels)
    assert tuple(faces_in.shape) == (2, 6, 96, 96)
    bgr = crops[..., ::-1].transpose(0, 3, 1, 2) / 255.0  # trained on OpenCV's BGR order
    assert np.allclose(faces_in[:, 3:].numpy(), bgr, atol=1e-6)
    assert np.all(faces_in[:, :3, 48:].numpy() == 0)  # lower half of the target hidden
    assert np.allclose(faces_in[:, :3, :48].numpy(), bgr[:, :, :48], atol=1e-6)
    assert out.shape == (2, 96, 96, 3) and out.dtype == np.float32
    assert np.allclose(out, crops, atol=1e-3)  # back to RGB 0..255
    with pytest.raises(BadInput, match="uint8"):
        engine.predict(crops.astype(np.float32), mels)
    with pytest.raises(BadInput, match="mel windows"):
        engine.predict(crops, mels[:1])


def test_render_feeds_each_frame_its_own_mel_window_and_pastes_in_place(clip) -> None:  # type: ignore[no-untyped-def]
    from models.lipsync.wav2lip.audio import mel_windows, melspectrogram, prepare_audio

    frames, track = clip
    echo = EchoNetwork()
    engine = Wav2LipEngine.from_network(echo, device="cpu", batch_size=3)
    audio = speech_like(1.0)
    out = list(engine.render(frames, track, audio, RATE, fps=FPS))
    fed = torch.cat([mel for mel, _ in echo.calls])[:, 0].numpy()
    faced = [i for i in range(FRAME_COUNT) if i != NO_FACE_FRAME]
    expected = mel_windows(melspectrogram(prepare_audio(audio, sample_rate=RATE)),
                           np.array(faced), fps=FPS)
    assert np.array_equal(fed, expected)
    for index, (before, after) in enumerate(zip(frames, out, strict=True)):
        if index == NO_FACE_FRAME:
            continue
        region = face_crop_box(track[index].face, frame_height=400, frame_width=400)
        box = (slice(region.top, region.bottom), slice(region.left, region.right))
        error = np.abs(after[box].astype(int) - before[box].astype(int))
        # an identity network gives the face back where it was, up to the 96 px round trip
        assert error.mean() < 1.5, (index, error.mean())
        shifted = np.abs(np.roll(after, 3, axis=0)[box].astype(int) - before[box].astype(int))
        assert shifted.mean() > 4 * error.mean()  # a 3 px misplacement would show


@pytest.mark.parametrize("batch_size", [1, 3, 7, 64])
def test_batching_and_queueing_are_exact_with_an_identity_network(clip, batch_size) -> None:  # type: ignore[no-untyped-def]
    frames, track = clip
    reference = render(Wav2LipEngine.from_network(EchoNetwork(), device="cpu", batch_size=2),
                       frames, track)
    out = render(Wav2LipEngine.from_network(EchoNetwork(), device="cpu", batch_size=batch_size),
                 frames, track)
    assert all(np.array_equal(a, b) for a, b in zip(reference, out, strict=True))


def test_cpu_placement_ignores_fp16(network) -> None:  # type: ignore[no-untyped-def]
    engine = Wav2LipEngine.from_network(network, device="cpu", fp16=True)
    assert engine.device.type == "cpu" and engine.dtype == torch.float32
    assert all(p.device.type == "cpu" and p.dtype == torch.float32
               for p in engine.network.parameters())
    auto = Wav2LipEngine.from_network(network, device="auto")
    assert auto.device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_bad_devices_and_options_are_refused(network) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadInput, match="unknown device"):
        Wav2LipEngine.from_network(network, device="warp-drive")
    with pytest.raises(BadInput, match="not supported"):
        Wav2LipEngine.from_network(network, device="meta")
    if not torch.cuda.is_available():
        with pytest.raises(BadInput, match="CUDA is not available"):
            Wav2LipEngine.from_network(network, device="cuda")
    with pytest.raises(BadInput, match="batch_size"):
        Wav2LipEngine.from_network(network, device="cpu", batch_size=0)


def test_track_and_frames_must_have_equal_length(clip, network) -> None:  # type: ignore[no-untyped-def]
    frames, track = clip
    engine = Wav2LipEngine.from_network(network, device="cpu", batch_size=4)
    with pytest.raises(BadInput, match="ended at frame 2"):
        list(engine.render(frames[:5], track[:2], speech_like(0.4), RATE, fps=FPS))
    with pytest.raises(BadInput, match="longer than the video"):
        list(engine.render(frames[:2], track[:3], speech_like(0.4), RATE, fps=FPS))
    with pytest.raises(BadInput, match="fps"):
        list(engine.render(frames[:2], track[:2], speech_like(0.4), RATE, fps=0.0))


def test_engine_loads_a_checkpoint_file(tmp_path: Path) -> None:
    state = Wav2Lip().state_dict()
    torch.save({"state_dict": {"module." + k: v for k, v in state.items()}},
               tmp_path / "wav2lip.pth")
    engine = Wav2LipEngine(tmp_path / "wav2lip.pth", device="cpu", batch_size=8)
    assert engine.checkpoint == tmp_path / "wav2lip.pth" and engine.batch_size == 8
    with pytest.raises(MissingWeights, match="wav2lip_gan.pth"):
        Wav2LipEngine(tmp_path / "wav2lip_gan.pth")
    with pytest.raises(MissingWeights):
        Wav2LipEngine.from_models_dir(models_dir=tmp_path / "empty")


@pytest.mark.skipif(not REAL_CHECKPOINT.is_file(),
                    reason="no official checkpoint at $LIKENESS_MODELS_DIR/wav2lip/wav2lip.pth")
def test_real_checkpoint_renders_the_clip(clip) -> None:  # type: ignore[no-untyped-def]
    frames, track = clip
    engine = Wav2LipEngine(REAL_CHECKPOINT, device="auto", batch_size=16)
    out = render(engine, frames, track)
    assert len(out) == FRAME_COUNT and out[NO_FACE_FRAME] is frames[NO_FACE_FRAME]
    changed = [np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(out, frames,
                                                                               strict=True)]
    assert all(c > 0 for i, c in enumerate(changed) if i != NO_FACE_FRAME)
    assert max(changed) < 20  # trained weights redraw a mouth, not noise over the frame


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fp16_matches_cpu_fp32(network) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    crops = rng.integers(0, 256, size=(16, 96, 96, 3), dtype=np.uint8)
    mels = rng.uniform(-4, 4, size=(16, 80, 16)).astype(np.float32)
    cpu = Wav2LipEngine.from_network(Wav2Lip().eval(), device="cpu")
    cpu.network.load_state_dict(network.state_dict())
    gpu = Wav2LipEngine.from_network(Wav2Lip().eval(), device="cuda", fp16=True)
    gpu.network.load_state_dict(network.state_dict())
    assert gpu.dtype == torch.float16
    assert next(gpu.network.parameters()).device.type == "cuda"
    diff = np.abs(cpu.predict(crops, mels) - gpu.predict(crops, mels))
    assert diff.mean() < 1.0 and diff.max() < 8.0
