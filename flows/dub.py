"""`likeness dub`: new speech in another language, lip-synced, published under consent.

The flow only sequences small tasks; each task does one job:

1. inputs: probe the video (it must have sound), read the target-language script,
   or recognize the speech (faster-whisper) and translate it (the engine registry
   picks the translator: apertium, or identity when the languages match);
   pick the engines (face, TTS, lip-sync) so a missing engine fails before consent;
2. consent: the face in the source is embedded for identity binding, and the gate
   must allow ``dubbing`` (+ ``lip_sync`` when the lip-sync engine alters the mouth);
3. speech: every cue is spoken in the target language, fitted into its slot,
   placed on a track at the source sample rate (with its phoneme timings moved to
   the cue's start), loudness-normalized and mixed over the ducked original;
4. picture: frames stream from the decoder through the face tracker and the
   lip-sync engine straight into `provenance.publish.publish`, which encodes once and
   is the only code that writes the output;
5. a `DubResult` names the output, the render and decision ids, the cues (and
   which did not fit their slot), the engines and the seconds each stage took.

Large values (frames, samples) never leave the process: every task has result
persistence and input caching off, so Prefect stores only run states. The studio
(keys, database) is handed to the flow through a context variable, never as a
flow parameter, so nothing of it is serialized into Prefect's run records.
After the consent decision, a failure is logged to the ledger as ``render_failed``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from consent.codes import normalize_language
from consent.models import Decision, RenderRequest, Use
from flows.context import RenderContext
from flows.faces import source_embeddings
from flows.prefect_env import flow, offline_prefect, run_labels, task
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
    timed_stage,
)
from likeness.errors import BadInput, ConsentDenied
from media.audio import (
    AudioTrack,
    duck_and_mix,
    fit_to_slot,
    load_audio,
    loudness_normalize,
    measure_loudness,
    resample,
)
from media.decode import iter_frames
from media.digest import sha256_file
from media.probe import MediaInfo, probe
from media.subtitles import load_subtitles
from media.timed_text import Cue, PhonemeTiming, validate_cues
from models import registry
from models.asr.base import Recognizer
from models.face import FaceEngine
from models.lipsync import LipSync
from models.mt.base import Translator, primary
from models.registry import Choice, EnginePolicy, LipSyncName
from models.tts import TTSEngine
from provenance.c2pa import C2paAction
from provenance.publish import (
    PublishReceipt,
    Rendered,
    check_watermarkable,
    publish,
)

if TYPE_CHECKING:
    from models.face.tracking import TrackedFace

R = TypeVar("R")

SOURCE_TYPE = "compositeWithTrainedAlgorithmicMedia"
UNDETERMINED_LANGUAGE = "und"  # BCP 47 for "not known" (a script gives no source language)
MAX_STRETCH_RATIO = 1.35  # faster than this and synthetic speech stops being intelligible
SPEECH_LOUDNESS_MIN_LUFS = -23.0  # EBU R128 programme level
SPEECH_LOUDNESS_MAX_LUFS = -14.0  # streaming platforms' ceiling
TRANSCRIPT_CACHE_TTL = timedelta(days=30)  # a re-run or review pass within a month is free


# -- the studio, as the flow needs it ----------------------------------------------------


# -- request and result (the boundary models) ---------------------------------------------


class DubRequest(BaseModel):
    """The flow's parameters: JSON-friendly, so Prefect can record them as they are."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    video: Path
    language: str
    out: Path
    script: Path | None = None
    performer: str = Field(min_length=1)
    voice: str | None = None
    lipsync: LipSyncName = "auto"
    production: str | None = None

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        return normalize_language(value)

    @classmethod
    def build(cls, **options: Any) -> DubRequest:
        """Validate the options; a bad one is `BadInput` naming the option."""
        try:
            request = cls(**options)
        except ValidationError as exc:
            raise options_error("dub", exc, hints={
                "lipsync": f"--lipsync is one of {', '.join(registry.names('lipsync'))}"}
            ) from None
        request.check_paths()
        return request

    def check_paths(self) -> None:
        check_paths(inputs={"video": self.video, "script": self.script}, out=self.out,
                    protected={"input video": self.video})


