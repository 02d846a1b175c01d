"""`likeness avatar`: a licensed avatar of a performer speaking new lines, published under consent.

The performer's likeness is what they registered: their avatar reel (their own footage,
`likeness performer reel`), or a still given with ``--still``. The flow only sequences
small tasks:

1. inputs: the lines (``--text``, split into sentences, or a ``--script`` SRT whose cues
   set the timing), the likeness (the registered reel, its SHA-256 re-checked, or the
   still), and the engines (face, TTS for the language, lip-sync ``auto``);
2. consent: the face in the reel/still is embedded for identity binding, and the gate
   must allow ``avatar``. ``voice_clone`` would be asked for too when the voice is
   modelled on the performer; today's engines never do that (the flow gives no TTS
   engine a reference clip of the performer), so `avatar_uses` never adds it;
3. speech: every line is spoken, placed on a 48 kHz track and loudness-normalized;
4. picture at 25 fps: with a reel, the reel's own footage re-timed under the speech
   (`media.retime`: loops cut at still moments where the next frame looks like an
   ordinary step, or a ping-pong when no such moment exists) at the reel's resolution;
   with ``--background``, the reel's performer is lifted off the reel's own background
   and put over the given image or video (`media.matte`: a head-and-shoulders region
   from the face track plus a difference key against the reel's median background);
   with a still, the still on its background at 1280x720, blinking, swaying and
   breathing (`models.face.idle`). Either way the face is tracked and lip-synced to
   the speech, streaming into `provenance.publish.publish` (the only code that writes the output) as
   ``trainedAlgorithmicMedia`` whose first action is ``c2pa.created``;
5. optionally the lines as a sidecar ``OUT.srt`` (written only once the video is
   published), and an `AvatarResult`.

The reel is biometric data: it is never an ingredient of the manifest (an ingredient
would carry its hash and thumbnail into every published file), and it never leaves the
performer's folder. Large values stay in the process (see flows/dub.py).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from consent.codes import normalize_language
from consent.models import Decision, RenderRequest, Use
from flows.context import RenderContext
from flows.dub import MAX_STRETCH_RATIO, CueReport, Engines, bind_identity, choose_engines
from flows.faces import IMAGE_SUFFIXES, SourceFaces
from flows.prefect_env import flow, offline_prefect
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
from likeness.errors import BadInput, ConsentDenied, IntegrityFailure
from media import matte, retime
from media.audio import AudioTrack, fit_to_slot, loudness_normalize, resample
from media.compose import fit_cover, load_image, place_on_background
from media.decode import frames_at, iter_frames
from media.digest import sha256_file
from media.probe import MediaInfo, probe
from media.subtitles import load_subtitles, write_subtitles
from media.timed_text import Cue, PhonemeTiming, validate_cues
from models import registry
from models.face import FaceEngine
from models.face.idle import idle_frames
from models.registry import LipSyncName
from models.tts import TTSEngine
from provenance.c2pa import C2paAction
from provenance.publish import PublishReceipt, Rendered, publish
from provenance.watermark.audio import MIN_SECONDS as AUDIO_MIN_SECONDS

if TYPE_CHECKING:
    from models.face.tracking import TrackedFace

SOURCE_TYPE = "trainedAlgorithmicMedia"  # the whole picture and voice are generated
AVATAR_FPS = 25
STILL_SIZE = (1280, 720)  # a still avatar renders at 720p
SPEECH_RATE_HZ = 48_000
SPEECH_LOUDNESS_LUFS = -16.0  # spoken word for streaming (within EBU R128's -23..-14)
LEAD_IN_S = 0.3  # the avatar is on screen a moment before it speaks
SENTENCE_GAP_S = 0.25
TAIL_S = 0.6
MAX_SCRIPT_S = 600.0  # the longest script an avatar render takes (ten minutes)
PORTRAIT_HEIGHT = 0.92  # of the frame, for a still on its background
BACKDROP_BLUR_PX = 41  # a still without --background stands on a blurred copy of itself
_SENTENCE_END = re.compile(r"(?<=[.!?…;])\s+")


# -- request and result (the boundary models) ---------------------------------------------


class AvatarRequest(BaseModel):
    """The flow's parameters: JSON-friendly, so Prefect can record them as they are."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    performer: str = Field(min_length=1)
    language: str
    out: Path
    text: str | None = None
    script: Path | None = None
    still: Path | None = None  # the likeness, when not the performer's registered reel
    background: Path | None = None
    voice: str | None = None
    lipsync: LipSyncName = "auto"
    subtitles: bool = False  # also write the lines as OUT.srt
    production: str | None = None

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        return normalize_language(value)

    @field_validator("text")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("the text to speak is empty")
        return value.strip() if value is not None else None

    @model_validator(mode="after")
    def _one_source_of_lines(self) -> AvatarRequest:
        if (self.text is None) == (self.script is None):
            raise ValueError("give the lines to speak as --text TEXT or --script SUBS.srt "
                             "(one of them)")
        return self

    @classmethod
    def build(cls, **options: Any) -> AvatarRequest:
        """Validate the options; a bad one is `BadInput` naming the option."""
        try:
            request = cls(**options)
        except ValidationError as exc:
            raise options_error("avatar", exc, hints={
                "lipsync": f"--lipsync is one of {', '.join(registry.names('lipsync'))}"}
            ) from None
        request.check_paths()
        return request

    def check_paths(self) -> None:
        inputs = {"script": self.script, "still": self.still, "background": self.background}
        check_paths(inputs=inputs, out=self.out,
                    protected={role: path for role, path in inputs.items() if path is not None})
        if self.background is not None:
            check_background(self.background)
        if self.subtitles and self.sidecar.is_dir():
            raise BadInput(f"subtitles {self.sidecar} is a folder")
        if (self.subtitles and self.script is not None
                and self.sidecar.absolute() == self.script.absolute()):
            raise BadInput("the subtitles would overwrite the script",
                           hint="name the output differently from the script")

    def check_likeness(self, studio: RenderContext) -> None:
        """Without a still, the performer must have a registered reel (a cheap look-up,
        so the CLI and batch can refuse before any flow starts)."""
        if self.still is None and studio.reel_of(self.performer) is None:
            raise _no_reel(self.performer)

    @property
    def sidecar(self) -> Path:
        return self.out.with_suffix(".srt")


