"""The model store: one catalogue of every weight file any engine may load.

Each engine module declares its files in a ``WEIGHTS`` tuple of `WeightFile`, and the
engine registry names every engine module (`models.registry.SPECS`); this module
gathers the declarations from there (a module that cannot be imported here is left
out, so a missing optional engine never breaks the listing), finds the files on disk,
and verifies their SHA-256. It backs ``likeness models list|check`` (a hash mismatch
exits 4). The commercial-use guard is `models.registry.EnginePolicy`. Nothing here
downloads.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from likeness.errors import IntegrityFailure
from models.registry import SPECS
from models.weights import WeightFile, resolve_weight, sha256_file

State = Literal["installed", "missing", "ok", "mismatch", "unpinned"]

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
    """Every `WeightFile` declared by a registered, importable engine module."""
    declared: list[WeightFile] = []
    for spec in SPECS:
        try:
            declared.extend(spec.weights())
        except ImportError:
            continue
    unique: dict[tuple[str, str, str], WeightFile] = {}
    for weight in declared:
        unique.setdefault((weight.engine, weight.name, weight.source), weight)
    return list(unique.values())


def _status(weight: WeightFile, *, models_dir: Path, verify: bool) -> ModelStatus:
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


def list_models(*, models_dir: Path) -> list[ModelStatus]:
    """Every declared weight file and whether it is present (no hashing: fast)."""
    return [_status(w, models_dir=models_dir, verify=False) for w in declared_weights()]


def check_models(*, models_dir: Path) -> list[ModelStatus]:
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


def verify_models(*, models_dir: Path) -> list[ModelStatus]:
    """`check_models`, raising on any mismatch (what `likeness models check` runs)."""
    statuses = check_models(models_dir=models_dir)
    raise_for_mismatch(statuses)
    return statuses
