"""`likeness dub`: new speech in another language, lip-synced, published under consent.

The flow only sequences small tasks; each task does one job:

1. inputs: probe the video (it must have sound), read the target-language script,
   or recognize the speech (faster-whisper) and translate it (apertium);
   pick the engines (face, TTS, lip-sync) so a missing engine fails before consent;
2. consent: the face in the source is embedded for identity binding, and the gate
   must allow ``dubbing`` (+ ``lip_sync`` unless the mouth is left alone);
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
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from consent.codes import normalize_language, normalize_territory
from consent.models import Decision, RenderRequest, Use
from flows.context import RenderContext
from flows.faces import source_embeddings
from flows.prefect_env import flow, offline_prefect
from flows.runtime import (
    Stopwatch,
    bound_studio,
    check_paths,
    current_studio,
    frames_changed,
    io_task,
    options_error,
    step_task,
)
from likeness.errors import BadInput, ConsentDenied, LikenessError
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
from media.probe import MediaInfo, probe
from media.subtitles import load_subtitles
from media.timed_text import Cue, PhonemeTiming, validate_cues
from models.face import FaceEngine, get_face_engine
from models.lipsync import LIPSYNC_NAMES, LipSync, get_lipsync
from models.tts import TTSEngine, pick_tts
from provenance.c2pa import C2paAction
from provenance.publish import (
    PublishReceipt,
    Rendered,
    check_watermarkable,
    publish,
    record_failure,
)

R = TypeVar("R")

LipSyncOption = Literal["auto", "wav2lip", "viseme", "none"]
SOURCE_TYPE = "compositeWithTrainedAlgorithmicMedia"
UNDETERMINED_LANGUAGE = "und"  # BCP 47 for "not known" (a script gives no source language)
ENGLISH_TTS = "piper"
OTHER_TTS = "espeak-ng"
MAX_STRETCH_RATIO = 1.35  # faster than this and synthetic speech stops being intelligible
SPEECH_LOUDNESS_MIN_LUFS = -23.0  # EBU R128 programme level
SPEECH_LOUDNESS_MAX_LUFS = -14.0  # streaming platforms' ceiling


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
    lipsync: LipSyncOption = "auto"
    production: str | None = None
    territory: str | None = None  # where it is shown: a grant limited to territories needs it

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        return normalize_language(value)

    @field_validator("territory")
    @classmethod
    def _territory(cls, value: str | None) -> str | None:
        return None if value is None else normalize_territory(value)

    @classmethod
    def build(cls, **options: Any) -> DubRequest:
        """Validate the options; a bad one is `BadInput` naming the option."""
        try:
            request = cls(**options)
        except ValidationError as exc:
            raise options_error("dub", exc, hints={
                "lipsync": f"--lipsync is one of {', '.join(LIPSYNC_NAMES)}"}) from None
        request.check_paths()
        return request

    def check_paths(self) -> None:
        check_paths(inputs={"video": self.video, "script": self.script}, out=self.out,
                    protected={"input video": self.video})

    @property
    def uses(self) -> tuple[Use, ...]:
        """A dub that moves the mouth needs lip_sync consent as well as dubbing."""
        return (Use.DUBBING,) if self.lipsync == "none" else (Use.DUBBING, Use.LIP_SYNC)


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


class DubResult(BaseModel):
    """What `run_dub` returns (and the CLI prints with ``--json``)."""

    model_config = ConfigDict(frozen=True)

    out: Path
    render_id: str
    decision_id: str
    grant_ids: tuple[str, ...]
    performer_id: str
    language: str
    source_language: str
    translated: bool  # True when ASR + MT made the lines, False for a --script
    cues: tuple[CueReport, ...]
    cues_not_fitting: tuple[int, ...]
    engines: tuple[str, ...]
    frames: int
    frames_lipsynced: int | None  # frames whose mouth was moved (None: engine does not say)
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

    @property
    def names(self) -> tuple[str, ...]:
        return (f"face:{self.face.name}", f"tts:{self.tts.name}", f"lipsync:{self.lipsync.name}")


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


@io_task("probe-input")
def probe_input(video: Path) -> MediaInfo:
    info = probe(video)
    info.require_video()
    info.require_audio()  # a dub replaces speech: a silent file has none to replace
    check_watermarkable(info)
    return info


@io_task("load-script")
def load_script(script: Path, *, video_duration_s: float) -> Lines:
    cues = load_subtitles(script, video_duration=video_duration_s)
    return Lines(cues=tuple(cues), source_language=UNDETERMINED_LANGUAGE, translated=False,
                 engines=("mt:script",))


@step_task("recognize-and-translate")
def recognize_and_translate(video: Path, *, language: str, video_duration_s: float,
                            models_dir: Path) -> Lines:
    """No script: faster-whisper finds the lines and their language, apertium translates."""
    from models.asr import transcribe
    from models.mt import translate

    transcript = transcribe(video, models_dir=models_dir)
    heard = [c for c in transcript.cues if c.text.strip()]
    if not heard:
        raise BadInput(f"no speech was recognized in {video}",
                       hint="pass the lines to speak with --script SUBS.srt")
    source = transcript.language
    texts = [c.text.strip() for c in heard]
    translated = (texts if source.split("-")[0] == language.split("-")[0]
                  else translate(texts, source=source, target=language))
    cues = tuple(Cue(index=i, start_s=max(0.0, c.start_s),
                     end_s=min(c.end_s, video_duration_s), text=t)
                 for i, (c, t) in enumerate(zip(heard, translated, strict=True), start=1))
    validate_cues(cues, video_duration=video_duration_s, source=f"speech recognized in {video}")
    return Lines(cues=cues, source_language=source, translated=True,
                 engines=(f"asr:whisper-{transcript.model}", "mt:apertium"))


@step_task("choose-engines")
def choose_engines(*, language: str, lipsync: str, face_engine: str,
                   models_dir: Path, commercial: bool,
                   acknowledged: frozenset[str]) -> Engines:
    """Resolve every engine before consent, so a missing one costs no render budget.

    A commercial studio gets only commercially licensed engines unless its config
    acknowledges the others (``acknowledged_noncommercial``)."""
    tts_name = ENGLISH_TTS if language.split("-")[0] == "en" else OTHER_TTS
    return Engines(face=get_face_engine(face_engine),
                   tts=pick_tts(language, prefer=tts_name, strict=True, models_dir=models_dir),
                   lipsync=get_lipsync(lipsync, models_dir=models_dir, commercial=commercial,
                                       acknowledged=acknowledged))


@io_task("bind-identity")
def bind_identity(video: Path, *, engine: FaceEngine) -> tuple[tuple[float, ...], ...]:
    return source_embeddings(engine, video)


@step_task("authorize")
def authorize_dub(request: DubRequest, *,
                  embeddings: tuple[tuple[float, ...], ...]) -> Decision:
    """Not retried: an allowed decision reserves one render from the grant's budget."""
    decision = current_studio().authorize(RenderRequest(
        performer_id=request.performer, uses=request.uses, language=request.language,
        production=request.production, territory=request.territory,
        face_embeddings=embeddings, purpose=f"dub {request.video.name} into {request.language}"))
    if not decision.allowed:
        raise ConsentDenied(f"consent denied for {request.performer} to dub into "
                            f"{request.language}: {'; '.join(decision.reasons)}",
                            reasons=list(decision.reasons))
    return decision


