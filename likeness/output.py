"""How commands print: one JSON document with ``--json``, Rich tables otherwise.

Data goes to stdout; progress, warnings and errors go to stderr so that
``--json`` output can always be piped into another program.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from rich.console import Console


class _StdoutConsole(Console):
    """Rich answers a closed pipe with ``SystemExit(1)``; we drop the rest of the output
    and let the command finish with its own exit code."""

    def on_broken_pipe(self) -> None:
        discard_stdout()
        self.quiet = True


stdout = _StdoutConsole(highlight=False)
stderr = Console(stderr=True, highlight=False)


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def to_json(data: Any) -> str:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    return json.dumps(data, default=_default, indent=2, ensure_ascii=False)


def emit(data: Any, *, as_json: bool, render: Callable[[], None]) -> None:
    """Print the command's result. A reader that stops early (``likeness verify F | head
    -1``) closes the pipe: that is not an error, and the command still exits with its own
    code (a verify status), so the rest of the output goes nowhere instead."""
    try:
        if as_json:
            print(to_json(data))
        else:
            render()
        sys.stdout.flush()
    except BrokenPipeError:
        discard_stdout()


def discard_stdout() -> None:
    """Point stdout at /dev/null, so that nothing more (not even the flush at exit) fails."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (tests capture stdout)
        pass
