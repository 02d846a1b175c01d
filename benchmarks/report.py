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


def write_image(path: Path, rgb: object) -> Path:
    """Write an RGB uint8 image (a contact sheet) as PNG next to the figures."""
    import cv2
    import numpy as np

    image = np.asarray(rgb)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")
    print(f"wrote {path}")
    return path
