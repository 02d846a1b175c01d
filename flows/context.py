"""What a render (stamp, dub, reenact) gets from the studio: one frozen `RenderContext`.

The flows may not import the studio (`likeness`), so the studio builds this for
them (`likeness.studio.Studio.render_context`): the publish context, the consent
gate as a callable, and the few settings a render reads. Kept free of Prefect and
media imports, so building it costs a command nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # provenance.publish loads the encoder and the watermarks
    from consent.models import Decision, RenderRequest
    from models.registry import EnginePolicy
    from provenance.publish import PublishContext


@dataclass(frozen=True)
class RenderSettings:
    """The studio settings a render reads (engines and licences, Prefect's home)."""

    home: Path  # the studio home; the offline Prefect server keeps its state there
    models_dir: Path
    cache_dir: Path  # derived files (re-assembled weights); never biometric data
    face_engine: str
    engine_policy: EnginePolicy  # licences the studio accepts, CPU opt-ins


@dataclass(frozen=True)
class ReelRef:
    """A performer's registered avatar reel: where the studio keeps it, and the SHA-256
    recorded at registration (a render refuses a file that no longer matches)."""

    path: Path
    sha256: str
    duration_s: float
    width: int
    height: int


def no_reels(_performer_id: str) -> ReelRef | None:
    """For contexts built without a registry (tests of other flows): nobody has a reel."""
    return None


@dataclass(frozen=True)
class RenderContext:
    """The studio as a render sees it."""

    publish: PublishContext
    authorize: Callable[[RenderRequest], Decision]  # the gate; commits its own transaction
    settings: RenderSettings
    reel_of: Callable[[str], ReelRef | None] = no_reels  # a performer's avatar reel, if any
