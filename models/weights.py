"""The declaration every engine makes about each weight file it loads.

Engines list their files as `WeightFile` records; the model store reads them to
answer `likeness models list|check`, and the C2PA manifest names them. The
helpers here turn a declaration into a path on disk and a digest, so every
engine resolves and verifies files the same way and nothing is ever fetched
from a network hub at run time. The models dir is the studio's (its settings resolve
it once); nothing here reads the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from likeness.errors import IntegrityFailure, MissingWeights
from media.digest import sha256_file

PACKAGE_PREFIX = "package:"
USER_PREFIX = "user:"


@dataclass(frozen=True)
class WeightFile:
    """One weight file: where it comes from, what it hashes to, what it may be used for."""

    engine: str
    name: str
    source: str  # "package:NAME" (installed from PyPI) or "user:RELATIVE/PATH" (in the models dir)
    sha256: str  # "" when not pinnable (user-supplied files we cannot see in advance)
    size_bytes: int
    license: str
    commercial_use: bool
    notes: str = ""


def resolve_weight(weight: WeightFile, *, models_dir: Path | None = None) -> Path | None:
    """Where `weight` is on disk, or None when it is not installed/placed.

    ``package:DIST`` looks the file up by name among the installed distribution's
    files (so the record never hard-codes site-packages); ``user:REL`` is relative to
    the models dir (without one, a user file is never found).
    """
    if weight.source.startswith(PACKAGE_PREFIX):
        return _find_in_distribution(weight.source[len(PACKAGE_PREFIX):], weight.name)
    if weight.source.startswith(USER_PREFIX) and models_dir is not None:
        path = models_dir / weight.source[len(USER_PREFIX):]
        return path if path.is_file() else None
    return None


def _find_in_distribution(dist_name: str, file_name: str) -> Path | None:
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        return None
    for entry in dist.files or ():
        if entry.name == file_name:
            path = Path(str(dist.locate_file(entry)))
            if path.is_file():
                return path
    return None


def where_to_get(weight: WeightFile, *, models_dir: Path | None = None) -> str:
    """A user-facing sentence naming what to install or where to place the file."""
    if weight.source.startswith(PACKAGE_PREFIX):
        dist = weight.source[len(PACKAGE_PREFIX):]
        return f"install it with `pip install {dist}`"
    rel = weight.source[len(USER_PREFIX):]
    if models_dir is None:
        return f"place the file at {rel} in the studio's models dir"
    return f"place the file at {models_dir / rel}"


def require_weight(
    weight: WeightFile, *, models_dir: Path | None = None, verify: bool = False
) -> Path:
    """The path of `weight`, raising `MissingWeights` that names the file and where it goes.

    With ``verify`` the SHA-256 is checked (when pinned) and a mismatch raises
    `IntegrityFailure`: a swapped weight file must never run silently.
    """
    path = resolve_weight(weight, models_dir=models_dir)
    if path is None:
        raise MissingWeights(
            f"{weight.engine}: weight file {weight.name!r} is not installed",
            hint=where_to_get(weight, models_dir=models_dir),
        )
    if verify and weight.sha256:
        actual = sha256_file(path)
        if actual != weight.sha256:
            raise IntegrityFailure(
                f"{weight.engine}: {path} has SHA-256 {actual}, expected {weight.sha256}",
                hint="reinstall the package or replace the file with the published one",
            )
    return path
