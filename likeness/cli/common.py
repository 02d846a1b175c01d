"""What every command group shares: the ``--json`` option, option parsing, opening the
studio, small atomic documents, progress, and printing user data safely.

Nothing heavy is imported here at module level: each command module imports this one,
and ``likeness --help`` must not pay for media, models or Prefect.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from likeness.errors import BadInput
from likeness.output import stderr

if TYPE_CHECKING:
    from likeness.settings import Settings
    from likeness.studio import Studio

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
TerritoryOpt = Annotated[str | None, typer.Option(
    "--territory", help="Where it is shown (ISO 3166-1, e.g. ES).")]


def load_studio_settings() -> Settings:
    from likeness.settings import load_settings

    return load_settings()


def open_studio() -> Studio:
    """The studio named by the environment; a missing one is `BadInput` with a hint."""
    from likeness.studio import Studio

    return Studio(load_studio_settings())


# what a terminal would act on instead of showing: C0/C1 controls (ESC opens ANSI and OSC
# sequences), DEL, and the bidi controls that reorder the rest of a line
_TERMINAL_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                                "\u2066-\u2069]")


def visible(value: object) -> str:
    """``value`` with every terminal control shown as an escape (``\\x1b``), so a file
    name or an old ledger entry cannot recolour, retitle or reorder the output."""
    return _TERMINAL_CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode(),
                                  str(value))


def literal(value: object) -> str:
    """User data (names, paths, reasons) inside a Rich markup string prints as typed:
    a performer called ``[bold]`` must not restyle the output, nor an ESC in a path
    reach the terminal."""
    return escape(visible(value))


def parse_when(value: str, *, field: str) -> datetime:
    """ISO date or datetime; a bare date means midnight UTC, naive times are UTC."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0, 0), tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{field}: {value!r} is not an ISO date (YYYY-MM-DD)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def sha256_file(path: Path) -> str:
    from media.digest import sha256_file as digest

    return digest(path)


def write_document(path: Path, text: str) -> None:
    """Write a small document atomically (temp file in the same folder, fsync, rename)."""
    path = path.absolute()
    if not path.parent.is_dir():
        raise BadInput(f"folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def frame_progress(label: str, *, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A Rich progress bar on stderr, advanced once per frame; silent with --json."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    if quiet or not stderr.is_terminal:
        yield lambda total: None
        return
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), console=stderr,
                  transient=True) as progress:
        task = progress.add_task(label, total=None)

        def advance(total: int) -> None:
            if total and progress.tasks[0].total is None:
                progress.update(task, total=total)
            progress.advance(task)

        yield advance
