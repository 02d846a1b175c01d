"""`likeness reenact`: a driver's expressions on a consenting performer's face, published.

The TARGET is the performer: the face that the render alters is theirs, so identity
binding runs on the target and the grant must allow ``reenactment``. The driver is
another person whose expressions (mouth, blinks, small head motion) drive the target.

The flow only sequences small tasks:

1. inputs: read the target (an image, or a video) and probe the driver video; make
   sure the driver shows a face and pick the engines, all before consent, so that
   bad input costs no render budget;
2. consent: the target's face tracks are embedded for identity binding (only the
   performer's is reenacted; flows.faces) and the gate must allow ``reenactment``
   for the performer (and production, when one is given);
3. sound: the driver's audio track if it has one, else the target video's, else none;
4. picture: driver (and target) frames stream from the decoder through the face
   tracker and the reenactment engine straight into `provenance.publish.publish`, which
   encodes once and is the only code that writes the output. An image target gives
   one frame per driver frame at the driver's rate; a video target keeps its own
   frames and rate (the driver is resampled to it, and the target plays on unchanged
   once the driver ends);
5. a `ReenactResult` names the output, the render and decision ids, the frame counts,
   the engines and the seconds each stage took.

As in `flows.dub`, frames and samples never leave the process (no result persistence,
no input caching), the studio reaches the tasks through a context variable rather
than a flow parameter, and a failure after the consent decision is logged to the
ledger as ``render_failed``.
"""

from __future__ import annotations

import itertools
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from consent.codes import normalize_territory
from consent.models import Decision, RenderRequest, Use
from flows.context import RenderContext
from flows.faces import (
    SourceFaces,
    find_faces,
    performer_face,
    performer_track,
    sample_frames,
    untouched_note,
)
from flows.prefect_env import flow, offline_prefect, run_labels
from flows.runtime import (
    RenderResult,
    bound_studio,
    check_paths,
    current_studio,
    failures_logged,
    flow_clock,
    frames_changed,
    io_task,
    options_error,
    step_task,
)
from flows.stages import publish_stages
from likeness.errors import BadInput, ConsentDenied
from media.audio import AudioTrack, load_audio
from media.decode import iter_frames
from media.probe import MediaInfo, probe
from models import registry
from models.face import Face, FaceEngine, load_image
from models.reenact import Reenactor
from models.registry import EnginePolicy
from provenance.c2pa import C2paAction
from provenance.publish import (
    PublishReceipt,
    Rendered,
    check_watermarkable,
    publish,
)

R = TypeVar("R")

SOURCE_TYPE = "compositeWithTrainedAlgorithmicMedia"
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
DRIVER_SAMPLED_FRAMES = 3  # enough to tell "no face at all" from a brief look-away

TargetKind = Literal["image", "video"]


# -- the studio, as the flow needs it ----------------------------------------------------


# -- request and result (the boundary models) ---------------------------------------------


class ReenactRequest(BaseModel):
    """The flow's parameters: JSON-friendly, so Prefect can record them as they are."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: Path
    driver: Path
    performer: str = Field(min_length=1)
    out: Path
    production: str | None = None
    territory: str | None = None  # where it is shown: a grant limited to territories needs it

    @field_validator("territory")
    @classmethod
    def _territory(cls, value: str | None) -> str | None:
        return None if value is None else normalize_territory(value)

    @classmethod
    def build(cls, **options: Any) -> ReenactRequest:
        """Validate the options; a bad one is `BadInput` naming the option."""
        try:
            request = cls(**options)
        except ValidationError as exc:
            raise options_error("reenact", exc) from None
        request.check_paths()
        return request

    def check_paths(self) -> None:
        roles = {"target": self.target, "driver": self.driver}
        check_paths(inputs=dict(roles), out=self.out, protected=roles)

    @property
    def target_kind(self) -> TargetKind:
        return "image" if self.target.suffix.lower() in IMAGE_SUFFIXES else "video"


class ReenactResult(RenderResult):
    """What `run_reenact` returns, beyond any render's result."""

    frames: int
    frames_changed: int  # frames the engine altered (its `last_stats`)
    engines: tuple[str, ...]
    stages_s: dict[str, float]


