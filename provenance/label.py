"""The visible "AI-generated" label, burned into every frame.

The label is drawn once per render (Pillow, DejaVu Sans Bold from Debian
fonts-dejavu-core) into a small RGBA tile sized from the frame height so it
stays legible after a downscale to 360p; each frame then costs one alpha blend
over that tile's rectangle (numpy), not a text render.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from likeness.errors import InternalError

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    Path(__file__).resolve().parents[1] / "assets" / "fonts" / "DejaVuSans-Bold.ttf",
)
TEXT_HEIGHT_FRACTION = 0.045  # of the frame height: 32 px at 720p, 16 px after a 360p downscale
MIN_TEXT_PX = 14
MARGIN_FRACTION = 0.025
BOX_OPACITY = 0.55

Position = Literal["top-left", "top-right", "bottom-left", "bottom-right"]


@dataclass(frozen=True)
class LabelSpec:
    text: str
    position: Position = "bottom-right"


def _font(size_px: int) -> ImageFont.FreeTypeFont:
    for path in FONT_CANDIDATES:
        if path.exists():
            return ImageFont.truetype(str(path), size_px)
    raise InternalError("no label font found",
                        hint="install Debian fonts-dejavu-core (make setup does)")


class LabelBurner:
    """Pre-renders the label for one frame size and blends it into frames."""

    def __init__(self, spec: LabelSpec, *, width: int, height: int) -> None:
        size_px = max(MIN_TEXT_PX, round(height * TEXT_HEIGHT_FRACTION))
        font = _font(size_px)
        pad = max(4, size_px // 3)
        left, top, right, bottom = font.getbbox(spec.text)
        tile_w = min(width, right - left + 2 * pad)
        tile_h = min(height, bottom - top + 2 * pad)
        tile = Image.new("RGBA", (tile_w, tile_h), (0, 0, 0, round(255 * BOX_OPACITY)))
        ImageDraw.Draw(tile).text((pad - left, pad - top), spec.text, font=font,
                                  fill=(255, 255, 255, 255))
        rgba = np.asarray(tile, dtype=np.float32) / 255.0
        self._alpha = rgba[..., 3:4]
        self._color = rgba[..., :3] * 255.0 * self._alpha
        margin = round(min(width, height) * MARGIN_FRACTION)
        x = margin if spec.position.endswith("left") else width - tile_w - margin
        y = margin if spec.position.startswith("top") else height - tile_h - margin
        self.box = (max(0, x), max(0, y), tile_w, tile_h)
        self.size = (width, height)

    @property
    def ink_pixels(self) -> int:
        """Pixels the text itself covers (fully opaque): 0 for a text that draws nothing,
        such as zero-width characters, which would label nothing."""
        return int((self._alpha[..., 0] >= 0.98).sum())

    def burn(self, frame: np.ndarray) -> np.ndarray:
        """Return ``frame`` with the label blended in (the input array is not modified)."""
        if (frame.shape[1], frame.shape[0]) != self.size:
            raise InternalError(f"label made for {self.size}, frame is "
                                f"{frame.shape[1]}x{frame.shape[0]}")
        x, y, w, h = self.box
        out = frame.copy()
        region = out[y:y + h, x:x + w].astype(np.float32)
        out[y:y + h, x:x + w] = (region * (1.0 - self._alpha) + self._color).astype(np.uint8)
        return out