class AvatarResult(RenderResult):
    """What `run_avatar` returns, beyond any render's result."""

    performer_id: str
    language: str
    likeness: Literal["reel", "still"]
    likeness_sha256: str
    cues: tuple[CueReport, ...]
    cues_not_fitting: tuple[int, ...]
    duration_s: float
    width: int
    height: int
    fps: int
    frames: int
    frames_lipsynced: int
    loop_cuts: int  # times the reel looped back (0 for a still, or a long enough reel)
    max_cut_jump: float | None  # the largest loop step, in mean frame steps (1 = none)
    reel_bounces: int  # ping-pong turns, when no loop point was good enough
    # with a reel and --background: how much of the reel's own background the matte saw
    # (the rest was inpainted from around it; media.matte says why that matters)
    background_seen: float | None = None
    subtitles: Path | None
    engines: tuple[str, ...]
    engine_choices: tuple[str, ...] = ()
    stages_s: dict[str, float]


# -- values passed between tasks (in memory only) -----------------------------------------


@dataclass(frozen=True)
class Likeness:
    """The performer's footage the avatar is made of."""

    kind: Literal["reel", "still"]
    path: Path
    sha256: str


@dataclass(frozen=True)
class Lines:
    """What to say: a script's lines with their cue slots, or a text's sentences
    (``slots`` None), which are timed by their own speech."""

    texts: tuple[str, ...]
    slots: tuple[Cue, ...] | None


@dataclass(frozen=True, eq=False)
class SpokenLines:
    """The whole speech track and what it says when."""

    cues: tuple[Cue, ...]
    reports: tuple[CueReport, ...]
    speech: np.ndarray  # (n,) float32 at SPEECH_RATE_HZ, loudness-normalized
    timings: tuple[PhonemeTiming, ...]

    @property
    def duration_s(self) -> float:
        return self.speech.shape[0] / SPEECH_RATE_HZ


@dataclass(frozen=True, eq=False)
class Picture:
    """How the frames will be made: a reel plan, or a still scene."""

    frames: int
    width: int
    height: int
    reel: Path | None = None
    reel_info: MediaInfo | None = None
    plan: retime.ReelPlan | None = None
    still: np.ndarray | None = None  # the composed 720p scene
    landmarks: np.ndarray | None = None  # of the face in the scene
    plate: matte.Plate | None = None  # the reel's background, when it is replaced
    background: Path | None = None  # what replaces it (an image or a video)


