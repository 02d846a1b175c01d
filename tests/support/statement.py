"""Consent statement videos made in the test: a fictional portrait (assets/faces)
lip-synced by our own viseme engine to Piper speech, recorded by the demo's own
stand-in for the performer's camera (likeness/demo_statement.py)."""

from __future__ import annotations

from pathlib import Path

from likeness.demo_statement import record_statement
from tests.support.cli import FACES
from tests.support.engines import NO_MODELS_DIR, STUDIO_DEFAULT


def statement_video(out: Path, *, text: str, face: str = "female01.png",
                    audio_text: str | None = None, still: bool = False,
                    silent: bool = False) -> Path:
    return record_statement(out, text=text, face=FACES / face, models_dir=NO_MODELS_DIR,
                            policy=STUDIO_DEFAULT, audio_text=audio_text, still=still,
                            silent=silent)
