"""Locate and run the ffmpeg command-line tools.

Most media work runs in-process through PyAV (which bundles its own FFmpeg
libraries). The command-line tools are still needed for filters that are not
worth re-implementing (``atempo``/``rubberband`` time-stretching, the
benchmark's reference transcode) and for reading the display matrix, which
PyAV does not expose on input streams.

We prefer the Debian ``/usr/bin/ffmpeg`` (it has ffprobe, libx264, rubberband
and drawtext) and fall back to the static binary shipped by ``imageio-ffmpeg``
(ffmpeg only, no ffprobe). ``LIKENESS_FFMPEG`` overrides both.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from likeness.errors import BadInput, InternalError, LikenessError

FFMPEG_ENV_VAR = "LIKENESS_FFMPEG"
DEBIAN_FFMPEG = Path("/usr/bin/ffmpeg")
DEBIAN_FFPROBE = Path("/usr/bin/ffprobe")
STDERR_TAIL_CHARS = 800
INSTALL_HINT = "install Debian's ffmpeg (apt-get install ffmpeg) or the imageio-ffmpeg wheel"


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@functools.cache
def ffmpeg_path() -> Path:
    """Return the ffmpeg binary to use; raise if none can be found.

    An explicit ``LIKENESS_FFMPEG`` that points nowhere is the user's mistake
    (BadInput); no ffmpeg at all is a broken installation (InternalError).
    """
    override = os.environ.get(FFMPEG_ENV_VAR)
    if override:
        candidate = Path(override).expanduser()
        if not _is_executable(candidate):
            raise BadInput(
                f"{FFMPEG_ENV_VAR}={override} is not an executable file",
                hint=f"point {FFMPEG_ENV_VAR} at an ffmpeg binary or unset it",
            )
        return candidate
    if _is_executable(DEBIAN_FFMPEG):
        return DEBIAN_FFMPEG
    found = shutil.which("ffmpeg")
    if found:
        return Path(found)
    try:
        import imageio_ffmpeg
    except ImportError:
        imageio_ffmpeg = None
    if imageio_ffmpeg is not None:
        try:
            return Path(imageio_ffmpeg.get_ffmpeg_exe())
        except RuntimeError:
            pass
    raise InternalError("no ffmpeg binary found", hint=INSTALL_HINT)


@functools.cache
def ffprobe_path() -> Path | None:
    """Return an ffprobe next to the chosen ffmpeg (or on PATH), or None.

    imageio-ffmpeg ships no ffprobe, so callers must cope with None.
    """
    sibling = ffmpeg_path().with_name("ffprobe")
    if _is_executable(sibling):
        return sibling
    if _is_executable(DEBIAN_FFPROBE):
        return DEBIAN_FFPROBE
    found = shutil.which("ffprobe")
    return Path(found) if found else None


def run_ffmpeg(
    args: Sequence[str],
    *,
    what: str,
    stdin_bytes: bytes | None = None,
    error_type: type[LikenessError] = InternalError,
    timeout_s: float | None = None,
) -> bytes:
    """Run ffmpeg quietly with ``args`` and return its stdout.

    ``what`` names the operation for the error message; ``error_type`` lets a
    caller classify a failure as the user's input (BadInput) rather than ours.
    """
    command = [str(ffmpeg_path()), "-hide_banner", "-nostdin", "-loglevel", "error", *args]
    return _run(command, what=what, stdin_bytes=stdin_bytes, error_type=error_type,
                timeout_s=timeout_s)


def run_ffprobe(
    args: Sequence[str], *, what: str, error_type: type[LikenessError] = BadInput
) -> bytes:
    """Run ffprobe quietly with ``args`` and return its stdout (raise if absent)."""
    probe = ffprobe_path()
    if probe is None:
        raise InternalError("no ffprobe binary found", hint=INSTALL_HINT)
    command = [str(probe), "-hide_banner", "-loglevel", "error", *args]
    return _run(command, what=what, stdin_bytes=None, error_type=error_type, timeout_s=None)


def _run(
    command: list[str],
    *,
    what: str,
    stdin_bytes: bytes | None,
    error_type: type[LikenessError],
    timeout_s: float | None,
) -> bytes:
    try:
        completed = subprocess.run(
            command,
            input=stdin_bytes,
            stdin=None if stdin_bytes is not None else subprocess.DEVNULL,
            capture_output=True,
            check=False,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired as exc:
        raise InternalError(f"{what}: {Path(command[0]).name} timed out after {timeout_s} s") \
            from exc
    except OSError as exc:
        raise InternalError(f"{what}: cannot run {command[0]}: {exc}", hint=INSTALL_HINT) \
            from exc
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", "replace").strip()
        raise error_type(f"{what}: {stderr[-STDERR_TAIL_CHARS:] or 'ffmpeg failed'}")
    return completed.stdout


@functools.cache
def _listing(kind: str) -> str:
    return run_ffmpeg([f"-{kind}"], what=f"listing ffmpeg {kind}").decode("utf-8", "replace")


def has_filter(name: str) -> bool:
    """True when the chosen ffmpeg has the audio/video filter ``name``."""
    return any(
        len(parts) >= 2 and parts[1] == name
        for parts in (line.split() for line in _listing("filters").splitlines())
    )


def has_encoder(name: str) -> bool:
    """True when the chosen ffmpeg has the encoder ``name`` (e.g. libx264)."""
    return any(
        len(parts) >= 2 and parts[1] == name
        for parts in (line.split() for line in _listing("encoders").splitlines())
    )