class CueReport(BaseModel):
    """One spoken line: where it sits, what was said, and how it was fitted."""

    model_config = ConfigDict(frozen=True)

    index: int
    start_s: float
    end_s: float
    text: str
    speech_s: float  # synthesized length before fitting
    ratio: float  # tempo applied to fit the slot (1.0 untouched)
    fits: bool
    overflow_s: float  # how far it ran past its slot (cut at the next cue / the end)


class DubResult(RenderResult):
    """What `run_dub` returns, beyond any render's result."""

    performer_id: str
    language: str
    source_language: str
    translated: bool  # True when MT changed the lines' language; False for a --script
    # or when the speech already was in the target language (nothing was translated)
    cues: tuple[CueReport, ...]
    cues_not_fitting: tuple[int, ...]
    engines: tuple[str, ...]
    engine_choices: tuple[str, ...] = ()  # which engine each request resolved to, and why
    frames: int
    frames_lipsynced: int  # frames whose mouth was moved (the engine's `last_stats`)
    stages_s: dict[str, float]


# -- values passed between tasks (in memory only) -----------------------------------------


@dataclass(frozen=True)
class Lines:
    """The cues to speak, in the target language."""

    cues: tuple[Cue, ...]
    source_language: str
    translated: bool
    engines: tuple[str, ...]


@dataclass(frozen=True)
class Engines:
    face: FaceEngine
    tts: TTSEngine
    lipsync: LipSync
    choices: tuple[Choice, ...] = ()  # why each was picked (results, --debug)

    @property
    def names(self) -> tuple[str, ...]:
        return (f"face:{self.face.name}", f"tts:{self.tts.name}", f"lipsync:{self.lipsync.name}")


def dub_uses(lipsync: LipSync) -> tuple[Use, ...]:
    """A dub whose engine moves the mouth needs lip_sync consent as well as dubbing."""
    return (Use.DUBBING, Use.LIP_SYNC) if lipsync.alters_mouth else (Use.DUBBING,)


@dataclass(frozen=True, eq=False)
class FittedLine:
    """One cue's speech at the track rate, ready to place at ``start_sample``."""

    report: CueReport
    start_sample: int
    samples: np.ndarray  # (n,) float32, already cut to the room it has
    phonemes: tuple[PhonemeTiming, ...]  # absolute times in the video


@dataclass(frozen=True, eq=False)
class Soundtrack:
    """The dubbed audio: the mix to publish and the speech alone (it drives the mouth)."""

    mixed: AudioTrack
    speech: np.ndarray  # (n,) float32 at mixed.sample_rate
    timings: tuple[PhonemeTiming, ...]


# -- tasks ----------------------------------------------------------------------------------


@io_task("probe-input", stage="probe")
def probe_input(video: Path) -> MediaInfo:
    info = probe(video)
    info.require_video()
    info.require_audio()  # a dub replaces speech: a silent file has none to replace
    check_watermarkable(info)
    return info


@io_task("load-script", stage="script")
def load_script(script: Path, *, video_duration_s: float) -> Lines:
    cues = load_subtitles(script, video_duration=video_duration_s)
    return Lines(cues=tuple(cues), source_language=UNDETERMINED_LANGUAGE, translated=False,
                 engines=("mt:script",))


@io_task("hash-video", stage="asr+mt")
def hash_video(video: Path) -> str:
    return sha256_file(video)


@step_task("choose-recognizer", stage="asr+mt")
def choose_recognizer(*, models_dir: Path, cache_dir: Path, policy: EnginePolicy) -> Recognizer:
    return registry.get("asr", models_dir=models_dir, policy=policy, cache_dir=cache_dir)


def _transcript_key(_context: object, parameters: dict[str, Any]) -> str:
    """Same footage, same target language, same ASR model: the same lines."""
    return (f"recognize-and-translate:{parameters['video_sha256']}:{parameters['language']}:"
            f"{parameters['asr_model']}")


@task(name="recognize-and-translate", cache_key_fn=_transcript_key, persist_result=True,
      cache_expiration=TRANSCRIPT_CACHE_TTL)