# -- values passed between tasks (in memory only) -----------------------------------------


@dataclass(frozen=True, eq=False)
class Target:
    """The performer's footage: one image (with its face) or a probed video."""

    kind: TargetKind
    path: Path
    image: np.ndarray | None = None  # RGB uint8, image targets only
    face: Face | None = None  # the largest face of the image
    info: MediaInfo | None = None  # video targets only


@dataclass(frozen=True)
class Engines:
    face: FaceEngine
    reenact: Reenactor

    @property
    def names(self) -> tuple[str, ...]:
        return (f"face:{self.face.name}", f"reenact:{self.reenact.name}")


# -- tasks ----------------------------------------------------------------------------------


@step_task("choose-engines", stage="engines")
def choose_engines(*, face_engine: str, models_dir: Path, policy: EnginePolicy) -> Engines:
    """Resolve the engines before consent, so a missing one costs no render budget."""
    return Engines(face=registry.get("face", face_engine, models_dir=models_dir, policy=policy),
                   reenact=registry.get("reenact", models_dir=models_dir, policy=policy))


@io_task("read-target", stage="target")
def read_target(path: Path, *, kind: TargetKind, engine: FaceEngine) -> Target:
    """An image is read and its face found now; a video is probed (faces come per frame)."""
    if kind == "video":
        info = probe(path, what="target video")
        info.require_video()
        return Target(kind="video", path=path, info=info)
    image = load_image(path)
    faces = engine.detect(image)
    if not faces:
        raise BadInput(f"no face found in the target {path}",
                       hint="the target must show the performer's face")
    largest = max(faces, key=lambda f: f.box.area)
    return Target(kind="image", path=path, image=image, face=largest)


@io_task("probe-driver", stage="driver")
def probe_driver(path: Path, *, engine: FaceEngine) -> MediaInfo:
    """The driver must be a video that shows a face (refused before consent otherwise)."""
    info = probe(path, what="driver video")
    info.require_video()
    check_watermarkable(info)  # the driver's audio becomes the output's
    frames = sample_frames(path, count=DRIVER_SAMPLED_FRAMES)
    if not any(engine.detect(frame) for frame in frames):
        raise BadInput(f"no face found in the driver {path}",
                       hint="the driver video must show the face whose expressions drive "
                            "the target")
    return info


@io_task("bind-identity", stage="identity")
def bind_identity(target: Target, *, engine: FaceEngine) -> SourceFaces:
    """The face the render alters is the target's: that is what must be the performer."""
    return find_faces(engine, target.path, what=f"the target {target.path}")


@step_task("authorize", stage="consent")
def authorize_reenact(request: ReenactRequest, *, faces: SourceFaces) -> Decision:
    """Not retried: an allowed decision reserves one render from the grant's budget.
    Only the performer's face is reenacted; other faces in the target stay untouched."""
    decision = current_studio().authorize(RenderRequest(
        performer_id=request.performer, uses=(Use.REENACTMENT,),
        production=request.production, territory=request.territory,
        face_tracks=faces.evidence(), face_scope="one_face",
        purpose=f"reenact {request.target.name} driven by {request.driver.name}"))
    if not decision.allowed:
        raise ConsentDenied(f"consent denied for {request.performer} to reenact "
                            f"{request.target.name}: {'; '.join(decision.reasons)}",
                            reasons=list(decision.reasons))
    return decision


@io_task("load-audio", stage="audio")
def load_soundtrack(*, driver: MediaInfo, driver_path: Path, target: Target) -> AudioTrack | None:
    """The driver's sound if it has any, else the target video's, else silence (none)."""
    if driver.audio is not None:
        source = driver_path
    elif target.info is not None and target.info.audio is not None:
        source = target.path
    else:
        return None
    samples, rate = load_audio(source)
    return AudioTrack(samples, rate)


