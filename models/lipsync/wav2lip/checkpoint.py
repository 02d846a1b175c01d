"""Finding, reading and checking the user-supplied Wav2Lip checkpoints.

The official ``wav2lip.pth`` / ``wav2lip_gan.pth`` are research/non-commercial and
cannot be installed for the user, so they are declared here (for the model store)
without a pinned hash and looked up in ``<models_dir>/wav2lip/`` (the studio's models
dir, resolved by the settings: default ``$LIKENESS_HOME/models/wav2lip/``). A checkpoint
is a dict with a ``state_dict`` whose keys may carry DataParallel's ``module.`` prefix;
before loading we compare every name and shape with the network and refuse any
difference, listing it, since a partly-loaded generator renders plausible-looking garbage.

torch is imported inside the functions that need it: importing this module (the
model store does) must stay cheap and work without the optional torch extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from likeness.errors import BadInput, IntegrityFailure, MissingWeights
from models.lipsync.torch_checks import state_dict_problems
from models.weights import WeightFile

if TYPE_CHECKING:
    import torch

    from models.lipsync.wav2lip.model import Wav2Lip

ENGINE_NAME = "wav2lip"
WEIGHTS_FOLDER = "wav2lip"
CHECKPOINT_FILE = "wav2lip.pth"
GAN_CHECKPOINT_FILE = "wav2lip_gan.pth"
DATAPARALLEL_PREFIX = "module."
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt")
_LICENSE = "research/non-commercial (Wav2Lip, LRS2-trained)"


def _declare(file_name: str, notes: str) -> WeightFile:
    return WeightFile(
        engine=ENGINE_NAME,
        name=file_name,
        source=f"user:{WEIGHTS_FOLDER}/{file_name}",
        sha256="",  # user-supplied and not redistributable: nothing to pin in advance
        size_bytes=0,
        license=_LICENSE,
        commercial_use=False,
        notes=notes,
    )


WEIGHTS: tuple[WeightFile, ...] = (
    _declare(CHECKPOINT_FILE, "official Wav2Lip generator (Rudrabha/Wav2Lip), user-supplied; "
             "sharper sync, blurrier mouth"),
    _declare(GAN_CHECKPOINT_FILE, "official Wav2Lip + visual-quality discriminator generator, "
             "user-supplied; better texture, slightly weaker sync"),
)


def find_checkpoint(*, gan: bool = False, models_dir: Path) -> Path:
    """The path of the placed checkpoint, or `MissingWeights` naming the file and folder."""
    path = models_dir / WEIGHTS_FOLDER / (GAN_CHECKPOINT_FILE if gan else CHECKPOINT_FILE)
    return require_checkpoint_file(path)


def placed_checkpoint(models_dir: Path) -> Path | None:
    """The checkpoint ``auto`` would use from ``<models_dir>/wav2lip/``, or None.

    The declared files are preferred in their order (the plain generator first: sharper
    sync); otherwise any ``*.pth``/``*.pt``/``*.ckpt`` there, by name. A directory
    listing only: nothing is read or loaded.
    """
    folder = models_dir / WEIGHTS_FOLDER
    if not folder.is_dir():
        return None
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in CHECKPOINT_SUFFIXES)
    for declared in WEIGHTS:
        for path in found:
            if path.name == declared.name:
                return path
    return found[0] if found else None


def require_checkpoint_file(path: Path) -> Path:
    """`path` if it is a file; otherwise `MissingWeights` saying what to place where."""
    if Path(path).is_file():
        return Path(path)
    raise MissingWeights(
        f"wav2lip: checkpoint {Path(path).name} not found at {path}",
        hint=f"place the official Wav2Lip checkpoint (wav2lip.pth or wav2lip_gan.pth; "
        f"research/non-commercial licence) in {Path(path).parent}/ "
        f"(default folder: $LIKENESS_HOME/models/{WEIGHTS_FOLDER}/), or use --lipsync viseme",
    )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The generator's tensors from a checkpoint file, ``module.`` prefixes removed.

    Loaded with ``weights_only=True``: a checkpoint is data, and a pickle from a
    user-supplied file must never run code.
    """
    import torch

    file = require_checkpoint_file(path)
    try:
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file; all mean "unreadable"
        raise BadInput(
            f"wav2lip: cannot read checkpoint {file}: {type(exc).__name__}: {exc}",
            hint="the file should be the official wav2lip.pth / wav2lip_gan.pth (a torch "
            "checkpoint); re-copy it if it was truncated",
        ) from None
    raw = payload.get("state_dict", payload) if isinstance(payload, Mapping) else None
    if not isinstance(raw, Mapping) or not all(
        isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in raw.items()
    ):
        raise BadInput(
            f"wav2lip: {file} holds no state dict of tensors",
            hint="expected a dict with a 'state_dict' entry, as the official checkpoints have",
        )
    return {_strip_prefix(key): value for key, value in raw.items()}


def _strip_prefix(key: str) -> str:
    return key[len(DATAPARALLEL_PREFIX):] if key.startswith(DATAPARALLEL_PREFIX) else key


def check_state_dict(
    state: Mapping[str, Any], *, expected: Mapping[str, Any], source: str
) -> None:
    """Raise `IntegrityFailure` unless names and shapes match exactly, listing each difference."""
    problems = state_dict_problems(state, expected, noun="key")
    if problems:
        raise IntegrityFailure(
            f"wav2lip: {source} is not a Wav2Lip generator checkpoint: " + "; ".join(problems),
            hint="use the official wav2lip.pth or wav2lip_gan.pth (not the SyncNet expert "
            "or the discriminator checkpoint)",
        )


def load_generator(path: Path) -> Wav2Lip:
    """A `Wav2Lip` in eval mode on the CPU with the checkpoint's weights (strict)."""
    from models.lipsync.wav2lip.model import Wav2Lip

    state = read_state_dict(path)
    model = Wav2Lip()
    check_state_dict(state, expected=model.state_dict(), source=str(path))
    model.load_state_dict(state, strict=True)
    return model.eval()
