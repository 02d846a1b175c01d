"""`likeness dub`: new speech in another language, lip-synced, published under consent.

The flow only sequences small tasks; each task does one job:

1. inputs: probe the video (it must have sound), read the target-language script,
   or recognize the speech (faster-whisper) and translate it (the engine registry
   picks the translator: apertium, or identity when the languages match);
   pick the engines (face, TTS, lip-sync) so a missing engine fails before consent;
2. consent: every face track in the source is embedded for identity binding (only
   the performer's is lip-synced; flows.faces), and the gate must allow ``dubbing``
   (+ ``lip_sync`` when the lip-sync engine alters the mouth);
3. speech: every cue is spoken in the target language and placed by
   `media.cue_timing` (natural pace first, then into the pause after it, then sped up
   to the cap, then later lines move: no two lines overlap and no word is cut before
   the video's last frame), on a track
   at the source sample rate (phoneme timings follow); the original dialogue is found
   (Silero VAD, plus the recognizer's word timings) and removed with the source's room
   tone under the new lines (`media.dialogue`); the mix is mastered to -23 LUFS,
   true peak <= -1 dBTP (`media.loudness`). The lines are spoken in a worker thread
   while identity binding runs (they do not depend on each other), unless the engine
   can clone a voice, which waits for the gate (`speak_early`). With ``review`` the flow
   stops before consent, having written the lines as an SRT for a person to correct;
4. picture: frames stream from the decoder through the face tracker and the
   lip-sync engine straight into `provenance.publish.publish`, which encodes once and
   is the only code that writes the output; only the frames around speech (each cue's
   slot and where its new line is spoken, plus `SPEECH_MARGIN_S`) are tracked and
   lip-synced, the others pass through untouched; the faces the footage bank's build
   followed in the source are reused, not followed again (`SourceTracks`, by SHA-256);
5. a `DubResult` names the output, the render and decision ids, the cues (length,
   slot, tempo, where each was placed and why), the mix's figures, the engines and
   the seconds each stage took; the cues also go to a ``OUT.cues.json`` sidecar and,
   with ``subtitles``, to an SRT/VTT timed to the new speech.

Large values (frames, samples) never leave the process: every task has result
persistence and input caching off, so Prefect stores only run states. The studio
(keys, database) is handed to the flow through a context variable, never as a
flow parameter, so nothing of it is serialized into Prefect's run records.
After the consent decision, a failure is logged to the ledger as ``render_failed``.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from consent.codes import normalize_language, normalize_territory
from consent.models import Decision, RenderRequest, Use
from flows.context import RenderContext, RenderSettings
from flows.faces import SourceFaces, find_faces, performer_track, untouched_note
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
from flows.stages import publish_stages
from likeness.errors import BadInput, ConsentDenied
from media.audio import (
    AudioTrack,
    load_audio,
    loudness_normalize,
    measure_loudness,
    resample,
    time_stretch,
)
from media.cue_timing import FitAction, FitMode, Placement, on_output, picture_plan, place_lines
from media.decode import iter_frames
from media.dialogue import (
    SpeechRegion,
    detect_speech,
    merge_regions,
    remove_dialogue,
    word_regions,
)
from media.digest import sha256_file
from media.loudness import master
from media.pipeline import prefetch
from media.probe import MediaInfo, probe
from media.slow_motion import slowed_audio, slowed_frames
from media.subtitles import WRITE_FORMATS, load_subtitles, write_subtitles
from media.time_map import TimeMap
from media.timed_text import Cue, PhonemeTiming, validate_cues
from models import registry
from models.asr.base import Recognizer
from models.face import FaceEngine
from models.face.tracking import SourceTracks
from models.lipsync import LipSync, SourceFed
from models.mt.base import Translator, primary
from models.registry import Choice, EnginePolicy, LipSyncName, SeparationName
from models.separation import Separator, Stems
from models.tts import TTSEngine
from provenance.c2pa import C2paAction
from provenance.publish import (
    PublishReceipt,
    Rendered,
    check_watermarkable,
    publish,
)

if TYPE_CHECKING:
    from prefect.futures import PrefectFuture

    from models.face.tracking import TrackedFace

R = TypeVar("R")

SOURCE_TYPE = "compositeWithTrainedAlgorithmicMedia"
UNDETERMINED_LANGUAGE = "und"  # BCP 47 for "not known" (a script gives no source language)
MAX_STRETCH_RATIO = 1.35  # faster than this and synthetic speech stops being intelligible
SPEECH_LOUDNESS_MIN_LUFS = -31.0  # quieter new lines than this would drown in any bed
SPEECH_LOUDNESS_MAX_LUFS = -14.0  # streaming platforms' ceiling
SPEECH_OVER_BACKGROUND_LU = 10.0  # the new lines at least this far above the kept background
SIDECAR_SUFFIX = ".cues.json"
CUT_FADE_S = 0.05  # speech cut at the video's end fades instead of clicking
TRANSCRIPT_CACHE_TTL = timedelta(days=30)  # a re-run or review pass within a month is free
SPEECH_MARGIN_S = 0.2  # frames this close to a line are lip-synced too (the mouth settles)


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
    fit: FitMode = "speech"  # what gives when a line is too long at the speed-up cap
    separation: SeparationName = "auto"  # demucs when a checkpoint is there, else none
    separation_weights: Path | None = None  # a Demucs checkpoint (else models/demucs/*.th)
    review: bool = False  # write the lines as an SRT and stop before consent
    subtitles: Path | None = None  # the new-language subtitles, timed to the new speech
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
                "lipsync": f"--lipsync is one of {', '.join(registry.names('lipsync'))}",
                "fit": "--fit is speech (a long line is sped up, then moves the next "
                       "ones), video (the picture slows around it) or both",
                "separation": "--separation is one of "
                              f"{', '.join(registry.names('separation'))}"}
            ) from None
        request.check_paths()
        return request

    def check_paths(self) -> None:
        check_paths(inputs={"video": self.video, "script": self.script,
                            "separation weights": self.separation_weights}, out=self.out,
                    protected={"input video": self.video})
        if self.subtitles is not None:
            check_subtitles_path(self.subtitles, protected=(self.video, self.out, self.script))

    @property
    def review_script(self) -> Path:
        """Where ``review`` writes the lines: ``subtitles`` if given, else OUT.srt."""
        return self.subtitles if self.subtitles is not None else self.out.with_suffix(".srt")


def check_subtitles_path(path: Path, *, protected: Sequence[Path | None]) -> None:
    """A subtitles destination must be a writable .srt/.vtt/.ass that replaces no input."""
    if path.suffix.lower() not in WRITE_FORMATS:
        raise BadInput(f"dub subtitles: {path} must be a {', '.join(sorted(WRITE_FORMATS))} file")
    if not path.absolute().parent.is_dir():
        raise BadInput(f"dub subtitles: folder {path.absolute().parent} does not exist")
    if any(other is not None and path.absolute() == other.absolute() for other in protected):
        raise BadInput(f"dub subtitles: {path} would overwrite an input or the output")


class CueReport(BaseModel):
    """One spoken line: where it sits, what was said, and how it was fitted."""

    model_config = ConfigDict(frozen=True)

    index: int
    start_s: float  # the cue's slot, as the script or the recognizer gave it
    end_s: float
    text: str
    speech_s: float  # synthesized length at its natural pace
    slot_s: float  # the cue's length in the output (longer where the picture was slowed)
    ratio: float  # tempo applied (1.0 untouched); never above the cap
    action: FitAction  # fits | extended | sped | shifted | cut (media.cue_timing)
    spoken_start_s: float  # where the new speech was placed, on the output's timeline
    spoken_end_s: float
    fits: bool  # spoken inside its own slot, at its place
    overflow_s: float  # how far the speech runs past the slot's end
    cut_s: float = 0.0  # speech lost at the video's end: the script outlasts it at the cap
    picture_stretch: float = 1.0  # how much the picture around it was slowed (--fit video)


class MixReport(BaseModel):
    """How the soundtrack was made: what was removed and the delivered figures."""

    model_config = ConfigDict(frozen=True)

    dialogue_detection: str  # vad:silero-v6, plus +asr-words when the dub transcribed
    separation: str | None = None  # the model that split voice from M&E, with its SHA-256
    dialogue_regions: int
    dialogue_removed_s: float
    attenuation_db: float
    room_tone_s: float  # the non-speech source looped under the lines (0: none found)
    background_lufs: float | None  # the source without its dialogue (None: silent)
    speech_lufs: float  # the new lines alone, before mastering
    loudness_lufs: float  # the delivered mix (EBU R128 integrated)
    true_peak_dbtp: float
    channels: int
    sample_rate: int


class DubReview(BaseModel):
    """What ``review`` returns: the lines written for a person to check, nothing rendered."""

    model_config = ConfigDict(frozen=True)

    script: Path
    cues: int
    language: str
    source_language: str
    translated: bool
    engines: tuple[str, ...]
    stages_s: dict[str, float]


class DubResult(RenderResult):
    """What `run_dub` returns, beyond any render's result."""

    performer_id: str
    language: str
    source_language: str
    translated: bool  # True when MT changed the lines' language; False for a --script
    # or when the speech already was in the target language (nothing was translated)
    cues: tuple[CueReport, ...]
    cues_not_fitting: tuple[int, ...]
    mix: MixReport
    sidecar: Path  # the cue report as JSON next to the output
    subtitles: Path | None = None
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
    heard_words: tuple[tuple[float, float], ...] = ()  # (start, end) of each source word heard


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
class Fitted:
    """The lines placed on the output's timeline, and how the picture is slowed for them
    (the identity map with ``--fit speech``): the sound and the frames follow one map."""

    lines: tuple[FittedLine, ...]
    picture: TimeMap