@timed_stage("asr+mt")
def recognize_and_translate(video: Path, *, video_sha256: str, asr_model: str,
                            recognizer: Recognizer, language: str, video_duration_s: float,
                            models_dir: Path, policy: EnginePolicy) -> Lines:
    """No script: faster-whisper finds the lines and their language; the registry picks
    the translator for that pair (identity when it already is the target language).

    The slowest step of an unscripted dub, small and deterministic: its result is
    persisted in the studio's Prefect storage and reused for the same footage (by
    SHA-256), target language and ASR model, so a re-run (a review pass, a retried
    render) costs nothing. It holds the words heard, never pixels or voices."""
    transcript = recognizer.transcribe(video)
    heard = tuple(c for c in transcript.cues if c.text.strip())
    if not heard:
        raise BadInput(f"no speech was recognized in {video}",
                       hint="pass the lines to speak with --script SUBS.srt")
    translator = registry.get("mt", models_dir=models_dir, policy=policy,
                              source=transcript.language, target=language)
    return translated_lines(heard, source=transcript.language, target=language,
                            translator=translator, video_duration_s=video_duration_s,
                            recognized_by=f"asr:whisper-{transcript.model}", video=video)


def translated_lines(heard: Sequence[Cue], *, source: str, target: str,
                     translator: Translator, video_duration_s: float, recognized_by: str,
                     video: Path) -> Lines:
    """The heard cues in the target language, naming the translator that actually ran.

    `translated` is a provenance claim (the manifest's ``c2pa.translated``), so it is
    true only when the language changed, never because a translator was on the path."""
    texts = translator.translate([c.text.strip() for c in heard], source=source, target=target)
    cues = tuple(Cue(index=i, start_s=max(0.0, c.start_s),
                     end_s=min(c.end_s, video_duration_s), text=t)
                 for i, (c, t) in enumerate(zip(heard, texts, strict=True), start=1))
    validate_cues(cues, video_duration=video_duration_s, source=f"speech recognized in {video}")
    return Lines(cues=cues, source_language=source,
                 translated=primary(source) != primary(target),
                 engines=(recognized_by, f"mt:{translator.name}"))


@step_task("choose-engines", stage="engines")
def choose_engines(*, language: str, lipsync: str, face_engine: str,
                   models_dir: Path, policy: EnginePolicy) -> Engines:
    """Resolve every engine before consent, so a missing one costs no render budget.

    The registry holds the rules (TTS per language, lip-sync ``auto``, the licence
    policy of a commercial studio); this task only says what the dub asks for."""
    choices = (
        registry.choose("face", face_engine, models_dir=models_dir, policy=policy),
        registry.choose("tts", models_dir=models_dir, policy=policy, language=language),
        registry.choose("lipsync", lipsync, models_dir=models_dir, policy=policy),
    )
    face, tts, mouth = (registry.build(choice) for choice in choices)
    return Engines(face=face, tts=tts, lipsync=mouth, choices=choices)


@io_task("bind-identity", stage="identity")
def bind_identity(video: Path, *, engine: FaceEngine) -> tuple[tuple[float, ...], ...]:
    return source_embeddings(engine, video)


@step_task("authorize", stage="consent")
def authorize_dub(request: DubRequest, *, uses: tuple[Use, ...],
                  embeddings: tuple[tuple[float, ...], ...]) -> Decision:
    """Not retried: an allowed decision reserves one render from the grant's budget."""
    decision = current_studio().authorize(RenderRequest(
        performer_id=request.performer, uses=uses, language=request.language,
        production=request.production, face_embeddings=embeddings,
        purpose=f"dub {request.video.name} into {request.language}"))
    if not decision.allowed:
        raise ConsentDenied(f"consent denied for {request.performer} to dub into "
                            f"{request.language}: {'; '.join(decision.reasons)}",
                            reasons=list(decision.reasons))
    return decision


@io_task("load-original-audio", stage="audio")
def load_original_audio(video: Path) -> AudioTrack:
    samples, rate = load_audio(video)
    return AudioTrack(samples, rate)


