"""Still-image composition: title cards and backgrounds for avatars.

moviepy renders text well but costs seconds per clip here, so it is used only
to draw a *single* still (a card) that callers repeat; nothing in this module
runs per frame of a render. Image fitting uses OpenCV, which is fast and
already a dependency.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from likeness.errors import BadInput, InternalError

DEFAULT_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
TEXT_MARGIN_PX = (10, 20)  # moviepy clips descenders without a vertical margin
TEXT_WIDTH_FRACTION = 0.85
FONT_HEIGHT_FRACTION = 0.07  # font size as a fraction of the card height
RGB = tuple[int, int, int]


def title_card(
    *,
    text: str,
    size: tuple[int, int],
    background_rgb: RGB = (16, 16, 24),
    text_rgb: RGB = (240, 240, 240),
    font_path: Path = DEFAULT_FONT,
    font_size: int | None = None,
) -> np.ndarray:
    """Render ``text`` centred and wrapped on a plain card; (height, width, 3) uint8."""
    from moviepy import ColorClip, CompositeVideoClip, TextClip

    width, height = _checked_size(size)
    if not text.strip():
        raise BadInput("a title card needs some text")
    if not font_path.is_file():
        raise InternalError(f"font {font_path} is missing",
                            hint="install Debian's fonts-dejavu-core or pass font_path")
    caption = TextClip(
        font=str(font_path),
        text=text,
        font_size=font_size or max(12, int(height * FONT_HEIGHT_FRACTION)),
        color=_hex(text_rgb),
        method="caption",
        size=(int(width * TEXT_WIDTH_FRACTION), None),
        text_align="center",
        margin=TEXT_MARGIN_PX,
        duration=1,
    )
    background = ColorClip(size=(width, height), color=background_rgb, duration=1)
    card = CompositeVideoClip([background, caption.with_position("center")], size=(width, height))
    try:
        frame = card.get_frame(0)
    finally:
        card.close()
    return np.ascontiguousarray(frame[:, :, :3], dtype=np.uint8)


def repeat_frame(frame: np.ndarray, *, seconds: float, fps: float) -> Iterator[np.ndarray]:
    """Yield ``frame`` for ``seconds`` at ``fps`` (copies, so callers may draw on them)."""
    if seconds <= 0 or fps <= 0:
        raise BadInput(f"invalid card length {seconds} s at {fps} fps")
    for _ in range(max(1, int(round(seconds * fps)))):
        yield frame.copy()


def load_image(path: Path | str, *, background_rgb: RGB = (0, 0, 0)) -> np.ndarray:
    """Read an image as RGB uint8; transparency is flattened onto ``background_rgb``."""
    image_path = Path(path)
    if not image_path.is_file():
        raise BadInput(f"image {image_path} does not exist")
    raw = cv2.imread(str(image_path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise BadInput(f"cannot read image {image_path}: not a supported image file")
    if raw.dtype == np.uint16:
        raw = (raw // 257).astype(np.uint8)
    if raw.ndim == 2:
        return np.ascontiguousarray(np.repeat(raw[:, :, np.newaxis], 3, axis=2))
    rgb = cv2.cvtColor(raw[:, :, :3], cv2.COLOR_BGR2RGB)
    if raw.shape[2] == 4:
        alpha = raw[:, :, 3:4].astype(np.float32) / 255.0
        backdrop = np.asarray(background_rgb, dtype=np.float32)
        rgb = (rgb.astype(np.float32) * alpha + backdrop * (1.0 - alpha) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(rgb)


def fit_cover(image: np.ndarray, *, size: tuple[int, int]) -> np.ndarray:
    """Scale ``image`` to fill ``size`` (width, height) and crop the overflow, centred."""
    width, height = _checked_size(size)
    src_h, src_w = image.shape[:2]
    scale = max(width / src_w, height / src_h)
    new_w, new_h = max(width, round(src_w * scale)), max(height, round(src_h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    left, top = (new_w - width) // 2, (new_h - height) // 2
    return np.ascontiguousarray(resized[top:top + height, left:left + width])


def place_on_background(
    foreground: np.ndarray,
    *,
    background: np.ndarray,
    height_fraction: float = 0.8,
) -> np.ndarray:
    """Centre ``foreground`` (scaled to a fraction of the height) on ``background``.

    For avatar renders: a performer portrait standing on a fitted backdrop.
    """
    if not 0 < height_fraction <= 1:
        raise BadInput(f"height_fraction must be in (0, 1], got {height_fraction}")
    bg_h, bg_w = background.shape[:2]
    scale = min(bg_h * height_fraction / foreground.shape[0], bg_w / foreground.shape[1])
    fg_w = max(1, round(foreground.shape[1] * scale))
    fg_h = max(1, round(foreground.shape[0] * scale))
    scaled = cv2.resize(foreground, (fg_w, fg_h), interpolation=cv2.INTER_AREA)
    out = background.copy()
    left, top = (bg_w - fg_w) // 2, (bg_h - fg_h) // 2
    out[top:top + fg_h, left:left + fg_w] = scaled
    return out


def _checked_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = int(size[0]), int(size[1])
    if width <= 0 or height <= 0:
        raise BadInput(f"invalid size {size}: width and height must be positive")
    return width, height


def _hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)
