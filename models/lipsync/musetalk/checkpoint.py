"""Reading the three official checkpoints and refusing any that does not fit exactly.

Each file is read as data only (``torch.load(weights_only=True)`` or safetensors: a
user-supplied pickle must never run code). Names are brought to the networks' own
spelling in two documented ways and no other:

- the VAE: sd-vae-ft-mse (2022) names its attention ``query/key/value/proj_attn``;
  diffusers now calls them ``to_q/to_k/to_v/to_out.0`` (same tensors, same shapes);
- whisper: the file holds the whole speech recogniser under ``model.`` (or bare);
  only ``encoder.*`` is kept, the decoder is set aside unread by the network.

After that, every name and shape must match the network built from the published
configuration (`check_state_dict`): a missing, extra or mis-shaped tensor is refused
with a listing, because a partly-loaded generator renders plausible-looking garbage.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from likeness.errors import BadInput, IntegrityFailure
from models.lipsync.torch_checks import state_dict_problems

if TYPE_CHECKING:
    import torch

_VAE_RENAMES = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}
_WHISPER_PREFIXES = ("model.encoder.", "encoder.")
_WRAPPER_KEYS = ("state_dict", "model", "module")


def read_tensors(path: Path, *, what: str) -> dict[str, torch.Tensor]:
    """Every tensor in a .safetensors/.pth/.bin file, by name; an unreadable file is BadInput."""
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return dict(load_file(str(path), device="cpu"))
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch/safetensors raise many types; all mean "unreadable"
        raise BadInput(f"musetalk: cannot read the {what} checkpoint {path}: "
                       f"{type(exc).__name__}: {exc}",
                       hint="re-copy the file; it may be truncated or not a checkpoint") from None
    for key in _WRAPPER_KEYS:  # training scripts sometimes wrap the weights once
        if isinstance(payload, Mapping) and isinstance(payload.get(key), Mapping):
            payload = payload[key]
    if not isinstance(payload, Mapping) or not payload or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in payload.items()):
        raise BadInput(f"musetalk: {path} holds no state dict of tensors ({what})")
    return dict(payload)


def vae_names(state: Mapping[str, Any]) -> dict[str, Any]:
    """sd-vae-ft-mse's 2022 attention names in today's diffusers spelling."""
    renamed: dict[str, Any] = {}
    for key, value in state.items():
        head, _, leaf = key.rpartition(".")
        module, _, last = head.rpartition(".")
        if ".attentions." in key and last in _VAE_RENAMES:
            key = f"{module}.{_VAE_RENAMES[last]}.{leaf}"
        renamed[key] = value
    return renamed


def whisper_encoder_names(state: Mapping[str, Any], *, source: str) -> dict[str, Any]:
    """The encoder's tensors named ``encoder.*``; the decoder and output head are dropped."""
    for prefix in _WHISPER_PREFIXES:
        kept = {"encoder." + key[len(prefix):]: value for key, value in state.items()
                if key.startswith(prefix)}
        if kept:
            return kept
    raise IntegrityFailure(f"musetalk: {source} holds no whisper encoder "
                           "(no model.encoder.* or encoder.* tensors)",
                           hint="use openai/whisper-tiny's pytorch_model.bin or model.safetensors")


def check_state_dict(state: Mapping[str, Any], *, expected: Mapping[str, Any], source: str,
                     what: str) -> None:
    """`IntegrityFailure` unless names and shapes match exactly, listing every difference."""
    problems = state_dict_problems(state, expected)
    if problems:
        raise IntegrityFailure(
            f"musetalk: {source} is not a MuseTalk 1.5 {what} checkpoint: " + "; ".join(problems),
            hint="use the official files: musetalkV15/unet.pth, sd-vae-ft-mse, whisper-tiny")