@dataclass(frozen=True, eq=False)
class Soundtrack:
    """The dubbed audio: the mix to publish and the speech alone (it drives the mouth)."""

    mixed: AudioTrack
    speech: np.ndarray  # (n,) float32 at mixed.sample_rate
    timings: tuple[PhonemeTiming, ...]
    report: MixReport
    regions: tuple[SpeechRegion, ...]  # where the original dialogue was removed

    @property
    def engines(self) -> tuple[str, ...]:
        """The separation engine, when one split the source (the manifest names it)."""
        return ("separation:demucs",) if self.report.separation else ()


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


@io_task("hash-video", stage="probe")
def hash_video(video: Path) -> str:
    """Once per dub: the transcript cache and the per-run face store (`SourceTracks`) key
    on it, and a large camera file takes a while to read."""
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
    render) costs nothing. It holds the words heard, never pixels or voices.

    Decoded at temperature 0 only (``deterministic``): whisper's fallback to sampling,
    which its compression-ratio check starts on any repetitive speech, made the bench
    clip's repeated sentences 5x slower to recognise (58 s against 8.5 s for 60 s) and
    worse (0.42 of the words in order against 0.83); on the five LibriVox excerpts it
    never started (identical words either way). It also kept the cached lines honest:
    the same footage must give the same lines."""
    transcript = recognizer.transcribe(video, deterministic=True)
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
                 engines=(recognized_by, f"mt:{translator.name}"),
                 heard_words=tuple((w.start_s, w.end_s) for c in heard for w in c.words))


@step_task("choose-engines", stage="engines")
def choose_engines(*, language: str, lipsync: str, face_engine: str,
                   models_dir: Path, policy: EnginePolicy, footage: Path | None = None,
                   performer: str | None = None, cache_dir: Path | None = None,
                   tracks: SourceTracks | None = None) -> Engines:
    """Resolve every engine before consent, so a missing one costs no render budget.

    The registry holds the rules (TTS per language, lip-sync ``auto``, the licence
    policy of a commercial studio); this task only says what the dub asks for."""
    choices = (
        registry.choose("face", face_engine, models_dir=models_dir, policy=policy),
        registry.choose("tts", models_dir=models_dir, policy=policy, language=language),
        registry.choose("lipsync", lipsync, models_dir=models_dir, policy=policy,
                        footage=footage, performer=performer, cache_dir=cache_dir,
                        tracks=tracks),
    )
    face, tts, mouth = (registry.build(choice) for choice in choices)
    return Engines(face=face, tts=tts, lipsync=mouth, choices=choices)


def preflight_engines(request: DubRequest, settings: RenderSettings) -> None:
    """Before Prefect starts (issue 16 D14): an engine asked for by name that the licence
    policy refuses, a language no TTS engine speaks, or a ``--voice`` its engine does not
    list is one error line now, not a minute later from inside the flow run."""
    policy = settings.engine_policy
    if request.lipsync != "auto":
        registry.choose("lipsync", request.lipsync, models_dir=settings.models_dir,
                        policy=policy)
    choice = registry.choose("tts", models_dir=settings.models_dir, policy=policy,
                             language=request.language)
    if request.voice is None:
        return
    voices = registry.build(choice).voices(language=request.language)
    wanted = request.voice.split("+", 1)[0].lower()  # espeak-ng's voice+variant
    names = {name.lower() for v in voices for name in (v.voice, v.description, v.language)}
    if voices and wanted not in names and "/" not in wanted:
        shown = ", ".join(sorted({v.voice for v in voices})[:12])
        raise BadInput(f"dub voice: {choice.name} has no voice {request.voice!r} for "
                       f"{request.language}", hint=f"voices for {request.language}: {shown}")


@io_task("bind-identity", stage="identity")
def bind_identity(video: Path, *, engine: FaceEngine, tracks: SourceTracks | None = None,
                  video_sha256: str | None = None, lipsync: LipSync | None = None
                  ) -> SourceFaces:
    """Every face track of the source. A dub keeps the faces found in ``tracks`` too (under
    ``video_sha256``, the flow's one hash of the source, which it must then pass), where the
    footage bank's tracker takes them as keyframes instead of detecting again; avatars and
    reenactments keep nothing. A `SourceFed` ``lipsync`` engine takes this scan's frames
    (its bank) as it decodes."""
    if tracks is not None and video_sha256 is None:
        raise ValueError("bind_identity: tracks are keyed by the source's hash; pass video_sha256")
    sink = lipsync.frame_sink(video) if isinstance(lipsync, SourceFed) else None
    faces = find_faces(engine, video, each_frame=sink)
    if tracks is not None and video_sha256 is not None:
        tracks.found(video_sha256, faces.faces_by_frame())
    return faces


@step_task("authorize", stage="consent")
def authorize_dub(request: DubRequest, *, uses: tuple[Use, ...],
                  faces: SourceFaces) -> Decision:
    """Not retried: an allowed decision reserves one render from the grant's budget.
    Only the performer's face is lip-synced, so other faces may appear (left untouched);
    with the mouth left alone the whole picture is published as is: every face counts."""
    decision = current_studio().authorize(RenderRequest(
        performer_id=request.performer, uses=uses, language=request.language,
        production=request.production, territory=request.territory,
        face_tracks=faces.evidence(),
        face_scope="one_face" if Use.LIP_SYNC in uses else "every_face",
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
                     sample_rate: int, duration_s: float, fit: FitMode = "speech") -> Fitted:
    """Speak each cue, slow the picture where ``fit`` lets it, then place all lines at
    once on the (slowed) output timeline (a long line moves the next)."""
    spoken = [engine.synthesize(cue.text, language=language, voice=voice) for cue in lines.cues]
    lengths = [speech.duration_s for speech in spoken]
    picture = picture_plan(lines.cues, lengths, mode=fit, duration_s=duration_s)
    slots = on_output(lines.cues, picture)
    placements = place_lines(slots, lengths, duration_s=picture.output_duration_s,
                             max_tempo=MAX_STRETCH_RATIO)
    return Fitted(lines=tuple(
        _fitted(cue, speech, placement, sample_rate=sample_rate, slot=slot,
                stretch=picture.factor_at(cue.start_s))
        for cue, slot, speech, placement in zip(lines.cues, slots, spoken, placements,
                                                strict=True)),
        picture=picture)


def speak_early(lines: Lines, *, request: DubRequest, engine: TTSEngine,
                original: AudioTrack) -> PrefectFuture[Fitted] | None:
    """Start speaking the lines in a worker thread, to run while identity binding does:
    the two do not depend on each other, and ONNX (Kokoro) and dlib each leave part of
    the two cores idle. Only a stock voice is spoken before the consent decision; an
    engine that can clone a voice waits for the gate (None: speak after it)."""
    if engine.supports_voice_clone:
        return None
    return synthesize_lines.submit(lines, engine=engine, language=request.language,
                                   voice=request.voice, sample_rate=original.sample_rate,
                                   duration_s=original.duration_s, fit=request.fit)


@step_task("slow-original", stage="audio")
def slow_original(original: AudioTrack, picture: TimeMap) -> AudioTrack:
    """The source's sound on the output's timeline (as is, unless the picture slows)."""
    if picture.identity:
        return original
    return AudioTrack(slowed_audio(original.samples, original.sample_rate, picture),
                      original.sample_rate)


def _fitted(cue: Cue, speech: Any, placement: Placement, *, sample_rate: int,
            slot: Cue | None = None, stretch: float = 1.0) -> FittedLine:
    """One line at the track rate and its tempo, whole: nothing is cut at the next cue.
    ``slot`` is the cue on the output's timeline (where a slowed picture moved it)."""
    slot = slot if slot is not None else cue
    samples = resample(speech.samples, from_rate=speech.sample_rate, to_rate=sample_rate)
    if placement.tempo != 1.0:
        samples = time_stretch(samples, sample_rate, tempo=placement.tempo)
    tempo = placement.tempo
    if placement.cut_s > 0:  # the script outlasts the video even at the cap: end with it
        keep = max(0, int(round((placement.end_s - placement.start_s) * sample_rate)))
        samples = samples[:keep].copy()
        fade = min(keep, int(CUT_FADE_S * sample_rate))
        samples[keep - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, np.newaxis]
    phonemes = tuple(PhonemeTiming(p.phoneme, placement.start_s + p.start_s / tempo,
                                   min(placement.start_s + p.end_s / tempo, placement.end_s))
                     for p in speech.phonemes
                     if placement.start_s + p.start_s / tempo < placement.end_s)
    overflow = max(0.0, placement.end_s - slot.end_s)
    report = CueReport(
        index=cue.index, start_s=cue.start_s, end_s=cue.end_s, text=cue.text,
        speech_s=round(speech.duration_s, 3), slot_s=round(slot.duration_s, 3),
        ratio=round(tempo, 3), action=placement.action,
        spoken_start_s=round(placement.start_s, 3), spoken_end_s=round(placement.end_s, 3),
        fits=placement.action in ("fits", "sped"), overflow_s=round(overflow, 3),
        cut_s=round(placement.cut_s, 3), picture_stretch=round(stretch, 3))
    return FittedLine(report=report, start_sample=int(round(placement.start_s * sample_rate)),
                      samples=np.ascontiguousarray(samples[:, 0]), phonemes=phonemes)


@step_task("choose-separator", stage="engines")
def choose_separator(name: str, *, weights: Path | None, models_dir: Path,
                     policy: EnginePolicy) -> Separator:
    """Before consent, like the other engines: a named engine that cannot run fails here."""
    return registry.get("separation", name, models_dir=models_dir, policy=policy,
                        weights=weights)


@step_task("separate-original", stage="mix")
def separate_original(original: AudioTrack, separator: Separator) -> Stems | None:
    """The source split into its voice and its music and effects (None: not separated)."""
    return separator.separate(original.samples, original.sample_rate)


def _without_dialogue(original: AudioTrack, regions: Sequence[SpeechRegion],
                      stems: Stems | None) -> tuple[np.ndarray, float, float]:
    """(background, attenuation dB, room tone s): the music-and-effects stem as it is when
    separated, else the source with its dialogue regions removed in time."""
    if stems is not None:
        return stems.background, 0.0, 0.0
    removal = remove_dialogue(original.samples, original.sample_rate, regions)
    return removal.samples, removal.attenuation_db, removal.room_tone_s


@step_task("mix-soundtrack", stage="mix")
def mix_soundtrack(original: AudioTrack, lines: Sequence[FittedLine], *,
                   heard_words: Sequence[tuple[float, float]] = (),
                   stems: Stems | None = None) -> Soundtrack:
    """The original without its dialogue, the new lines over it, mastered for delivery.

    Balance: the new lines get the loudness the original dialogue had (so the
    programme keeps its speech-to-background balance), at least
    ``SPEECH_OVER_BACKGROUND_LU`` above the kept background and within broadcast
    bounds; the sum is then mastered to -23 LUFS with true peak <= -1 dBTP."""
    rate = original.sample_rate
    length = original.samples.shape[0]
    speech = np.zeros(length, dtype=np.float32)
    for line in lines:  # placed inside the track: only rounding can reach past its end
        end = min(length, line.start_sample + line.samples.shape[0])
        speech[line.start_sample:end] += line.samples[:end - line.start_sample]
    regions = detect_speech(stems.vocals if stems is not None else original.samples, rate)
    detection = "vad:silero-v6" + ("-on-vocals" if stems is not None else "")
    if heard_words:
        regions = merge_regions((*regions, *word_regions(heard_words)))
        detection += "+asr-words"
    background, attenuation_db, room_tone_s = _without_dialogue(original, regions, stems)
    background_lufs = measure_loudness(background, rate)
    target = _speech_level(original.samples, rate, regions, background_lufs=background_lufs)
    # centred: the same voice in every channel, measured as it will be heard (BS.1770 sums
    # channel powers, so a stereo centre is 3 LU louder than the mono line alone)
    centred = np.repeat(speech[:, np.newaxis], original.channels, axis=1)
    voice = loudness_normalize(centred, rate, target_lufs=target)
    mastered = master(background + voice, rate)
    gain = (10.0 ** ((mastered.loudness_lufs - measure_loudness(background + voice, rate)) / 20)
            if np.isfinite(mastered.loudness_lufs) else 1.0)
    report = MixReport(
        dialogue_detection=detection, separation=stems.model if stems is not None else None,
        dialogue_regions=len(regions),
        dialogue_removed_s=round(sum(r.duration_s for r in regions), 3),
        attenuation_db=attenuation_db, room_tone_s=room_tone_s,
        background_lufs=round(background_lufs, 2) if np.isfinite(background_lufs) else None,
        speech_lufs=round(measure_loudness(voice, rate), 2),
        loudness_lufs=round(mastered.loudness_lufs, 2),
        true_peak_dbtp=round(mastered.true_peak_dbtp, 2),
        channels=original.channels, sample_rate=rate)
    timings = tuple(p for line in lines for p in line.phonemes)
    return Soundtrack(mixed=AudioTrack(mastered.samples, rate),
                      speech=(voice[:, 0] * gain).astype(np.float32), timings=timings,
                      report=report, regions=regions)


def _speech_level(original: np.ndarray, rate: int, regions: Sequence[SpeechRegion], *,
                  background_lufs: float) -> float:
    """The loudness the original dialogue had, kept clear of the background."""
    spans = [original[int(r.start_s * rate):int(r.end_s * rate)] for r in regions]
    dialogue = measure_loudness(np.concatenate(spans), rate) if spans else float("-inf")
    level = dialogue if np.isfinite(dialogue) else SPEECH_LOUDNESS_MIN_LUFS
    if np.isfinite(background_lufs):
        level = max(level, background_lufs + SPEECH_OVER_BACKGROUND_LU)
    return float(np.clip(level, SPEECH_LOUDNESS_MIN_LUFS, SPEECH_LOUDNESS_MAX_LUFS))


def speech_frames(lines: Sequence[FittedLine], *, fps: float,
                  margin_s: float = SPEECH_MARGIN_S) -> Callable[[int], bool]:
    """Whether a frame is near speech: inside a cue's slot or where its new line is
    spoken, widened by ``margin_s``. Only those frames are tracked and lip-synced."""
    spans = sorted((math.floor((min(r.start_s, r.spoken_start_s) - margin_s) * fps),
                    math.ceil((max(r.end_s, r.spoken_end_s) + margin_s) * fps))
                   for r in (line.report for line in lines))
    starts = [start for start, _ in spans]
    ends = list(itertools.accumulate((end for _, end in spans), max))

    def near(index: int) -> bool:
        at = bisect.bisect_right(starts, index) - 1
        return at >= 0 and index <= ends[at]
    return near


@step_task("lipsync-and-publish", stage="render+publish")
def lipsync_and_publish(request: DubRequest, *, info: MediaInfo, soundtrack: Soundtrack,
                        engines: Engines, decision: Decision, lines: Lines,
                        faces: SourceFaces, picture: TimeMap | None = None,
                        speech: Callable[[int], bool] | None = None,
                        tracks: SourceTracks | None = None,
                        video_sha256: str) -> PublishReceipt:
    """Decode once, track and move the mouth frame by frame, encode once in `publish`.

    ``speech`` says which frames (of the output's timeline) to track and lip-sync, the
    others pass untouched; ``tracks`` holds faces already followed in this source (the
    footage bank's), on the source's timeline: used only when the picture is not slowed."""
    video = info.require_video()
    fps = video.avg_fps
    picture = picture if picture is not None else TimeMap(duration_s=info.duration_s)
    decoded = prefetch(slowed_frames((f.rgb for f in iter_frames(request.video, info=info,
                                                                 cfr_fps=fps)), picture, fps=fps),
                       name="likeness-decode")  # the decoder runs ahead in its own thread
    to_render, to_track = itertools.tee(decoded)  # in lockstep: one frame buffered
    track: Iterator[TrackedFace | None]
    if engines.lipsync.needs_track:  # only the performer's face track is handed on
        near = speech or (lambda _index: True)
        wanted = (frame if near(index) else None for index, frame in enumerate(to_track))
        if not picture.identity:
            tracks = None  # known faces sit on the source's frame numbers, not the output's
        track = _performer_track(engines.face, wanted, fps=fps, faces=faces,
                                 decision=decision, tracks=tracks, digest=video_sha256)
    else:
        track = (None for _ in to_track)  # one "no face" per frame: nothing to track
    frames: Iterator[np.ndarray] = engines.lipsync.render(
        to_render, track, soundtrack.speech, soundtrack.mixed.sample_rate, fps=fps,
        timings=soundtrack.timings)
    rendered = Rendered(
        frames=frames, fps=video.avg_rate, audio=soundtrack.mixed,
        title=request.out.name, source_type=SOURCE_TYPE, source=request.video,
        actions=dub_actions(lines, language=request.language, engines=engines,
                            untouched=untouched_note(decision), slowed=slowed_note(picture)),
        engines=(*engines.names, *soundtrack.engines, *lines.engines))
    return publish(rendered, decision, ctx=current_studio().publish, out=request.out)


def slowed_note(picture: TimeMap) -> str | None:
    """The manifest says when the picture's timing was changed, and by how much."""
    if picture.identity:
        return None
    most = max(s.factor for s in picture.stretches)
    return (f"the picture slowed in {len(picture.stretches)} span(s), at most {most:.2f}x, "
            "for the new lines to fit")


def _performer_track(engine: FaceEngine, frames: Iterator[np.ndarray | None], *, fps: float,
                     faces: SourceFaces, decision: Decision, tracks: SourceTracks | None,
                     digest: str) -> Iterator[TrackedFace | None]:
    """`performer_track`, reading the source's known faces only when the first frame is
    asked for: the footage engine builds its bank (and follows the face) just before."""
    known = tracks.of(digest) if tracks is not None else None
    found = tracks.found_in(digest) if tracks is not None else None
    yield from performer_track(engine, frames, fps=fps, faces=faces, decision=decision,
                               known=known, found=found)


def dub_actions(lines: Lines, *, language: str, engines: Engines,
                untouched: str | None = None, slowed: str | None = None
                ) -> tuple[C2paAction, ...]:
    """The manifest's account of the dub: ``c2pa.translated`` only when the lines are in
    another language than the speech they replace (a script's source is unknown, "und");
    ``untouched`` says which other faces were left as they were."""
    mouth = (f"the performer's mouth lip-synced by the {engines.lipsync.name} engine"
             if engines.lipsync.alters_mouth else "the mouth left untouched")
    if untouched:
        mouth += f", {untouched}"
    if slowed:
        mouth += f", {slowed}"
    edited = C2paAction(action="c2pa.edited", parameters={
        "description": f"speech replaced with synthetic {language} speech "
                       f"({engines.tts.name}), {mouth}"})
    if primary(lines.source_language) == primary(language):
        return (edited,)
    return (C2paAction(action="c2pa.translated", parameters={
        "sourceLanguage": lines.source_language, "targetLanguage": language}), edited)


# -- reports beside the output (small text files, written atomically) ------------------------


@io_task("write-review", stage="review")
def write_review(lines: Lines, *, path: Path) -> Path:
    """The lines to speak as subtitles a person can correct and pass back as ``--script``."""
    return _write_subtitles_atomically(lines.cues, path)


@io_task("write-cue-report", stage="report")
def write_cue_report(reports: Sequence[CueReport], mix: MixReport, *, out: Path) -> Path:
    """Every cue's length, slot, tempo and action, and the mix's figures, as JSON."""
    sidecar = out.with_suffix(SIDECAR_SUFFIX)
    document = {"output": out.name, "cues": [r.model_dump(mode="json") for r in reports],
                "mix": mix.model_dump(mode="json")}
    _write_atomically(sidecar, lambda tmp: tmp.write_text(
        json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"))
    return sidecar


@io_task("write-subtitles", stage="report")
def write_spoken_subtitles(reports: Sequence[CueReport], *, path: Path) -> Path:
    """The new lines as subtitles, timed to where the speech was placed."""
    cues = [Cue(index=r.index, start_s=r.spoken_start_s, end_s=r.spoken_end_s, text=r.text)
            for r in reports]
    return _write_subtitles_atomically(cues, path)


def _write_subtitles_atomically(cues: Sequence[Cue], path: Path) -> Path:
    _write_atomically(path, lambda tmp: write_subtitles(cues, tmp))
    return path.absolute()


def _write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temp file in the same folder (same suffix), then rename."""
    target = path.absolute()
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.",
                                    suffix=target.suffix)
    os.close(handle)
    try:
        write(Path(name))
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


# -- the flow -------------------------------------------------------------------------------


@flow(name="dub", persist_result=False, validate_parameters=True, log_prints=False)
def dub_flow(request: DubRequest) -> DubResult | DubReview:
    """Sequence the dub's tasks (see the module docstring); the studio comes from context."""
    settings = current_studio().settings
    policy = settings.engine_policy
    with flow_clock() as clock:
        info = probe_input(request.video)
        digest = hash_video(request.video)  # once: every step below keys on the same hash
        duration_s = info.require_video().duration_s or info.duration_s
        if request.script is not None:
            lines = load_script(request.script, video_duration_s=duration_s)
        else:
            recognizer = choose_recognizer(models_dir=settings.models_dir,
                                           cache_dir=settings.cache_dir, policy=policy)
            lines = recognize_and_translate(
                request.video, video_sha256=digest,
                asr_model=recognizer.model_id, recognizer=recognizer, language=request.language,
                video_duration_s=duration_s, models_dir=settings.models_dir, policy=policy)
        if request.review:  # before consent: proofreading costs no render budget
            script = write_review(lines, path=request.review_script)
            return DubReview(script=script, cues=len(lines.cues), language=request.language,
                             source_language=lines.source_language, translated=lines.translated,
                             engines=lines.engines, stages_s=clock.report())
        tracks = SourceTracks()  # faces followed in the source, shared within this run
        engines = choose_engines(language=request.language, lipsync=request.lipsync,
                                 face_engine=settings.face_engine,
                                 models_dir=settings.models_dir, policy=policy,
                                 footage=request.video, performer=request.performer,
                                 cache_dir=settings.cache_dir, tracks=tracks)
        separator = choose_separator(request.separation, weights=request.separation_weights,
                                     models_dir=settings.models_dir, policy=policy)
        original = load_original_audio(request.video)
        speaking = speak_early(lines, request=request, engine=engines.tts, original=original)
        faces = bind_identity(request.video, engine=engines.face, tracks=tracks,
                              lipsync=engines.lipsync, video_sha256=digest)
        decision = authorize_dub(request, uses=dub_uses(engines.lipsync), faces=faces)
        with failures_logged(decision, flow="dub", out=request.out):
            fitted = (speaking.result() if speaking is not None else synthesize_lines(
                lines, engine=engines.tts, language=request.language, voice=request.voice,
                sample_rate=original.sample_rate, duration_s=original.duration_s,
                fit=request.fit))
            source = slow_original(original, fitted.picture)
            soundtrack = mix_soundtrack(
                source, fitted.lines, heard_words=fitted.picture.map_spans(lines.heard_words),
                stems=separate_original(source, separator))
        receipt = lipsync_and_publish(request, info=info, soundtrack=soundtrack,
                                      engines=engines, decision=decision, lines=lines,
                                      faces=faces, picture=fitted.picture, tracks=tracks,
                                      video_sha256=digest,
                                      speech=speech_frames(fitted.lines, fps=info.require_video()
                                                           .avg_fps))
        reports = tuple(line.report for line in fitted.lines)
        sidecar = write_cue_report(reports, soundtrack.report, out=receipt.out)
        subtitles = (write_spoken_subtitles(reports, path=request.subtitles)
                     if request.subtitles is not None else None)
        return DubResult(
            out=receipt.out, render_id=receipt.render_id, decision_id=receipt.decision_id,
            grant_ids=receipt.grant_ids, performer_id=request.performer,
            language=request.language, source_language=lines.source_language,
            translated=lines.translated, cues=reports,
            cues_not_fitting=tuple(r.index for r in reports if not r.fits),
            mix=soundtrack.report, sidecar=sidecar, subtitles=subtitles,
            engines=(*engines.names, *soundtrack.engines, *lines.engines),
            engine_choices=tuple(choice.describe() for choice in engines.choices),
            frames=receipt.frames, frames_lipsynced=frames_changed(engines.lipsync),
            stages_s=clock.report(), publish_stages_s=publish_stages(receipt))


def run_dub(studio: RenderContext, request: DubRequest) -> DubResult | DubReview:
    """Run a dub, already validated by `DubRequest.build`, as a Prefect flow run (offline,
    heartbeat off): the caller checks its options before paying for a Prefect server.

    With ``request.review`` it returns a `DubReview` (the lines written, nothing rendered).
    Raises `BadInput` (exit 2), `ConsentDenied` (3) or another `LikenessError`;
    on any failure nothing is written at ``request.out``.
    """
    session: AbstractContextManager[Any] = offline_prefect(home=studio.settings.home)
    labels = run_labels(f"dub-{request.out.stem}", performer=request.performer,
                        uses=("dubbing",), language=request.language,
                        production=request.production)
    with session, bound_studio(studio):
        return labels.run(dub_flow, request)
