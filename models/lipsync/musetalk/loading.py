"""From a placed folder to networks holding the official weights: hash, read, check, assign.

The networks are first built on torch's meta device (shapes only, no memory and no
random initialisation of 940 M parameters), the checkpoints are checked against those
shapes, and their tensors are then assigned in place; the weight-free audio adapter
is rebuilt on the real device. Peak memory is about one copy of the weights.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from likeness.errors import BadInput, IntegrityFailure
from models.lipsync.musetalk.checkpoint import read_tensors
from models.lipsync.musetalk.config import PUBLISHED, UNET_CONFIG, Architecture
from models.lipsync.musetalk.layout import Placement, verify_files
from models.lipsync.musetalk.networks import AudioAdapter, MuseTalkNetworks

# Keys of musetalk.json that describe the file, not the network.
_CONFIG_METADATA = frozenset({"_class_name", "_diffusers_version", "_name_or_path"})


@dataclass(frozen=True)
class LoadedWeights:
    """What was loaded: each file's path under the musetalk folder and its SHA-256."""

    digests: Mapping[str, str]


def check_unet_config(path: Path) -> None:
    """Refuse a placed musetalk.json that describes another network than MuseTalk 1.5's."""
    try:
        given = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"musetalk: cannot read {path}: {exc}") from None
    if not isinstance(given, dict):
        raise BadInput(f"musetalk: {path} is not a JSON object")
    published = {key: list(value) if isinstance(value, tuple) else value
                 for key, value in UNET_CONFIG.items()}
    differing = sorted(key for key in set(given) | set(published)
                       if key not in _CONFIG_METADATA and given.get(key) != published.get(key))
    if differing:
        raise IntegrityFailure(
            f"musetalk: {path} differs from MuseTalk 1.5's published UNet configuration in: "
            + ", ".join(differing),
            hint="use the musetalk.json shipped beside musetalkV15/unet.pth (or remove it: "
                 "the published configuration is built in)")


def load_networks(placement: Placement, *, architecture: Architecture = PUBLISHED,
                  expected_sha256: Mapping[str, str] | None = None,
                  ) -> tuple[MuseTalkNetworks, LoadedWeights]:
    """CPU float32 networks with the placed checkpoints (strict), and what was loaded."""
    if placement.unet_config is not None and architecture is PUBLISHED:
        check_unet_config(placement.unet_config)
    digests = verify_files(placement, expected=expected_sha256)
    networks = MuseTalkNetworks.on_meta(architecture)
    sources = {"unet": str(placement.unet), "vae": str(placement.vae),
               "whisper": str(placement.whisper)}
    networks.load_checkpoints(unet=read_tensors(placement.unet, what="UNet"),
                              vae=read_tensors(placement.vae, what="VAE"),
                              whisper=read_tensors(placement.whisper, what="whisper"),
                              sources=sources)
    networks.adapter = AudioAdapter(int(architecture.unet["cross_attention_dim"]))
    left_on_meta = [name for name, tensor in (*networks.named_parameters(),
                                              *networks.named_buffers()) if tensor.is_meta]
    if left_on_meta:
        raise IntegrityFailure(f"musetalk: {len(left_on_meta)} tensor(s) got no weights: "
                               + ", ".join(left_on_meta[:8]))
    return networks.eval(), LoadedWeights(digests=digests)
