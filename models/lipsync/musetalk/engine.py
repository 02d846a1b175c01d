"""MuseTalk 1.5 inference as a stream: frames and a face track in, lip-synced frames out.

The speech is encoded once (whisper, all of it, 30 s per row), then frames flow
through in batches: crop each tracked face by MuseTalk's rule, run the generator
(`MuseTalkNetworks`: two VAE encodes, one UNet step, one decode) on the batch, and
paste each painted lower face back through its landmark mask. Frames without a face
pass through as the same object; output order is input order; at most two batches
of frames wait in memory. On CUDA everything runs in fp16 under inference mode, and
crops travel to the device as uint8.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from likeness.errors import BadInput
from models.face.align import Region
from models.face.base import check_rgb_image
from models.face.tracking import TrackedFace
from models.lipsync import torch_checks
from models.lipsync.musetalk.audio import (
    feature_count,
    frame_windows,
    log_mel_segments,
    prepare_audio,
)
from models.lipsync.musetalk.crop import blend_mask, crop_box, crop_face, paste_face
from models.lipsync.musetalk.layout import ENGINE_NAME
from models.lipsync.musetalk.networks import MuseTalkNetworks
from models.stream import FrameTally, RenderStats, paired

DEFAULT_BATCH_SIZE = 16
WHISPER_SEGMENTS_PER_BATCH = 8  # 4 min of speech per encoder call
PENDING_BATCHES = 2


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; an explicit CUDA request must be satisfiable."""
    return torch_checks.resolve_device(device, engine="musetalk",
                                       cuda_missing_hint="use auto or cpu (slow)")


@dataclass(slots=True)
class _Slot:
    """One frame waiting for its batch; `output` is filled once the batch has run."""

    index: int
    frame: np.ndarray
    tracked: TrackedFace | None
    region: Region | None
    output: np.ndarray | None = None


class MuseTalkEngine:
    """Lip-syncs a face track to new speech with MuseTalk 1.5's generator."""

    name = ENGINE_NAME
    needs_track = True
    alters_mouth = True

    def __init__(self, networks: MuseTalkNetworks, *, device: str = "auto",
                 batch_size: int = DEFAULT_BATCH_SIZE, fp16: bool = True,
                 weights: Mapping[str, str] | None = None) -> None:
        """Wrap loaded `networks`; `weights` records each loaded file's SHA-256 by path."""
        if batch_size < 1:
            raise BadInput(f"musetalk: batch_size must be >= 1, got {batch_size}")
        self.device = resolve_device(device)
        on_cuda = self.device.type == "cuda"
        self.dtype = torch.float16 if (fp16 and on_cuda) else torch.float32
        if on_cuda:
            torch.backends.cudnn.benchmark = True  # fixed 256x256 crops: let cuDNN choose
        self.networks = networks.to(device=self.device, dtype=self.dtype).eval()
        self.batch_size = int(batch_size)
        self.weights: Mapping[str, str] = dict(weights or {})
        self.last_stats = RenderStats()

    # -- the networks --------------------------------------------------------------------

    def speech_features(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """(steps, 5, 384) float32 whisper features of the speech, trimmed to its length."""
        samples = prepare_audio(audio, sample_rate=sample_rate)
        mel = log_mel_segments(samples)
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(mel), WHISPER_SEGMENTS_PER_BATCH):
                rows = torch.from_numpy(mel[start:start + WHISPER_SEGMENTS_PER_BATCH])
                features = self.networks.speech_features(rows.to(self.device, self.dtype))
                chunks.append(features.float().cpu().numpy())
        return np.concatenate(chunks)[: feature_count(samples.size)]

    def generate(self, crops: np.ndarray, prompts: np.ndarray) -> np.ndarray:
        """(B, 256, 256, 3) uint8 crops and (B, 50, 384) prompts -> generated uint8 crops."""
        with torch.inference_mode():
            faces = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device)
            audio = torch.from_numpy(np.ascontiguousarray(prompts, dtype=np.float32))
            return self.networks(faces, audio.to(self.device, self.dtype)).cpu().numpy()

    # -- the stream ----------------------------------------------------------------------

    def render(self, frames: Iterable[np.ndarray], face_track: Iterable[TrackedFace | None],
               audio: np.ndarray, sample_rate: int, *, fps: float,
               timings: Sequence[object] | None = None) -> Iterator[np.ndarray]:
        """Lip-synced frames, one per input frame, in order; faceless frames unchanged.

        Frame i is driven by the speech around i / fps s. `timings` (phoneme timings)
        is accepted for the `LipSync` contract and ignored: MuseTalk listens to the
        audio itself. `last_stats` is set when the stream ends.
        """
        if not fps or fps <= 0:
            raise BadInput(f"musetalk: fps must be positive, got {fps}")
        features = self.speech_features(audio, sample_rate)
        pending: deque[_Slot] = deque()
        batch: list[_Slot] = []
        tally = FrameTally()
        try:
            for index, frame, tracked in paired(frames, face_track):
                check_rgb_image(frame)
                region = None if tracked is None else crop_box(
                    tracked.face, frame_height=frame.shape[0], frame_width=frame.shape[1])
                slot = _Slot(index, frame, tracked, region, frame if region is None else None)
                pending.append(slot)
                if region is not None:
                    batch.append(slot)
                if len(batch) >= self.batch_size or (
                        batch and len(pending) >= PENDING_BATCHES * self.batch_size):
                    self._run(batch, features, fps=fps)
                while pending and pending[0].output is not None:
                    done = pending.popleft()
                    assert done.output is not None
                    count = tally.count_passed if done.region is None else tally.count_changed
                    yield count(done.output)
            if batch:
                self._run(batch, features, fps=fps)
            while pending:
                done = pending.popleft()
                assert done.output is not None
                count = tally.count_passed if done.region is None else tally.count_changed
                yield count(done.output)
        finally:
            self.last_stats = tally.stats

    def _run(self, batch: list[_Slot], features: np.ndarray, *, fps: float) -> None:
        """Generate every face in `batch`, fill in the slots' outputs, and empty `batch`."""
        crops = np.stack([crop_face(slot.frame, slot.region) for slot in batch  # type: ignore[arg-type]
                          ])
        prompts = frame_windows(features, np.array([slot.index for slot in batch]), fps=fps)
        generated = self.generate(crops, prompts)
        for slot, face in zip(batch, generated, strict=True):
            assert slot.region is not None and slot.tracked is not None
            mask = blend_mask(slot.tracked.face, slot.region)
            slot.output = paste_face(slot.frame, face, slot.region, mask)
        batch.clear()
