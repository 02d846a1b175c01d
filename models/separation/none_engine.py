"""No separation: the dub removes the original dialogue in time (`media.dialogue`).

The last choice of ``auto``, so a studio without separation weights still dubs; the
mix report then says the music under the original lines was not kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.separation.base import Stems
from models.weights import WeightFile

WEIGHTS: tuple[WeightFile, ...] = ()


class NoSeparation:
    name = "none"
    weights = WEIGHTS

    def separate(self, samples: np.ndarray, sample_rate: int) -> Stems | None:
        return None


def create(*, models_dir: Path, **_options: object) -> NoSeparation:
    """Registry factory."""
    return NoSeparation()
