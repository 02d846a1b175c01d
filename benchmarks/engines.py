"""Engines for the benchmarks, through the one registry: the studio's models dir (from
its settings) and a research policy, since a benchmark measures engines and publishes
nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from likeness.settings import load_settings
from models import registry
from models.registry import EnginePolicy, Kind

RESEARCH = EnginePolicy(commercial=False)


def engine(kind: Kind, name: str = "auto", *, models_dir: Path | None = None,
           **options: Any) -> Any:
    """`models.registry.get` with the benchmark defaults."""
    folder = models_dir if models_dir is not None else load_settings().models_dir
    return registry.get(kind, name, models_dir=folder, policy=RESEARCH, **options)
