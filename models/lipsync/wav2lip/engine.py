"""Wav2Lip inference as a stream: frames and face tracks in, lip-synced frames out.

Per frame: the tracked face gives a padded box (smoothed over 5 frames), the box is
stretched to 96x96, paired with the 80x16 mel window for that frame's time, and
sent through the generator in batches; the generated face is resized back and
blended into the frame through a feathered mask. Frames without a face pass through
untouched, and output order always equals input order. Memory stays bounded: at
most ``batch_size`` faces (plus a few frames of look-ahead) wait at any time.

On CUDA the generator runs in fp16 with channels-last tensors; everything runs under
``torch.inference_mode()``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from likeness.errors import BadInput
from models.face.align import Region
from models.face.base import check_rgb_image
from models.face.tracking import TrackedFace
from models.lipsync import torch_checks
from models.lipsync.wav2lip.audio import mel_windows, melspectrogram, prepare_audio
from models.lipsync.wav2lip.checkpoint import (
    ENGINE_NAME,
    find_checkpoint,
    load_generator,
    require_checkpoint_file,
)
from models.lipsync.wav2lip.crop import (
    DEFAULT_BLEND_TOP_FRACTION,
    PADS_PX,
    SMOOTH_WINDOW_FRAMES,
    BoxSmoother,
    blend_mask,
    crop_face,
    face_crop_box,
    paste_face,
)
from models.lipsync.wav2lip.model import FACE_SIZE_PX, Wav2Lip
from models.stream import FrameTally, RenderStats

DEFAULT_BATCH_SIZE = 128
PENDING_FRAMES_PER_BATCH = 2  # flush early when this many batches' worth of frames wait
_PIXEL_MAX = 255.0


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; an explicit CUDA request must be satisfiable."""
    return torch_checks.resolve_device(device, engine="wav2lip",
                                       cuda_missing_hint="use --device cpu (slow) or auto")


@dataclass(slots=True)
class _Slot:
    """One frame waiting in the output queue; `output` is filled when its batch has run."""

    index: int
    frame: np.ndarray
    region: Region | None
    output: np.ndarray | None = None