@io_task("load-original-audio")
def load_original_audio(video: Path) -> AudioTrack:
    samples, rate = load_audio(video)
    return AudioTrack(samples, rate)


@step_task("synthesize-lines")
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


@step_task("mix-soundtrack")
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


@step_task("lipsync-and-publish")
def lipsync_and_publish(request: DubRequest, *, info: MediaInfo, soundtrack: Soundtrack,
                        engines: Engines, decision: Decision, lines: Lines) -> PublishReceipt:
    """Decode once, track and move the mouth frame by frame, encode once in `publish`."""
    video = info.require_video()
    fps = video.avg_fps
    decoded = (f.rgb for f in iter_frames(request.video, info=info, cfr_fps=fps))
    if request.lipsync == "none":
        frames: Iterator[np.ndarray] = decoded
    else:
        from models.face.tracking import FaceTracker

        to_render, to_track = itertools.tee(decoded)  # in lockstep: one frame buffered
        track = FaceTracker(engines.face, fps=fps).track(to_track)
        frames = engines.lipsync.render(to_render, track, soundtrack.speech,
                                        soundtrack.mixed.sample_rate, fps=fps,
                                        timings=soundtrack.timings)
    mouth = ("the mouth left untouched" if request.lipsync == "none"
             else f"the mouth lip-synced by the {engines.lipsync.name} engine")
    rendered = Rendered(
        frames=frames, fps=video.avg_rate, audio=soundtrack.mixed,
        title=request.out.name, source_type=SOURCE_TYPE, source=request.video,
        actions=(
            C2paAction(action="c2pa.translated", parameters={
                "sourceLanguage": lines.source_language, "targetLanguage": request.language}),
            C2paAction(action="c2pa.edited", parameters={
                "description": f"speech replaced with synthetic {request.language} speech "
                               f"({engines.tts.name}), {mouth}"}),
        ),
        engines=(*engines.names, *lines.engines))
    return publish(rendered, decision, ctx=current_studio().publish, out=request.out)


