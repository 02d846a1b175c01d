"""How commands print: one JSON document with ``--json``, Rich tables otherwise.

Data goes to stdout; progress, warnings and errors go to stderr so that
``--json`` output can always be piped into another program.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from rich.console import Console

stdout = Console(highlight=False)
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
    if as_json:
        print(to_json(data))
    else:
        render()