class Wav2LipEngine:
    """Lip-syncs a face track to new speech with the Wav2Lip generator."""

    name = ENGINE_NAME
    needs_track = True
    alters_mouth = True

    def __init__(
        self,
        checkpoint: Path,
        *,
        device: str = "auto",
        batch_size: int = DEFAULT_BATCH_SIZE,
        fp16: bool = True,
        blend_top_fraction: float = DEFAULT_BLEND_TOP_FRACTION,
        pads_px: tuple[int, int, int, int] = PADS_PX,
        smooth_window: int = SMOOTH_WINDOW_FRAMES,
    ) -> None:
        """Load `checkpoint` (strict) onto `device`; fp16 applies on CUDA only."""
        network = load_generator(require_checkpoint_file(Path(checkpoint)))
        self._setup(network, device=device, batch_size=batch_size, fp16=fp16,
                    blend_top_fraction=blend_top_fraction, pads_px=pads_px,
                    smooth_window=smooth_window)
        self.checkpoint: Path | None = Path(checkpoint)

    @classmethod
    def from_models_dir(
        cls, *, models_dir: Path, gan: bool = False, **options: object
    ) -> Wav2LipEngine:
        """The engine on the checkpoint placed in ``<models_dir>/wav2lip/``."""
        return cls(find_checkpoint(gan=gan, models_dir=models_dir), **options)  # type: ignore[arg-type]

    @classmethod
    def from_network(
        cls,
        network: Wav2Lip,
        *,
        device: str = "auto",
        batch_size: int = DEFAULT_BATCH_SIZE,
        fp16: bool = True,
        blend_top_fraction: float = DEFAULT_BLEND_TOP_FRACTION,
        pads_px: tuple[int, int, int, int] = PADS_PX,
        smooth_window: int = SMOOTH_WINDOW_FRAMES,
    ) -> Wav2LipEngine:
        """An engine around an already-built generator (tests, benchmarks: random weights)."""
        engine = cls.__new__(cls)
        engine._setup(network.eval(), device=device, batch_size=batch_size, fp16=fp16,
                      blend_top_fraction=blend_top_fraction, pads_px=pads_px,
                      smooth_window=smooth_window)
        engine.checkpoint = None
        return engine

    def _setup(
        self, network: Wav2Lip, *, device: str, batch_size: int, fp16: bool,
        blend_top_fraction: float, pads_px: tuple[int, int, int, int], smooth_window: int,
    ) -> None:
        if batch_size < 1:
            raise BadInput(f"wav2lip: batch_size must be >= 1, got {batch_size}")
        if len(pads_px) != 4:
            raise BadInput(f"wav2lip: pads must be (top, bottom, left, right), got {pads_px}")
        blend_mask(8, 8, top_fraction=blend_top_fraction)  # validates the fraction early
        self.device = resolve_device(device)
        on_cuda = self.device.type == "cuda"
        self.dtype = torch.float16 if (fp16 and on_cuda) else torch.float32
        self.memory_format = torch.channels_last if on_cuda else torch.contiguous_format
        if on_cuda:
            torch.backends.cudnn.benchmark = True  # fixed 96x96 input: let cuDNN pick kernels
        self.network = network.to(device=self.device, dtype=self.dtype,
                                  memory_format=self.memory_format).eval()
        self.batch_size = int(batch_size)
        self.blend_top_fraction = float(blend_top_fraction)
        self.pads_px = tuple(int(p) for p in pads_px)
        self.smooth_window = int(smooth_window)
        self.last_stats = RenderStats()

    # -- the network on a batch ---------------------------------------------------------

    def predict(self, faces_rgb: np.ndarray, mels: np.ndarray) -> np.ndarray:
        """Generated faces (B, 96, 96, 3) float32 RGB in [0, 255] for crops and mel windows.

        `faces_rgb` is (B, 96, 96, 3) uint8 RGB; `mels` is (B, 80, 16). Crops travel to
        the device as uint8 (4x less traffic than float) and are converted there.
        """
        faces = np.ascontiguousarray(faces_rgb)
        if faces.dtype != np.uint8 or faces.ndim != 4 or faces.shape[1:] != (
                FACE_SIZE_PX, FACE_SIZE_PX, 3):
            raise BadInput(f"wav2lip: expected (B, {FACE_SIZE_PX}, {FACE_SIZE_PX}, 3) uint8 "
                           f"crops, got {faces.dtype} {faces.shape}")
        if mels.ndim != 3 or mels.shape[0] != faces.shape[0]:
            raise BadInput(f"wav2lip: expected ({faces.shape[0]}, 80, 16) mel windows, "
                           f"got {mels.shape}")
        with torch.inference_mode():
            pixels = torch.from_numpy(faces).to(self.device, non_blocking=True)
            bgr = pixels.flip(-1).permute(0, 3, 1, 2).to(self.dtype) / _PIXEL_MAX
            masked = bgr.clone()
            masked[:, :, FACE_SIZE_PX // 2:] = 0  # hide the mouth: the audio must fill it
            net_in = torch.cat((masked, bgr), dim=1).contiguous(memory_format=self.memory_format)
            mel = torch.from_numpy(np.ascontiguousarray(mels, dtype=np.float32))
            mel = mel.to(self.device, non_blocking=True).unsqueeze(1).to(self.dtype)
            out = self.network(mel, net_in)
            rgb = (out.flip(1) * _PIXEL_MAX).permute(0, 2, 3, 1).float()
            return rgb.cpu().numpy()

    # -- the stream -------------------------------------------------------------------

    def render(
        self,
        frames: Iterable[np.ndarray],
        face_track: Iterable[TrackedFace | None],
        audio: np.ndarray,
        sample_rate: int,
        *,
        fps: float,
        timings: Sequence[object] | None = None,
    ) -> Iterator[np.ndarray]:
        """Lip-synced frames, one per input frame, in order; faceless frames unchanged.

        `frames` are RGB uint8 HxWx3; `face_track` gives one `TrackedFace | None` per
        frame (e.g. `FaceTracker.track`); `audio` is the new speech (any rate, mono or
        (N, channels)); frame i is driven by the speech at i / fps seconds. `timings`
        (phoneme timings) is accepted for the `LipSync` contract and ignored: Wav2Lip
        listens to the audio itself. `last_stats` is set when the stream is exhausted.
        """
        if not fps or fps <= 0:
            raise BadInput(f"wav2lip: fps must be positive, got {fps}")
        mel = melspectrogram(prepare_audio(audio, sample_rate=sample_rate))
        smoother: BoxSmoother[tuple[int, np.ndarray]] = BoxSmoother(window=self.smooth_window)
        pending: deque[_Slot] = deque()
        batch: list[_Slot] = []
        max_pending = PENDING_FRAMES_PER_BATCH * self.batch_size
        tracks = iter(face_track)
        index = -1

        def enqueue(ready: list[tuple[tuple[int, np.ndarray], Region | None]]) -> None:
            for (slot_index, frame), region in ready:
                slot = _Slot(slot_index, frame, region, frame if region is None else None)
                pending.append(slot)
                if region is not None:
                    batch.append(slot)
                if len(batch) >= self.batch_size or (batch and len(pending) >= max_pending):
                    self._run_batch(batch, mel, fps=fps)

        tally = FrameTally()

        def drain() -> Iterator[np.ndarray]:
            while pending and pending[0].output is not None:
                slot = pending.popleft()
                assert slot.output is not None
                count = tally.count_passed if slot.region is None else tally.count_changed
                yield count(slot.output)

        for index, frame in enumerate(frames):
            check_rgb_image(frame)
            tracked = next(tracks, _END)
            if tracked is _END:
                raise BadInput(f"wav2lip: face track ended at frame {index}, before the video",
                               hint="track the same frames you render")
            region = None
            if tracked is not None:
                assert isinstance(tracked, TrackedFace)
                region = face_crop_box(tracked.face, frame_height=frame.shape[0],
                                       frame_width=frame.shape[1], pads_px=self.pads_px)
            enqueue(smoother.push((index, frame), region))
            yield from drain()
        enqueue(smoother.flush())
        if batch:
            self._run_batch(batch, mel, fps=fps)
        yield from drain()
        if next(tracks, _END) is not _END:
            raise BadInput(f"wav2lip: face track is longer than the video ({index + 1} frames)",
                           hint="track the same frames you render")
        self.last_stats = tally.stats

    def _run_batch(self, batch: list[_Slot], mel: np.ndarray, *, fps: float) -> None:
        """Generate every face in `batch` and fill in the slots' outputs; empties `batch`."""
        crops = np.stack([crop_face(s.frame, s.region, size_px=FACE_SIZE_PX)  # type: ignore[arg-type]
                          for s in batch])
        windows = mel_windows(mel, np.array([s.index for s in batch]), fps=fps)
        generated = self.predict(crops, windows)
        for slot, face in zip(batch, generated, strict=True):
            assert slot.region is not None
            slot.output = paste_face(slot.frame, face, slot.region,
                                     top_fraction=self.blend_top_fraction)
        batch.clear()


_END = object()
