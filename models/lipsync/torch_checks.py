"""Checks the two network lip-sync engines (Wav2Lip, MuseTalk) make the same way.

Both load official checkpoints strictly and run on a device the user names; the
checks differ only in the engine's name and the hint, so they live here once and
each engine supplies its own words. Torch loads only when a device is resolved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from likeness.errors import BadInput

if TYPE_CHECKING:
    import torch

MAX_LISTED = 8  # names shown per kind of difference; the rest are counted


def resolve_device(device: str, *, engine: str, cuda_missing_hint: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; an explicit CUDA request must be satisfiable."""
    import torch  # here, not at import: the strict-load checks must not pull torch in

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise BadInput(f"{engine}: unknown device {device!r}: {exc}",
                       hint="use auto, cpu, cuda or cuda:N") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise BadInput(f"{engine}: device {device!r} requested but CUDA is not available",
                       hint=cuda_missing_hint)
    if chosen.type not in ("cpu", "cuda"):
        raise BadInput(f"{engine}: device type {chosen.type!r} is not supported",
                       hint="use auto, cpu, cuda or cuda:N")
    return chosen


def listing(names: list[str]) -> str:
    """The first few names, and how many more there are."""
    shown = ", ".join(names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return shown + (f" (+{more} more)" if more > 0 else "")


def state_dict_problems(state: Mapping[str, Any], expected: Mapping[str, Any], *,
                        noun: str = "tensor") -> list[str]:
    """Every way `state` differs from `expected` in names and shapes; empty when they match.

    A strict load must say all of it at once: a user swapping files learns from one
    refusal whether they picked the wrong checkpoint or a damaged one.
    """
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(f"{key} {tuple(state[key].shape)} != {tuple(expected[key].shape)}"
                   for key in set(state) & set(expected)
                   if tuple(state[key].shape) != tuple(expected[key].shape))
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing {noun}(s): {listing(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected {noun}(s): {listing(unexpected)}")
    if wrong:
        problems.append(f"{len(wrong)} shape mismatch(es): {listing(wrong)}")
    return problems
