"""Checks of a recorded consent statement (`likeness consent evidence`).

A person reviewing a consent video asks: is it the performer, throughout? Did they
say what they are consenting to, and today's passcode? Is it really them speaking,
not a photo with a soundtrack? Each question is one check here, with its figure:

1. face: every face track is the performer's (consent.identity, `every_face`) and a
   face is seen on nearly every sampled frame;
2. words: the transcript (faster-whisper, the grant's language) holds the challenge
   words in order and most key terms of the grant's description;
3. lips: mouth opening follows the speech (Pearson correlation of the per-frame
   inner-lip gap with the audio loudness envelope, best over a few frames of lag);
   a still photo, or speech replayed over another recording, does not.

Whether the challenge is unexpired and unused is the studio's part (it holds it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from consent.challenge import closest
from consent.identity import match_identity
from flows.faces import find_faces
from media.audio import load_audio
from media.decode import iter_frames
from media.probe import probe
from models.face import FaceEngine
from models.face.landmarks import INNER_LIP_BOTTOM_INDEX, INNER_LIP_TOP_INDEX
from models.face.tracking import FaceTracker
from models.registry import EnginePolicy

MIN_FACE_COVERAGE = 0.9  # share of sampled frames that must show the performer's face
MIN_KEY_TERM_SHARE = 0.6  # share of the description's key terms heard (or nearly)
# Between every replay measured (real <= 0.24, synthetic <= 0.37) and every genuine
# statement (real >= 0.44 on PsychoPy's two clips of its author talking, synthetic
# >= 0.74): docs/consent-evidence.md. Both series are smoothed over ~0.1 s first:
# landmark jitter on a 130 px face is frame-to-frame noise, syllables are 2-8 Hz.
MIN_LIP_SYNC_CORRELATION = 0.40
SMOOTHING_S = 0.1
MAX_LAG_FRAMES = 3
KEY_TERM_MIN_LETTERS = 5
ENVELOPE_SAMPLE_RATE_HZ = 16000


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    figure: float
    detail: str


@dataclass(frozen=True)
class StatementReport:
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def failures(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.passed]


def key_terms(description: str) -> list[str]:
    """The description's content words (long enough to be recognized reliably)."""
    seen: list[str] = []
    for word in re.findall(r"[a-z]+", description.lower()):
        if len(word) >= KEY_TERM_MIN_LETTERS and word not in seen:
            seen.append(word)
    return seen


def face_check(engine: FaceEngine, video: Path, *, references: Sequence[np.ndarray],
               threshold: float, engine_name: str) -> Check:
    faces = find_faces(engine, video, what=f"the statement {video.name}")
    match = match_identity(faces.evidence(), references, threshold=threshold,
                           engine=engine_name, scope="every_face")
    seen = sum(len(t.samples) for t in faces.tracks)
    coverage = min(1.0, seen / max(1, faces.sampled_frames))
    ok = match.matched and coverage >= MIN_FACE_COVERAGE
    detail = (f"{len(faces.tracks)} face track(s), distance "
              f"{match.best_distance if match.best_distance is not None else float('nan'):.3f} "
              f"(threshold {threshold:.3f}), face on {coverage:.0%} of sampled frames")
    if not match.matched:
        detail += f"; {match.reason}"
    return Check("face", ok, round(match.best_distance or 0.0, 4), detail)


def words_check(heard: list[str], *, description: str,
                phrase_heard: Callable[[list[str]], bool]) -> Check:
    terms = key_terms(description)
    vocabulary = tuple(sorted(set(heard)))
    found = [t for t in terms if vocabulary and closest(t, vocabulary) is not None]
    share = len(found) / max(1, len(terms))
    phrase = phrase_heard(heard)
    missing = [t for t in terms if t not in found]
    detail = (f"challenge phrase {'heard in order' if phrase else 'not heard'}; "
              f"{len(found)}/{len(terms)} key terms of the description heard"
              + (f" (missing: {', '.join(missing[:6])})" if missing else ""))
    return Check("words", phrase and share >= MIN_KEY_TERM_SHARE, round(share, 3), detail)