@step_task("reenact-and-publish", stage="render+publish")
def reenact_and_publish(request: ReenactRequest, *, target: Target, driver: MediaInfo,
                        audio: AudioTrack | None, engines: Engines,
                        decision: Decision, faces: SourceFaces) -> PublishReceipt:
    """Decode once, track both faces, drive the target frame by frame, encode in `publish`."""
    from models.face.tracking import FaceTracker

    if target.kind == "video":
        assert target.info is not None
        timing = target.info.require_video()
    else:
        timing = driver.require_video()
    fps = timing.avg_fps
    driver_decoded = (f.rgb for f in iter_frames(request.driver, info=driver, cfr_fps=fps))
    driver_frames, to_track = itertools.tee(driver_decoded)  # in lockstep: one frame buffered
    driver_track = FaceTracker(engines.face, fps=fps).track(to_track)
    if target.kind == "image":
        assert target.image is not None
        face = performer_face(engines.face, target.image, faces=faces, decision=decision)
        frames = engines.reenact.render(target.image, face, driver_frames, driver_track,
                                        fps=fps)
    else:
        decoded = (f.rgb for f in iter_frames(request.target, info=target.info, cfr_fps=fps))
        target_frames, target_to_track = itertools.tee(decoded)
        target_track = performer_track(engines.face, target_to_track, fps=fps, faces=faces,
                                       decision=decision)
        frames = engines.reenact.render(target_frames, target_track, driver_frames,
                                        driver_track, fps=fps)
    rendered = Rendered(
        frames=frames, fps=timing.avg_rate, audio=audio, title=request.out.name,
        source_type=SOURCE_TYPE, source=request.target,
        actions=(C2paAction(action="c2pa.edited", parameters={
            "description": f"facial expressions and head motion of the performer in the "
                           f"{target.kind} {request.target.name} driven by another person's "
                           f"video ({request.driver.name}) with the {engines.reenact.name} "
                           "reenactment engine"
                           + (f"; {note}" if (note := untouched_note(decision)) else "")}),),
        engines=engines.names)
    return publish(rendered, decision, ctx=current_studio().publish, out=request.out)


# -- the flow -------------------------------------------------------------------------------


@flow(name="reenact", persist_result=False, validate_parameters=True, log_prints=False)
def reenact_flow(request: ReenactRequest) -> ReenactResult:
    """Sequence the reenactment's tasks (see the module docstring)."""
    studio = current_studio()
    with flow_clock() as clock:
        engines = choose_engines(face_engine=studio.settings.face_engine,
                                 models_dir=studio.settings.models_dir,
                                 policy=studio.settings.engine_policy)
        target = read_target(request.target, kind=request.target_kind, engine=engines.face)
        driver = probe_driver(request.driver, engine=engines.face)
        faces = bind_identity(target, engine=engines.face)
        decision = authorize_reenact(request, faces=faces)
        with failures_logged(decision, flow="reenact", out=request.out):
            audio = load_soundtrack(driver=driver, driver_path=request.driver, target=target)
        receipt = reenact_and_publish(request, target=target, driver=driver, audio=audio,
                                      engines=engines, decision=decision, faces=faces)
        return ReenactResult(
            out=receipt.out, render_id=receipt.render_id, decision_id=receipt.decision_id,
            grant_ids=receipt.grant_ids, frames=receipt.frames,
            frames_changed=frames_changed(engines.reenact), engines=engines.names,
            stages_s=clock.report(), publish_stages_s=publish_stages(receipt))


def run_reenact(studio: RenderContext, *, target: Path, driver: Path, performer: str,
                out: Path, production: str | None = None,
                territory: str | None = None) -> ReenactResult:
    """Drive ``target`` (the performer) with ``driver``'s expressions as a Prefect flow run.

    Raises `BadInput` (exit 2), `ConsentDenied` (3) or another `LikenessError`;
    on any failure nothing is written at ``out``.
    """
    request = ReenactRequest.build(target=target, driver=driver, performer=performer, out=out,
                                   production=production, territory=territory)
    session: AbstractContextManager[Any] = offline_prefect(home=studio.settings.home)
    labels = run_labels(f"reenact-{request.out.stem}", performer=request.performer,
                        uses=("reenactment",), production=request.production)
    with session, bound_studio(studio):
        return labels.run(reenact_flow, request)
