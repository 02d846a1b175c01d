"""Face backends by name: choosing one is a dictionary lookup, loading one is checked.

Each entry names a module and the factory/probe functions in it, so importing the
registry never imports dlib or onnxruntime; the module is imported only when that
backend is asked for. Whatever a factory returns must honour `FaceEngine`, or
loading fails loudly instead of breaking later inside a flow.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from likeness.errors import BadInput, InternalError
from models.face.base import FaceEngine


@dataclass(frozen=True)
class BackendEntry:
    """Where a backend lives: ``module:factory`` builds it, ``module:probe`` says if it can."""

    name: str
    module: str
    factory: str = "create"
    probe: str = "is_available"
    weights: str = "WEIGHTS"

    def load_module(self):  # type: ignore[no-untyped-def]
        return importlib.import_module(self.module)


# Order matters: "auto" takes the first available one. dlib first because it is the
# offline default whose weights ship with the install; insightface needs user files.
_BACKENDS: dict[str, BackendEntry] = {
    "dlib": BackendEntry(name="dlib", module="models.face.dlib_engine"),
    "insightface": BackendEntry(name="insightface", module="models.face.insightface_engine"),
}


def register_backend(entry: BackendEntry) -> None:
    """Add (or replace) a backend; used by plug-ins and tests."""
    _BACKENDS[entry.name] = entry


def backend_names() -> tuple[str, ...]:
    """Every registered backend name, in "auto" preference order."""
    return tuple(_BACKENDS)


def backend_entry(name: str) -> BackendEntry:
    try:
        return _BACKENDS[name]
    except KeyError:
        known = ", ".join(["auto", *_BACKENDS])
        raise BadInput(f"unknown face engine {name!r}", hint=f"choose one of: {known}") from None


def is_available(name: str) -> bool:
    """Whether backend `name` could load here (its module imports and its weights exist)."""
    entry = backend_entry(name)
    try:
        module = entry.load_module()
    except ImportError:
        return False
    probe: Callable[[], bool] = getattr(module, entry.probe)
    return bool(probe())


def check_engine(engine: object, *, expected_name: str) -> FaceEngine:
    """Refuse an engine that does not honour the `FaceEngine` contract."""
    problems = []
    if not isinstance(engine, FaceEngine):
        problems.append("does not implement detect/embed/distance/name/identity_threshold")
    else:
        if engine.name != expected_name:
            problems.append(f"reports name {engine.name!r}")
        threshold = engine.identity_threshold
        if not isinstance(threshold, float) or not threshold > 0:
            problems.append(f"has identity_threshold {threshold!r} (need a float > 0)")
    if problems:
        raise InternalError(f"face engine {expected_name!r} " + "; ".join(problems))
    return engine  # type: ignore[return-value]


def create_engine(name: str) -> FaceEngine:
    """Build backend `name` through its factory and check it against the contract."""
    entry = backend_entry(name)
    module = entry.load_module()
    factory: Callable[[], object] = getattr(module, entry.factory)
    return check_engine(factory(), expected_name=name)
