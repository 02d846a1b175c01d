"""Where benchmark figures go: one JSON file per benchmark under benchmarks/results/."""

from __future__ import annotations

import json
from pathlib import Path


def write_results(path: Path, figures: object) -> Path:
    """Write ``figures`` as indented JSON (creating the folder) and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return path
