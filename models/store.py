"""The model store: one catalogue of every weight file any engine may load.

Each engine module declares its files in a ``WEIGHTS`` tuple of `WeightFile`;
this module gathers them (importing engine modules lazily, so a missing optional
engine never breaks the listing), finds them on disk, and verifies their SHA-256.
It backs ``likeness models list|check`` (a hash mismatch exits 4) and the
commercial-use guard for studios that sell their renders. Nothing here downloads.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from likeness.errors import BadInput, IntegrityFailure
from models.weights import WeightFile, resolve_weight, sha256_file

State = Literal["installed", "missing", "ok", "mismatch", "unpinned"]

# Engine modules that declare WEIGHTS; the optional ones may not exist yet or at all.
WEIGHT_MODULES: tuple[str, ...] = (
    "models.tts.piper_engine",
    "models.tts.kokoro_engine",
    "models.tts.coqui_engine",
    "models.asr.whisper_engine",
    "models.face.dlib_engine",
    "models.face.insightface_engine",
    "models.lipsync.wav2lip_engine",
    "models.lipsync.wav2lip",
)

# Declared here for engines whose own module may not declare them: files users place
# themselves, so no SHA-256 can be pinned (the published checkpoints are not installable).
FALLBACK_WEIGHTS: tuple[WeightFile, ...] = (
    WeightFile(engine="wav2lip", name="wav2lip.pth", source="user:wav2lip/wav2lip.pth",
               sha256="", size_bytes=0,
               license="research / non-commercial (Rudrabha/Wav2Lip terms)",
               commercial_use=False,
               notes="official checkpoint, user-supplied; not installable, so no pinned SHA-256"),
    WeightFile(engine="wav2lip", name="wav2lip_gan.pth", source="user:wav2lip/wav2lip_gan.pth",
               sha256="", size_bytes=0,
               license="research / non-commercial (Rudrabha/Wav2Lip terms)",
               commercial_use=False,
               notes="official GAN checkpoint, user-supplied; no pinned SHA-256"),
    WeightFile(engine="insightface", name="det_10g.onnx",
               source="user:insightface/buffalo_l/det_10g.onnx", sha256="", size_bytes=0,
               license="non-commercial research (InsightFace pretrained models)",
               commercial_use=False, notes="buffalo_l detector, user-supplied"),
    WeightFile(engine="insightface", name="w600k_r50.onnx",
               source="user:insightface/buffalo_l/w600k_r50.onnx", sha256="", size_bytes=0,
               license="non-commercial research (InsightFace pretrained models)",
               commercial_use=False, notes="buffalo_l recognition, user-supplied"),
)

_HASH_CACHE: dict[tuple[str, int, int], str] = {}


class ModelStatus(BaseModel):
    """One weight file as the CLI reports it (`--json` dumps this model)."""

    model_config = ConfigDict(frozen=True)

    engine: str
    name: str
    source: str
    path: str | None
    installed: bool
    state: State
    sha256_expected: str
    sha256_actual: str | None = None
    size_bytes: int
    license: str
    commercial_use: bool
    notes: str = ""


def declared_weights() -> list[WeightFile]:
    """Every `WeightFile` declared by an importable engine module, plus fallbacks."""
    declared: list[WeightFile] = []
    for module_name in WEIGHT_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        declared.extend(w for w in getattr(module, "WEIGHTS", ()) if isinstance(w, WeightFile))
    engines_declared = {weight.engine for weight in declared}
    declared.extend(w for w in FALLBACK_WEIGHTS if w.engine not in engines_declared)
    unique: dict[tuple[str, str, str], WeightFile] = {}
    for weight in declared:
        unique.setdefault((weight.engine, weight.name, weight.source), weight)
    return list(unique.values())


def _status(weight: WeightFile, *, models_dir: Path | None, verify: bool) -> ModelStatus:
    path = resolve_weight(weight, models_dir=models_dir)
    actual: str | None = None
    state: State = "installed" if path is not None else "missing"
    if path is not None and verify:
        actual = _cached_sha256(path)
        pinned_state: State = "ok" if actual == weight.sha256 else "mismatch"
        state = pinned_state if weight.sha256 else "unpinned"
    return ModelStatus(
        engine=weight.engine, name=weight.name, source=weight.source,
        path=str(path) if path is not None else None, installed=path is not None, state=state,
        sha256_expected=weight.sha256, sha256_actual=actual,
        size_bytes=path.stat().st_size if path is not None else weight.size_bytes,
        license=weight.license, commercial_use=weight.commercial_use, notes=weight.notes,
    )


def _cached_sha256(path: Path) -> str:
    """Hash once per process per (path, size, mtime): `check` and publish both ask."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _HASH_CACHE:
        _HASH_CACHE[key] = sha256_file(path)
    return _HASH_CACHE[key]


def list_models(*, models_dir: Path | None = None) -> list[ModelStatus]:
    """Every declared weight file and whether it is present (no hashing: fast)."""
    return [_status(w, models_dir=models_dir, verify=False) for w in declared_weights()]


def check_models(*, models_dir: Path | None = None) -> list[ModelStatus]:
    """Like `list_models`, with each installed file hashed and compared to its pin."""
    return [_status(w, models_dir=models_dir, verify=True) for w in declared_weights()]


def raise_for_mismatch(statuses: Iterable[ModelStatus]) -> None:
    """`IntegrityFailure` (exit 4) naming every file whose hash differs from its pin."""
    bad = [status for status in statuses if status.state == "mismatch"]
    if bad:
        details = "; ".join(f"{s.engine}/{s.name} at {s.path}: {s.sha256_actual} != "
                            f"{s.sha256_expected}" for s in bad)
        raise IntegrityFailure(f"{len(bad)} model file(s) fail verification: {details}",
                               hint="reinstall the named packages or replace the files")


def verify_models(*, models_dir: Path | None = None) -> list[ModelStatus]:
    """`check_models`, raising on any mismatch (what `likeness models check` runs)."""
    statuses = check_models(models_dir=models_dir)
    raise_for_mismatch(statuses)
    return statuses


def assert_commercial_ok(models: Iterable[ModelStatus | WeightFile], *, commercial: bool,
                         acknowledged: set[str]) -> None:
    """Refuse non-commercial weights in a commercial studio unless acknowledged.

    `acknowledged` holds engine names (``wav2lip``) or ``engine/file`` entries
    (``wav2lip/wav2lip_gan.pth``) the studio has explicitly accepted the terms of.
    """
    if not commercial:
        return
    offending = sorted({
        f"{model.engine}/{model.name} ({model.license})"
        for model in models
        if not model.commercial_use
        and model.engine not in acknowledged
        and f"{model.engine}/{model.name}" not in acknowledged
    })
    if offending:
        raise BadInput(
            "these models are not licensed for commercial use: " + ", ".join(offending),
            hint="use a commercial-use engine (e.g. --lipsync viseme) or acknowledge the terms "
                 "for the named engines in the studio settings",
        )
