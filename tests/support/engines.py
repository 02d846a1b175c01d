"""Engines for tests, through the one registry: an empty models dir, the studio default
policy (commercial, nothing acknowledged), unless a test says otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models import registry
from models.registry import EnginePolicy, Kind

NO_MODELS_DIR = Path("/nonexistent/likeness-test-models")  # no user weights placed
STUDIO_DEFAULT = EnginePolicy()


def engine(kind: Kind, name: str = "auto", *, models_dir: Path = NO_MODELS_DIR,
           policy: EnginePolicy = STUDIO_DEFAULT, **options: Any) -> Any:
    """`models.registry.get` with the test defaults."""
    return registry.get(kind, name, models_dir=models_dir, policy=policy, **options)
