"""Where the user puts MuseTalk 1.5's files, what they are licensed as, and how they are checked.

Nothing here is downloadable for the user: the UNet comes from TMElyralab/MuseTalk
(``musetalkV15/unet.pth``), the VAE from stabilityai/sd-vae-ft-mse and the audio encoder
from openai/whisper-tiny. The folder under ``<models_dir>/musetalk/`` mirrors the
official repository's ``models/`` folder, so copying that folder's three sub-folders in
is the whole installation (paths under the models dir)::

    musetalk/musetalkV15/unet.pth      (or unet.safetensors; musetalk.json optional)
    musetalk/sd-vae/diffusion_pytorch_model.bin   (or .safetensors; sd-vae-ft-mse/ too)
    musetalk/whisper/pytorch_model.bin (or model.safetensors)
    musetalk/SHA256SUMS                optional, `sha256sum` format: checked when present

No official SHA-256 is published in a source we could verify, so the declarations pin
none; every loaded file is hashed and the digest recorded, and a ``SHA256SUMS`` file
the studio writes once (``sha256sum */* > SHA256SUMS``) makes a swapped file fail
loudly on every later load. This module is torch-free: the model store, the licence
policy and ``auto``'s probe read it with a directory listing only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from likeness.errors import BadInput, IntegrityFailure, MissingWeights
from media.digest import sha256_file
from models.weights import WeightFile

ENGINE_NAME = "musetalk"
WEIGHTS_FOLDER = "musetalk"
UNET_FOLDER = "musetalkV15"
UNET_FILES = ("unet.pth", "unet.safetensors")
UNET_CONFIG_FILE = "musetalk.json"
VAE_FOLDERS = ("sd-vae", "sd-vae-ft-mse")
VAE_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
WHISPER_FOLDER = "whisper"
WHISPER_FILES = ("model.safetensors", "pytorch_model.bin")
SUMS_FILE = "SHA256SUMS"

# Licence facts (checked 2026-12 against the projects' own pages, recorded here so the
# model store and the C2PA manifest can say them):
UNET_LICENSE = ("MuseTalk weights: README 'available for any purpose, even commercially' "
                "(code MIT); the Hugging Face card is tagged creativeml-openrail-m "
                "(use-based restrictions); trained on HDTF and private data")
VAE_LICENSE = "MIT (stabilityai/sd-vae-ft-mse model card)"
WHISPER_LICENSE = "Apache-2.0 (openai/whisper-tiny model card; the whisper code is MIT)"
AUXILIARY_NOTE = ("MuseTalk's auxiliary models are not used: its S3FD detector (licence "
                  "not stated), DWPose landmarks (Apache-2.0) and face-parse-bisent (MIT) "
                  "are replaced by the studio's own face tracker and a landmark mask")

_SUM_LINE = re.compile(r"^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$")


def _declare(name: str, folder: str, license_text: str, notes: str) -> WeightFile:
    return WeightFile(engine=ENGINE_NAME, name=name,
                      source=f"user:{WEIGHTS_FOLDER}/{folder}/{name}",
                      sha256="",  # user-supplied; checked against SHA256SUMS when present
                      size_bytes=0, license=license_text, commercial_use=True, notes=notes)


WEIGHTS: tuple[WeightFile, ...] = (
    _declare(UNET_FILES[0], UNET_FOLDER, UNET_LICENSE,
             "MuseTalk 1.5 latent inpainting UNet (TMElyralab/MuseTalk, musetalkV15/), "
             "user-supplied. " + AUXILIARY_NOTE),
    _declare(VAE_FILES[1], VAE_FOLDERS[0], VAE_LICENSE,
             "sd-vae-ft-mse AutoencoderKL (stabilityai/sd-vae-ft-mse), user-supplied"),
    _declare(WHISPER_FILES[1], WHISPER_FOLDER, WHISPER_LICENSE,
             "whisper-tiny; only its encoder is loaded (openai/whisper-tiny), user-supplied"),
)


@dataclass(frozen=True)
class Placement:
    """The three checkpoint files found under one models dir (and the optional extras)."""

    root: Path
    unet: Path
    vae: Path
    whisper: Path
    unet_config: Path | None = None
    sums: Path | None = None

    @property
    def files(self) -> tuple[Path, Path, Path]:
        return (self.unet, self.vae, self.whisper)


def _first(folder: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def find_placement(models_dir: Path) -> tuple[Placement | None, list[str]]:
    """The placed files, or None and one line per missing file (a directory listing only)."""
    root = Path(models_dir) / WEIGHTS_FOLDER
    unet = _first(root / UNET_FOLDER, UNET_FILES)
    vae = next((found for folder in VAE_FOLDERS
                if (found := _first(root / folder, VAE_FILES)) is not None), None)
    whisper = _first(root / WHISPER_FOLDER, WHISPER_FILES)
    missing = []
    if unet is None:
        missing.append(f"{root / UNET_FOLDER}/{' or '.join(UNET_FILES)}")
    if vae is None:
        missing.append(f"{root / VAE_FOLDERS[0]}/{' or '.join(VAE_FILES)}")
    if whisper is None:
        missing.append(f"{root / WHISPER_FOLDER}/{' or '.join(WHISPER_FILES)}")
    if unet is None or vae is None or whisper is None:
        return None, missing
    config = root / UNET_FOLDER / UNET_CONFIG_FILE
    sums = root / SUMS_FILE
    return Placement(root=root, unet=unet, vae=vae, whisper=whisper,
                     unet_config=config if config.is_file() else None,
                     sums=sums if sums.is_file() else None), []


def require_placement(models_dir: Path) -> Placement:
    """`find_placement` or `MissingWeights` naming every file to place and where."""
    placement, missing = find_placement(models_dir)
    if placement is None:
        raise MissingWeights(
            f"musetalk: {len(missing)} checkpoint file(s) missing: " + "; ".join(missing),
            hint="copy MuseTalk's musetalkV15/, sd-vae/ (sd-vae-ft-mse) and whisper/ "
                 f"(whisper-tiny) folders into {Path(models_dir) / WEIGHTS_FOLDER}/, or use "
                 "--lipsync footage or viseme (no weights needed)")
    return placement


def read_sums(path: Path) -> dict[str, str]:
    """``sha256sum`` lines as {relative path: digest}; a malformed line is `BadInput`."""
    sums: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _SUM_LINE.match(line.strip())
        if match is None:
            raise BadInput(f"musetalk: {path} line {number} is not '<sha256>  <file>'",
                           hint="write it with `sha256sum */* > SHA256SUMS` in that folder")
        sums[Path(match.group(2)).as_posix()] = match.group(1).lower()
    return sums


def verify_files(placement: Placement, *,
                 expected: Mapping[str, str] | None = None) -> dict[str, str]:
    """SHA-256 of every checkpoint file, keyed by its path under the musetalk folder.

    `expected` (or, when None, the placement's ``SHA256SUMS``) pins digests by that
    relative path; any pinned file whose digest differs raises `IntegrityFailure`: a
    swapped UNet renders plausible faces that are not what the studio vetted.
    """
    pins = dict(expected) if expected is not None else (
        read_sums(placement.sums) if placement.sums is not None else {})
    digests: dict[str, str] = {}
    for path in placement.files:
        relative = path.relative_to(placement.root).as_posix()
        actual = sha256_file(path)
        digests[relative] = actual
        pinned = pins.get(relative)
        if pinned is not None and pinned.lower() != actual:
            raise IntegrityFailure(
                f"musetalk: {path} has SHA-256 {actual}, but {SUMS_FILE} pins {pinned}",
                hint="replace the file with the one the studio vetted, or update SHA256SUMS "
                     "if the change is intended")
    return digests
