"""MuseTalk 1.5 lip-sync: our implementation of the published architecture, official weights.

The front door, and the module the engine registry names. Importing it is cheap and
torch-free (the model store and the licence policy read `WEIGHTS`); the torch-backed
names load on first use. Typical use::

    from models import registry
    engine = registry.get("lipsync", "musetalk", models_dir=d, policy=p)
    frames_out = engine.render(frames, track, audio, 16000, fps=25.0)

``auto`` picks it first, but only where it runs well: the three checkpoints placed
under ``<models_dir>/musetalk/`` (see `layout`), torch and diffusers installed, and
CUDA (or the CPU opt-in ``LIKENESS_MUSETALK_ON_CPU=1``: correct, but minutes per
second of video). The weights' licence allows commercial use (see `layout`).
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from likeness.errors import BadInput
from models.lipsync.musetalk.layout import (
    ENGINE_NAME,
    WEIGHTS,
    WEIGHTS_FOLDER,
    find_placement,
    require_placement,
)
from models.registry import CPU_OPT_IN_ENV, Availability, EnginePolicy

if TYPE_CHECKING:
    from models.lipsync.musetalk.engine import MuseTalkEngine
    from models.lipsync.musetalk.networks import MuseTalkNetworks

__all__ = [
    "ENGINE_NAME",
    "WEIGHTS",
    "MuseTalkEngine",
    "MuseTalkNetworks",
    "create",
    "cuda_available",
    "missing_packages",
    "placed",
    "probe",
    "require_placement",
]

_LAZY = {
    "MuseTalkEngine": "models.lipsync.musetalk.engine",
    "MuseTalkNetworks": "models.lipsync.musetalk.networks",
}
_NEEDS = ("torch", "diffusers")


def __getattr__(name: str) -> Any:
    """Import torch-backed names only when asked for (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def missing_packages() -> list[str]:
    return [name for name in _NEEDS if importlib.util.find_spec(name) is None]


def cuda_available() -> bool:
    """Imports torch: call only once the checkpoints are known to be there."""
    import torch

    return bool(torch.cuda.is_available())


def probe(*, models_dir: Path, policy: EnginePolicy, **_options: object) -> Availability:
    """Whether ``auto`` should pick musetalk: weights placed, packages, and CUDA or the opt-in.

    A directory listing first: torch is imported only when every file is there.
    """
    placement, missing = find_placement(models_dir)
    if placement is None:
        return Availability(False, f"no MuseTalk 1.5 weights in {models_dir / WEIGHTS_FOLDER} "
                                   f"({len(missing)} file(s) missing)")
    absent = missing_packages()
    if absent:
        return Availability(False, "weights found but " + " and ".join(absent)
                            + " not installed")
    if cuda_available():
        return Availability(True, "MuseTalk 1.5 weights and CUDA are available")
    if policy.allows_cpu(ENGINE_NAME):
        return Availability(True, f"MuseTalk 1.5 weights and {CPU_OPT_IN_ENV[ENGINE_NAME]} "
                                  "opts in to CPU inference")
    return Availability(False, f"weights found but no CUDA device (set "
                               f"{CPU_OPT_IN_ENV[ENGINE_NAME]}=1 to run musetalk on the CPU)")


def create(*, models_dir: Path, **_options: object) -> MuseTalkEngine:
    """Registry factory: the placed checkpoints, hashed and loaded strictly, on CUDA if any."""
    placement = require_placement(models_dir)
    absent = missing_packages()
    if absent:
        raise BadInput("musetalk needs " + " and ".join(absent) + ", not installed",
                       hint="pip install 'likeness-studio[gpu]', or use --lipsync footage")
    from models.lipsync.musetalk.engine import MuseTalkEngine
    from models.lipsync.musetalk.loading import load_networks

    networks, loaded = load_networks(placement)
    return MuseTalkEngine(networks, device="auto", weights=loaded.digests)


def placed(models_dir: Path) -> bool:
    """Whether all three checkpoints are in place (a directory listing only)."""
    return find_placement(models_dir)[0] is not None

