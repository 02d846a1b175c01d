"""What every source separation engine promises the dub's mix.

A dub keeps the programme's music and effects (the "M&E" track) and replaces only the
dialogue. Without separation weights the dialogue is cut out in time (`media.dialogue`:
the music under the original lines goes with them); a separator splits the track into
the voice and everything else, so the music plays on under the new lines at its own
level. `separate` returns None when the engine separates nothing (the weight-free
``none`` engine), and the mix falls back to removal in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from models.weights import WeightFile


@dataclass(frozen=True, eq=False)
class Stems:
    """The track split in two, each ``(n, channels)`` float32 at the input's rate."""

    vocals: np.ndarray
    background: np.ndarray
    model: str  # what separated them, for the mix report: "demucs:htdemucs sha256=..."


@runtime_checkable
class Separator(Protocol):
    name: str
    weights: tuple[WeightFile, ...]

    def separate(self, samples: np.ndarray, sample_rate: int) -> Stems | None: ...