def avatar_uses(*, voice_modelled_on_performer: bool) -> tuple[Use, ...]:
    """An avatar needs ``avatar``; a voice modelled on the performer needs ``voice_clone``."""
    return (Use.AVATAR, Use.VOICE_CLONE) if voice_modelled_on_performer else (Use.AVATAR,)


# -- tasks ----------------------------------------------------------------------------------


@io_task("resolve-likeness", stage="likeness")
def resolve_likeness(request: AvatarRequest) -> Likeness:
    """The still asked for, else the registered reel, whose bytes must still be the ones
    registered (a swapped reel would put another face under the performer's grant)."""
    if request.still is not None:
        return Likeness(kind="still", path=request.still, sha256=sha256_file(request.still))
    reel = current_studio().reel_of(request.performer)
    if reel is None:
        raise _no_reel(request.performer)
    if not reel.path.is_file():
        raise IntegrityFailure(f"the avatar reel of {request.performer!r} is missing from "
                               f"the studio ({reel.path})")
    found = sha256_file(reel.path)
    if found != reel.sha256:
        raise IntegrityFailure(f"the avatar reel of {request.performer!r} changed since it "
                               f"was registered (sha256 {found[:16]}…, registered "
                               f"{reel.sha256[:16]}…)")
    return Likeness(kind="reel", path=reel.path, sha256=found)


def _no_reel(performer: str) -> BadInput:
    return BadInput(f"performer {performer!r} has no avatar reel",
                    hint=f"register one with `likeness performer reel --id {performer} "
                         "VIDEO`, or pass --still IMG")


@io_task("load-lines", stage="script")
def load_lines(request: AvatarRequest) -> Lines:
    """A script's cues as written; a text's sentences, to be timed by their speech."""
    if request.script is not None:
        cues = tuple(load_subtitles(request.script, video_duration=MAX_SCRIPT_S))
        return Lines(texts=tuple(c.text for c in cues), slots=cues)
    sentences = tuple(s.strip() for s in _SENTENCE_END.split(request.text or "") if s.strip())
    return Lines(texts=sentences, slots=None)


@step_task("authorize", stage="consent")
def authorize_avatar(request: AvatarRequest, *, uses: tuple[Use, ...],
                     faces: SourceFaces) -> Decision:
    """Not retried: an allowed decision reserves one render from the grant's budget."""
    decision = current_studio().authorize(RenderRequest(
        performer_id=request.performer, uses=uses, language=request.language,
        production=request.production, face_tracks=faces.evidence(),
        face_scope="every_face",  # every face in the reel or still becomes the avatar's
        purpose=f"avatar {request.out.name} in {request.language}"))
    if not decision.allowed:
        raise ConsentDenied(f"consent denied for an avatar of {request.performer} in "
                            f"{request.language}: {'; '.join(decision.reasons)}",
                            reasons=list(decision.reasons))
    return decision


