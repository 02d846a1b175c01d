"""Identity binding input: the face a render alters, found in the source media.

A few frames spread over the source are searched; the largest face in each is
embedded. The gate then matches every embedding against the performer's
references. No face anywhere is bad input (exit 2), not a consent question.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from likeness.errors import BadInput
from media.decode import frames_at
from media.probe import probe
from models.face import FaceEngine, load_image

SAMPLED_FRAMES = 5


def embeddings_from_frames(engine: FaceEngine, frames: list[np.ndarray], *,
                           source: str) -> tuple[tuple[float, ...], ...]:
    found: list[tuple[float, ...]] = []
    for frame in frames:
        faces = engine.detect(frame)
        if faces:
            vec = engine.embed(frame, faces[0])
            found.append(tuple(float(x) for x in vec))
    if not found:
        raise BadInput(f"no face found in {source}",
                       hint="the source must show the performer's face")
    return tuple(found)


def sample_frames(path: Path, *, count: int = SAMPLED_FRAMES) -> list[np.ndarray]:
    """``count`` frames spread evenly over a video (or the image itself)."""
    if path.suffix.lower() in {".png", ".jpg", ".jpeg", ".webp", ".bmp"}:
        return [load_image(path)]
    info = probe(path)
    duration = info.require_video().duration_s or 0.0
    times = [float(t) for t in np.linspace(0.0, max(0.0, duration - 0.1), num=count)]
    return frames_at(path, times, info=info)


def source_embeddings(engine: FaceEngine, path: Path) -> tuple[tuple[float, ...], ...]:
    return embeddings_from_frames(engine, sample_frames(path), source=str(path))
