"""Reenactment engines: transfer a driver's expressions onto a consenting target's face.

Front door::

    from models.reenact import get_reenactor
    engine = get_reenactor("auto")        # "landmark": weight-free, the default
    frames_out = engine.render(target_image, target_face, driver_frames, driver_track)
"""

from __future__ import annotations

from likeness.errors import BadInput, InternalError
from models.reenact.base import Reenactor

__all__ = ["REENACTOR_NAMES", "Reenactor", "available_reenactors", "get_reenactor"]

REENACTOR_NAMES: tuple[str, ...] = ("auto", "landmark")


def available_reenactors() -> tuple[str, ...]:
    """Backends that can run here, best first."""
    return ("landmark",)


def get_reenactor(name: str = "auto") -> Reenactor:
    """A reenactment engine by name (``auto`` = the best available)."""
    if name not in REENACTOR_NAMES:
        raise BadInput(f"unknown reenactment engine {name!r}",
                       hint=f"choose one of: {', '.join(REENACTOR_NAMES)}")
    from models.reenact.landmark import LandmarkReenactor

    engine = LandmarkReenactor()
    if not isinstance(engine, Reenactor):  # pragma: no cover - contract check
        raise InternalError("reenactment engine 'landmark' does not implement name/render")
    return engine