@step_task("synthesize-lines", stage="tts")
def synthesize_lines(lines: Lines, *, engine: TTSEngine, language: str, voice: str | None,
                     sample_rate: int, duration_s: float) -> tuple[FittedLine, ...]:
    """Speak each cue, fit it into its slot; a line too long runs on until the next cue."""
    fitted: list[FittedLine] = []
    total = int(round(duration_s * sample_rate))
    for position, cue in enumerate(lines.cues):
        speech = engine.synthesize(cue.text, language=language, voice=voice)
        samples = resample(speech.samples, from_rate=speech.sample_rate, to_rate=sample_rate)
        fit = fit_to_slot(samples, sample_rate, slot_seconds=cue.duration_s,
                          max_stretch=MAX_STRETCH_RATIO)
        start = int(round(cue.start_s * sample_rate))
        next_start = (int(round(lines.cues[position + 1].start_s * sample_rate))
                      if position + 1 < len(lines.cues) else total)
        room = max(0, min(next_start, total) - start)
        placed = fit.samples[:room, 0]
        heard_until_s = cue.start_s + placed.shape[0] / sample_rate
        phonemes = tuple(
            PhonemeTiming(p.phoneme, cue.start_s + p.start_s / fit.ratio,
                          min(cue.start_s + p.end_s / fit.ratio, heard_until_s))
            for p in speech.phonemes if cue.start_s + p.start_s / fit.ratio < heard_until_s)
        report = CueReport(index=cue.index, start_s=cue.start_s, end_s=cue.end_s, text=cue.text,
                           speech_s=round(speech.duration_s, 3), ratio=round(fit.ratio, 3),
                           fits=fit.fits, overflow_s=round(fit.overflow_s, 3))
        fitted.append(FittedLine(report=report, start_sample=start,
                                 samples=np.ascontiguousarray(placed), phonemes=phonemes))
    return tuple(fitted)


@step_task("mix-soundtrack", stage="mix")
def mix_soundtrack(original: AudioTrack, lines: Sequence[FittedLine]) -> Soundtrack:
    """Speech at the level of the original programme (within broadcast bounds), over it."""
    rate = original.sample_rate
    speech = np.zeros(original.samples.shape[0], dtype=np.float32)
    for line in lines:
        end = min(speech.shape[0], line.start_sample + line.samples.shape[0])
        speech[line.start_sample:end] = line.samples[:end - line.start_sample]
    bed_lufs = measure_loudness(original.samples, rate)
    target_lufs = float(np.clip(bed_lufs, SPEECH_LOUDNESS_MIN_LUFS, SPEECH_LOUDNESS_MAX_LUFS)
                        if np.isfinite(bed_lufs) else SPEECH_LOUDNESS_MIN_LUFS)
    voice = loudness_normalize(speech, rate, target_lufs=target_lufs)
    mixed = duck_and_mix(original.samples, voice, rate)
    timings = tuple(p for line in lines for p in line.phonemes)
    return Soundtrack(mixed=AudioTrack(mixed, rate), speech=voice[:, 0], timings=timings)


@step_task("lipsync-and-publish", stage="render+publish")
def lipsync_and_publish(request: DubRequest, *, info: MediaInfo, soundtrack: Soundtrack,
                        engines: Engines, decision: Decision, lines: Lines) -> PublishReceipt:
    """Decode once, track and move the mouth frame by frame, encode once in `publish`."""
    video = info.require_video()
    fps = video.avg_fps
    decoded = (f.rgb for f in iter_frames(request.video, info=info, cfr_fps=fps))
    to_render, to_track = itertools.tee(decoded)  # in lockstep: one frame buffered
    track: Iterator[TrackedFace | None]
    if engines.lipsync.needs_track:
        from models.face.tracking import FaceTracker

        track = FaceTracker(engines.face, fps=fps).track(to_track)
    else:
        track = (None for _ in to_track)  # one "no face" per frame: nothing to track
    frames: Iterator[np.ndarray] = engines.lipsync.render(
        to_render, track, soundtrack.speech, soundtrack.mixed.sample_rate, fps=fps,
        timings=soundtrack.timings)
    rendered = Rendered(
        frames=frames, fps=video.avg_rate, audio=soundtrack.mixed,
        title=request.out.name, source_type=SOURCE_TYPE, source=request.video,
        actions=dub_actions(lines, language=request.language, engines=engines),
        engines=(*engines.names, *lines.engines))
    return publish(rendered, decision, ctx=current_studio().publish, out=request.out)