@step_task("speak-lines", stage="tts")
def speak_lines(lines: Lines, *, engine: TTSEngine, language: str,
                voice: str | None) -> SpokenLines:
    """Speak every line: a script's line fitted into its cue (cut at the next one), a
    text's sentences one after another; then the track is normalized as a whole."""
    placed: list[tuple[int, np.ndarray, tuple[PhonemeTiming, ...]]] = []
    reports: list[CueReport] = []
    timed: list[Cue] = []
    cursor_s = LEAD_IN_S
    slots = lines.slots
    for position, text in enumerate(lines.texts):
        speech = engine.synthesize(text, language=language, voice=voice)
        samples = resample(speech.samples, from_rate=speech.sample_rate, to_rate=SPEECH_RATE_HZ)
        samples = samples.reshape(samples.shape[0], -1)[:, 0]
        ratio, fits, overflow_s = 1.0, True, 0.0
        if slots is not None:
            line = slots[position]
            fit = fit_to_slot(samples, SPEECH_RATE_HZ, slot_seconds=line.duration_s,
                              max_stretch=MAX_STRETCH_RATIO)
            ratio, fits, overflow_s = fit.ratio, fit.fits, fit.overflow_s
            samples = fit.samples.reshape(fit.samples.shape[0], -1)[:, 0]
            start_s = line.start_s
            if position + 1 < len(slots):  # a line too long is cut at the next one
                samples = samples[:max(0, int(round((slots[position + 1].start_s - start_s)
                                                    * SPEECH_RATE_HZ)))]
        else:
            start_s = cursor_s
            line = Cue(index=position + 1, start_s=round(start_s, 3),
                       end_s=round(start_s + samples.shape[0] / SPEECH_RATE_HZ, 3), text=text)
            cursor_s = line.end_s + SENTENCE_GAP_S
        heard_until_s = start_s + samples.shape[0] / SPEECH_RATE_HZ
        phonemes = tuple(
            PhonemeTiming(p.phoneme, start_s + p.start_s / ratio,
                          min(start_s + p.end_s / ratio, heard_until_s))
            for p in speech.phonemes if start_s + p.start_s / ratio < heard_until_s)
        placed.append((int(round(start_s * SPEECH_RATE_HZ)), samples, phonemes))
        timed.append(line)
        # a script's line is sped up to its slot (never past the cap) and cut at the next
        # cue when it still does not fit; a text's sentences simply follow one another
        action = "fits" if ratio <= 1.0 and fits else ("sped" if fits else "cut")
        reports.append(CueReport(index=line.index, start_s=line.start_s, end_s=line.end_s,
                                 text=line.text, speech_s=round(speech.duration_s, 3),
                                 slot_s=round(line.duration_s, 3), ratio=round(ratio, 3),
                                 action=action, spoken_start_s=round(start_s, 3),
                                 spoken_end_s=round(heard_until_s, 3), fits=fits,
                                 overflow_s=round(overflow_s, 3),
                                 cut_s=round(overflow_s, 3) if not fits else 0.0))
    end_s = max(max(start / SPEECH_RATE_HZ + s.shape[0] / SPEECH_RATE_HZ
                    for start, s, _ in placed), timed[-1].end_s) + TAIL_S
    end_s = max(end_s, AUDIO_MIN_SECONDS + 0.2)  # long enough to carry the audio watermark
    track = np.zeros(int(round(end_s * SPEECH_RATE_HZ)), dtype=np.float32)
    for start, samples, _ in placed:
        stop = min(track.shape[0], start + samples.shape[0])
        track[start:stop] = samples[:stop - start]
    voice_track = loudness_normalize(track, SPEECH_RATE_HZ, target_lufs=SPEECH_LOUDNESS_LUFS)
    validate_cues(timed, video_duration=end_s, source="the avatar's lines")
    return SpokenLines(cues=tuple(timed), reports=tuple(reports),
                       speech=np.ascontiguousarray(voice_track[:, 0], dtype=np.float32),
                       timings=tuple(p for _, _, ps in placed for p in ps))


@io_task("plan-reel", stage="retime")
def plan_reel(reel: Path, *, duration_s: float, background: Path | None = None,
              engine: FaceEngine | None = None) -> Picture:
    """Which reel frames carry the speech (one thumbnail pass over the reel), and with a
    new background, the reel's own background plate."""
    info = probe(reel)
    width, height = info.require_video().display_size
    frames = int(round(duration_s * AVATAR_FPS))
    reel_plan = retime.plan(retime.thumbnails(reel, fps=AVATAR_FPS, info=info), frames)
    plate = None
    if background is not None:
        if engine is None:
            raise BadInput("a new background for a reel needs a face engine")
        check_background(background)
        plate = reel_plate(reel, info=info, engine=engine)
    return Picture(frames=frames, width=width, height=height, reel=reel, reel_info=info,
                   plan=reel_plan, plate=plate, background=background)


def check_background(path: Path) -> None:
    """An image, or a video with a picture; anything else is refused before rendering."""
    try:
        if path.suffix.lower() in IMAGE_SUFFIXES:
            load_image(path)
        else:
            probe(path).require_video()
    except BadInput as error:
        raise BadInput(f"--background {path.name} is neither an image nor a video: "
                       f"{error.message}") from None


