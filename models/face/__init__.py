"""Face engines: the front door for detection, landmarks and identity embeddings.

Callers get a backend from the engine registry
(``models.registry.get("face", "auto" | "dlib" | "insightface", models_dir=..., policy=...)``),
read images with `load_image`, and bind identities with `single_face_embedding`, which
refuses images with no face or several. Backends load lazily: importing this package
imports neither dlib nor onnxruntime.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from likeness.errors import BadInput
from models.face.base import Face, FaceBox, FaceEngine

__all__ = [
    "Face",
    "FaceBox",
    "FaceEngine",
    "load_image",
    "single_face_embedding",
]

MAX_IMAGE_PIXELS = 100_000_000  # refuse decompression bombs well before OpenCV's 2^30 cap
_WHITE = 255.0


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 HxWx3; alpha is composited on white.

    Raises `BadInput` ("cannot read image PATH: ...") for a missing, empty, unreadable
    or non-image file, so that the CLI can answer with exit code 2.
    """
    file = Path(path)
    try:
        if not file.is_file():
            reason = "is a directory" if file.is_dir() else "no such file"
            raise BadInput(f"cannot read image {file}: {reason}")
        raw = np.fromfile(file, dtype=np.uint8)  # imdecode handles non-ASCII paths
    except OSError as exc:
        raise BadInput(f"cannot read image {file}: {exc.strerror or exc}") from None
    if raw.size == 0:
        raise BadInput(f"cannot read image {file}: empty file (0 bytes)")
    decoded = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.size == 0:
        raise BadInput(
            f"cannot read image {file}: not an image or an unsupported format",
            hint="use a PNG, JPEG, BMP, TIFF or WebP file",
        )
    if decoded.shape[0] * decoded.shape[1] > MAX_IMAGE_PIXELS:
        raise BadInput(f"cannot read image {file}: larger than {MAX_IMAGE_PIXELS} pixels")
    return _to_rgb_uint8(decoded)


def _to_rgb_uint8(decoded: np.ndarray) -> np.ndarray:
    """Normalise OpenCV's BGR/BGRA/gray, 8/16-bit/float output to RGB uint8."""
    image = decoded
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257.0).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image.astype(np.float32) * 255.0, 0, 255).round().astype(np.uint8)
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    channels = image.shape[2]
    if channels == 1:
        return np.ascontiguousarray(np.repeat(image, 3, axis=2))
    if channels == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        bgr = image[:, :, :3].astype(np.float32) * alpha + _WHITE * (1.0 - alpha)
        image = np.clip(bgr.round(), 0, 255).astype(np.uint8)
    return cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2RGB)


def single_face_embedding(engine: FaceEngine, image: np.ndarray, *, source: str) -> np.ndarray:
    """The embedding of the only face in `image`; refuses none or several.

    Identity binding must never guess which of several people a reference image
    means, so a group photo is an error, not "the largest face".
    """
    faces: list[Face] = engine.detect(image)
    if not faces:
        raise BadInput(
            f"no face found in {source}",
            hint="use a well-lit, frontal image where the face is at least ~80 px wide",
        )
    if len(faces) > 1:
        raise BadInput(
            f"{len(faces)} faces found in {source}; expected exactly one",
            hint="crop the image to the one performer",
        )
    return engine.embed(image, faces[0])