def dub_actions(lines: Lines, *, language: str, engines: Engines) -> tuple[C2paAction, ...]:
    """The manifest's account of the dub: ``c2pa.translated`` only when the lines are in
    another language than the speech they replace (a script's source is unknown, "und")."""
    mouth = (f"the mouth lip-synced by the {engines.lipsync.name} engine"
             if engines.lipsync.alters_mouth else "the mouth left untouched")
    edited = C2paAction(action="c2pa.edited", parameters={
        "description": f"speech replaced with synthetic {language} speech "
                       f"({engines.tts.name}), {mouth}"})
    if primary(lines.source_language) == primary(language):
        return (edited,)
    return (C2paAction(action="c2pa.translated", parameters={
        "sourceLanguage": lines.source_language, "targetLanguage": language}), edited)


# -- the flow -------------------------------------------------------------------------------


@flow(name="dub", persist_result=False, validate_parameters=True, log_prints=False)
def dub_flow(request: DubRequest) -> DubResult:
    """Sequence the dub's tasks (see the module docstring); the studio comes from context."""
    settings = current_studio().settings
    policy = settings.engine_policy
    with flow_clock() as clock:
        info = probe_input(request.video)
        duration_s = info.require_video().duration_s or info.duration_s
        if request.script is not None:
            lines = load_script(request.script, video_duration_s=duration_s)
        else:
            recognizer = choose_recognizer(models_dir=settings.models_dir,
                                           cache_dir=settings.cache_dir, policy=policy)
            lines = recognize_and_translate(
                request.video, video_sha256=hash_video(request.video),
                asr_model=recognizer.model_id, recognizer=recognizer, language=request.language,
                video_duration_s=duration_s, models_dir=settings.models_dir, policy=policy)
        engines = choose_engines(language=request.language, lipsync=request.lipsync,
                                 face_engine=settings.face_engine,
                                 models_dir=settings.models_dir, policy=policy)
        embeddings = bind_identity(request.video, engine=engines.face)
        decision = authorize_dub(request, uses=dub_uses(engines.lipsync), embeddings=embeddings)
        with failures_logged(decision, flow="dub", out=request.out):
            original = load_original_audio(request.video)
            fitted = synthesize_lines(lines, engine=engines.tts, language=request.language,
                                      voice=request.voice, sample_rate=original.sample_rate,
                                      duration_s=original.duration_s)
            soundtrack = mix_soundtrack(original, fitted)
        receipt = lipsync_and_publish(request, info=info, soundtrack=soundtrack,
                                      engines=engines, decision=decision, lines=lines)
        reports = tuple(line.report for line in fitted)
        return DubResult(
            out=receipt.out, render_id=receipt.render_id, decision_id=receipt.decision_id,
            grant_ids=receipt.grant_ids, performer_id=request.performer,
            language=request.language, source_language=lines.source_language,
            translated=lines.translated, cues=reports,
            cues_not_fitting=tuple(r.index for r in reports if not r.fits),
            engines=(*engines.names, *lines.engines),
            engine_choices=tuple(choice.describe() for choice in engines.choices),
            frames=receipt.frames, frames_lipsynced=frames_changed(engines.lipsync),
            stages_s=clock.report())


def run_dub(studio: RenderContext, request: DubRequest) -> DubResult:
    """Run a dub, already validated by `DubRequest.build`, as a Prefect flow run (offline,
    heartbeat off): the caller checks its options before paying for a Prefect server.

    Raises `BadInput` (exit 2), `ConsentDenied` (3) or another `LikenessError`;
    on any failure nothing is written at ``request.out``.
    """
    session: AbstractContextManager[Any] = offline_prefect(home=studio.settings.home)
    labels = run_labels(f"dub-{request.out.stem}", performer=request.performer,
                        uses=("dubbing",), language=request.language,
                        production=request.production)
    with session, bound_studio(studio):
        return labels.run(dub_flow, request)