def reel_plate(reel: Path, *, info: MediaInfo, engine: FaceEngine) -> matte.Plate:
    """The reel's background from `matte.PLATE_SAMPLES` frames spread over it, each with
    its face found so the performer can be left out of the median."""
    duration = info.duration_s or 0.0
    times = [duration * (i + 0.5) / matte.PLATE_SAMPLES for i in range(matte.PLATE_SAMPLES)]
    samples: list[tuple[np.ndarray, matte.Box | None]] = []
    for frame in frames_at(reel, times, info=info):
        boxes = engine.detect_boxes(frame)
        box = max(boxes, key=lambda b: b.area) if boxes else None
        samples.append((frame, None if box is None else
                        matte.Box(box.left, box.top, box.right, box.bottom)))
    return matte.estimate_plate(samples)


def backdrop_frames(path: Path, *, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """The new background at ``size`` for every frame: an image repeated, or a video
    scaled to cover the frame and looped for as long as the avatar speaks."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        still = fit_cover(load_image(path), size=size)
        while True:
            yield still
    info = probe(path)
    while True:
        shown = 0
        for frame in iter_frames(path, info=info, cfr_fps=AVATAR_FPS):
            shown += 1
            yield fit_cover(frame.rgb, size=size)
        if shown == 0:
            raise BadInput(f"the background video {path.name} has no frames")


@io_task("compose-still", stage="still")
def compose_still(still: Path, *, background: Path | None, engine: FaceEngine,
                  duration_s: float) -> Picture:
    """The still standing on its background at 720p, and where its face is."""
    portrait = load_image(still)
    width, height = STILL_SIZE
    if background is not None:
        backdrop = fit_cover(load_image(background), size=STILL_SIZE)
    else:
        import cv2

        blurred = cv2.GaussianBlur(fit_cover(portrait, size=STILL_SIZE),
                                   (BACKDROP_BLUR_PX, BACKDROP_BLUR_PX), 0)
        backdrop = (blurred.astype(np.float32) * 0.55).astype(np.uint8)
    scene = place_on_background(portrait, background=backdrop, height_fraction=PORTRAIT_HEIGHT)
    faces = engine.detect(scene)
    if not faces:
        raise BadInput(f"no face found in the still {still}",
                       hint="the still must show the performer's face")
    return Picture(frames=int(round(duration_s * AVATAR_FPS)), width=width, height=height,
                   still=scene, landmarks=faces[0].landmarks)


def picture_frames(picture: Picture) -> Iterator[np.ndarray]:
    if picture.plan is not None and picture.reel is not None:
        return retime.frames(picture.reel, picture.plan, fps=AVATAR_FPS, info=picture.reel_info)
    if picture.still is None or picture.landmarks is None:
        raise BadInput("the avatar has neither a reel nor a still to show")
    return idle_frames(picture.still, picture.landmarks, count=picture.frames, fps=AVATAR_FPS)


@step_task("lipsync-and-publish", stage="render+publish")
def lipsync_and_publish(request: AvatarRequest, *, picture: Picture, spoken: SpokenLines,
                        engines: Engines, likeness: Likeness,
                        decision: Decision) -> PublishReceipt:
    """Make the frames, track and move the mouth, encode once in `publish`."""
    to_render, to_track = itertools.tee(picture_frames(picture))
    track: Iterator[TrackedFace | None]
    if engines.lipsync.needs_track or picture.plate is not None:
        from models.face.tracking import FaceTracker

        track = FaceTracker(engines.face, fps=AVATAR_FPS).track(to_track)
    else:
        track = (None for _ in to_track)
    if picture.plate is not None and picture.background is not None:
        track, matte_track = itertools.tee(track)
    frames = engines.lipsync.render(to_render, track, spoken.speech, SPEECH_RATE_HZ,
                                    fps=AVATAR_FPS, timings=spoken.timings)
    if picture.plate is not None and picture.background is not None:
        frames = matte.composite_frames(
            frames, (_face_box(t) for t in matte_track),
            backdrop_frames(picture.background, size=(picture.width, picture.height)),
            picture.plate)
    audio = AudioTrack(spoken.speech[:, None], SPEECH_RATE_HZ)
    rendered = Rendered(
        frames=frames, fps=AVATAR_FPS, audio=audio, title=request.out.name,
        source_type=SOURCE_TYPE, source=None,
        actions=avatar_actions(likeness, language=request.language, engines=engines,
                               new_background=picture.plate is not None),
        engines=engines.names)
    return publish(rendered, decision, ctx=current_studio().publish, out=request.out)


def _face_box(tracked: TrackedFace | None) -> matte.Box | None:
    if tracked is None:
        return None
    box = tracked.face.box
    return matte.Box(box.left, box.top, box.right, box.bottom)


def avatar_actions(likeness: Likeness, *, language: str, engines: Engines,
                   new_background: bool = False) -> tuple[C2paAction, ...]:
    """The manifest's account: new media (``c2pa.created``), made from the performer's
    registered likeness, speaking synthetic speech."""
    made_from = ("the performer's registered avatar reel, re-timed" if likeness.kind == "reel"
                 else "a still of the performer, animated")
    mouth = (f"the mouth lip-synced by the {engines.lipsync.name} engine"
             if engines.lipsync.alters_mouth else "the mouth left untouched")
    backdrop = ", composited over a new background" if new_background else ""
    return (C2paAction(action="c2pa.created", parameters={
        "description": f"licensed avatar made from {made_from}{backdrop}, speaking synthetic "
                       f"{language} speech ({engines.tts.name}), {mouth}"}),)


# -- the flow -------------------------------------------------------------------------------


@flow(name="avatar", persist_result=False, validate_parameters=True, log_prints=False)
def avatar_flow(request: AvatarRequest) -> AvatarResult:
    """Sequence the avatar's tasks (see the module docstring); the studio comes from context."""
    settings = current_studio().settings
    with flow_clock() as clock:
        likeness = resolve_likeness(request)
        lines = load_lines(request)
        engines = choose_engines(language=request.language, lipsync=request.lipsync,
                                 face_engine=settings.face_engine,
                                 models_dir=settings.models_dir,
                                 policy=settings.engine_policy,
                                 footage=likeness.path if likeness.kind == "reel" else None,
                                 performer=request.performer, cache_dir=settings.cache_dir)
        faces = bind_identity(likeness.path, engine=engines.face)
        decision = authorize_avatar(request, uses=avatar_uses(
            voice_modelled_on_performer=False), faces=faces)
        with failures_logged(decision, flow="avatar", out=request.out):
            spoken = speak_lines(lines, engine=engines.tts, language=request.language,
                                 voice=request.voice)
            if likeness.kind == "reel":
                picture = plan_reel(likeness.path, duration_s=spoken.duration_s,
                                    background=request.background, engine=engines.face)
            else:
                picture = compose_still(likeness.path, background=request.background,
                                        engine=engines.face, duration_s=spoken.duration_s)
        receipt = lipsync_and_publish(request, picture=picture, spoken=spoken,
                                      engines=engines, likeness=likeness, decision=decision)
        sidecar = write_subtitles(spoken.cues, request.sidecar) if request.subtitles else None
        cuts = picture.plan.cuts if picture.plan is not None else ()
        return AvatarResult(
            out=receipt.out, render_id=receipt.render_id, decision_id=receipt.decision_id,
            grant_ids=receipt.grant_ids, performer_id=request.performer,
            language=request.language, likeness=likeness.kind,
            likeness_sha256=likeness.sha256, cues=spoken.reports,
            cues_not_fitting=tuple(r.index for r in spoken.reports if not r.fits),
            duration_s=round(spoken.duration_s, 3), width=picture.width,
            height=picture.height, fps=AVATAR_FPS, frames=receipt.frames,
            frames_lipsynced=frames_changed(engines.lipsync), loop_cuts=len(cuts),
            max_cut_jump=max((c.jump for c in cuts), default=None),
            reel_bounces=picture.plan.bounces if picture.plan is not None else 0,
            background_seen=(round(picture.plate.seen_share, 3)
                             if picture.plate is not None else None),
            subtitles=sidecar,
            engines=engines.names,
            engine_choices=tuple(choice.describe() for choice in engines.choices),
            stages_s=clock.report())


def run_avatar(studio: RenderContext, request: AvatarRequest) -> AvatarResult:
    """Run an avatar render, already validated by `AvatarRequest.build`, as a Prefect flow
    run (offline, heartbeat off), as `run_dub` does.

    Raises `BadInput` (exit 2), `ConsentDenied` (3), `IntegrityFailure` (a reel changed
    since registration) or another `LikenessError`; on any failure nothing is written
    at ``request.out``.
    """
    request.check_likeness(studio)  # before paying for a Prefect server
    session: AbstractContextManager[Any] = offline_prefect(home=studio.settings.home)
    with session, bound_studio(studio):
        return avatar_flow(request)
