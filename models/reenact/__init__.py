"""Reenactment engines: transfer a driver's expressions onto a consenting target's face.

Front door::

    from models import registry
    engine = registry.get("reenact", "auto", models_dir=d, policy=p)  # "landmark": weight-free
    frames_out = engine.render(target_image, target_face, driver_frames, driver_track, fps=25.0)
"""

from __future__ import annotations

from models.reenact.base import Reenactor

__all__ = ["Reenactor"]