# -- the flow -------------------------------------------------------------------------------


@flow(name="dub", persist_result=False, validate_parameters=True, log_prints=False)
def dub_flow(request: DubRequest) -> DubResult:
    """Sequence the dub's tasks (see the module docstring); the studio comes from context."""
    studio = current_studio()
    settings = studio.settings
    clock = Stopwatch()
    info = clock.run("probe", probe_input, request.video)
    duration_s = info.require_video().duration_s or info.duration_s
    if request.script is not None:
        lines = clock.run("script", load_script, request.script, video_duration_s=duration_s)
    else:
        lines = clock.run("asr+mt", recognize_and_translate, request.video,
                          language=request.language, video_duration_s=duration_s,
                          models_dir=settings.models_dir)
    engines = clock.run("engines", choose_engines, language=request.language,
                        lipsync=request.lipsync, face_engine=settings.face_engine,
                        models_dir=settings.models_dir, commercial=settings.commercial,
                        acknowledged=settings.acknowledged_noncommercial)
    embeddings = clock.run("identity", bind_identity, request.video, engine=engines.face)
    decision = clock.run("consent", authorize_dub, request, embeddings=embeddings)
    stage = "audio"
    try:
        original = clock.run("audio", load_original_audio, request.video)
        stage = "tts"
        fitted = clock.run("tts", synthesize_lines, lines, engine=engines.tts,
                           language=request.language, voice=request.voice,
                           sample_rate=original.sample_rate, duration_s=original.duration_s)
        stage = "mix"
        soundtrack = clock.run("mix", mix_soundtrack, original, fitted)
    except BaseException as exc:  # publish logs its own failures; these come before it
        reason = exc.diagnostics() if isinstance(exc, LikenessError) else repr(exc)
        record_failure(studio.publish, decision, stage=f"dub:{stage}", reason=reason,
                       out=request.out)
        raise
    receipt = clock.run("render+publish", lipsync_and_publish, request, info=info,
                        soundtrack=soundtrack, engines=engines, decision=decision, lines=lines)
    reports = tuple(line.report for line in fitted)
    return DubResult(
        out=receipt.out, render_id=receipt.render_id, decision_id=receipt.decision_id,
        grant_ids=receipt.grant_ids, performer_id=request.performer, language=request.language,
        source_language=lines.source_language, translated=lines.translated, cues=reports,
        cues_not_fitting=tuple(r.index for r in reports if not r.fits),
        engines=(*engines.names, *lines.engines), frames=receipt.frames,
        frames_lipsynced=frames_changed(engines.lipsync), stages_s=clock.stages_s)


def run_dub(studio: RenderContext, request: DubRequest) -> DubResult:
    """Run a dub, already validated by `DubRequest.build`, as a Prefect flow run (offline,
    heartbeat off): the caller checks its options before paying for a Prefect server.

    Raises `BadInput` (exit 2), `ConsentDenied` (3) or another `LikenessError`;
    on any failure nothing is written at ``request.out``.
    """
    session: AbstractContextManager[Any] = offline_prefect(home=studio.settings.home)
    with session, bound_studio(studio):
        return dub_flow(request)