def _mouth_series(engine: FaceEngine, video: Path) -> tuple[np.ndarray, float]:
    info = probe(video)
    fps = info.require_video().avg_fps
    frames = (f.rgb for f in iter_frames(video, info=info, cfr_fps=fps))
    gaps = []
    for tracked in FaceTracker(engine, fps=fps, detect_every=5).track(frames):
        if tracked is None:
            gaps.append(np.nan)
            continue
        marks = tracked.face.landmarks
        height = max(1, tracked.face.box.height)
        gaps.append(max(0.0, float(marks[INNER_LIP_BOTTOM_INDEX, 1]
                                   - marks[INNER_LIP_TOP_INDEX, 1])) / height)
    return np.asarray(gaps, dtype=np.float64), fps


def _loudness_envelope(video: Path, *, frames: int, fps: float) -> np.ndarray:
    samples, rate = load_audio(video, sample_rate=ENVELOPE_SAMPLE_RATE_HZ, mono=True)
    mono = samples[:, 0] if samples.ndim == 2 else samples
    hop = rate / fps
    env = np.zeros(frames)
    for i in range(frames):
        chunk = mono[int(i * hop):int((i + 1) * hop)]
        env[i] = float(np.sqrt(np.mean(chunk ** 2))) if chunk.size else 0.0
    return env


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    keep = ~(np.isnan(a) | np.isnan(b))
    if keep.sum() < 10 or np.std(a[keep]) < 1e-6 or np.std(b[keep]) < 1e-9:
        return 0.0  # a still mouth (or silence) cannot follow anything
    return float(np.corrcoef(a[keep], b[keep])[0, 1])


def _smoothed(series: np.ndarray, width: int) -> np.ndarray:
    """A centred moving average that leaves missing frames missing."""
    if width <= 1:
        return series
    missing = np.isnan(series)
    filled = np.where(missing, np.nanmean(series) if (~missing).any() else 0.0, series)
    out = np.convolve(filled, np.ones(width) / width, mode="same")
    out[missing] = np.nan
    return out


def lips_check(engine: FaceEngine, video: Path) -> Check:
    mouth, fps = _mouth_series(engine, video)
    if probe(video).audio is None:
        return Check("lips", False, 0.0, "the statement has no sound")
    env = _loudness_envelope(video, frames=mouth.shape[0], fps=fps)
    width = max(1, round(SMOOTHING_S * fps))
    mouth, env = _smoothed(mouth, width), _smoothed(env, width)
    best = 0.0
    for lag in range(-MAX_LAG_FRAMES, MAX_LAG_FRAMES + 1):
        if lag >= 0:
            r = _correlation(mouth[lag:], env[:env.shape[0] - lag])
        else:
            r = _correlation(mouth[:lag], env[-lag:])
        best = max(best, r)
    ok = best >= MIN_LIP_SYNC_CORRELATION
    return Check("lips", ok, round(best, 3),
                 f"mouth-speech correlation {best:.2f} (needs {MIN_LIP_SYNC_CORRELATION:.2f})")


def check_statement(engine: FaceEngine, video: Path, *, references: Sequence[np.ndarray],
                    threshold: float, engine_name: str, heard: list[str], description: str,
                    phrase_heard: Callable[[list[str]], bool]) -> StatementReport:
    """Run the face, words and lips checks (the transcript is made by the caller)."""
    return StatementReport((
        face_check(engine, video, references=references, threshold=threshold,
                   engine_name=engine_name),
        words_check(heard, description=description, phrase_heard=phrase_heard),
        lips_check(engine, video),
    ))


def transcript_words(video: Path, *, language: str | None, models_dir: Path, cache_dir: Path,
                     policy: EnginePolicy) -> list[str]:
    from models import registry

    if probe(video).audio is None:
        return []  # nothing was said: the words and lips checks fail with their reasons
    recognizer = registry.get("asr", models_dir=models_dir, policy=policy, cache_dir=cache_dir)
    transcript = recognizer.transcribe(
        video, language=language.split("-")[0] if language else None, deterministic=True)
    text = " ".join(cue.text for cue in transcript.cues)
    return re.findall(r"[a-z]+", text.lower())
