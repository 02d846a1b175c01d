"""The visible "AI-generated" label, burned into every frame.

The label is drawn once per render (Pillow, DejaVu Sans Bold from Debian
fonts-dejavu-core) into a small RGBA tile sized from the frame height so it
stays legible after a downscale to 360p; each frame then costs one alpha blend
over that tile's rectangle (numpy), not a text render.

A stamp hands frames over as I420 planes (media.yuv), the encoder's layout, so the tile
is also kept as per-plane overlays: the blend in YUV is the same affine blend as in RGB
(YUV is an affine function of RGB), with chroma's alpha averaged over each 2x2 block
as the encoder's subsampling would, and drawing there saves two colour conversions a
frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from likeness.errors import InternalError
from media.yuv import (
    C_SPAN,
    CB_ROW,
    CHROMA_NEUTRAL,
    CR_ROW,
    LUMA_ROW,
    RGB_LEVELS,
    Y_BLACK,
    Y_SPAN,
    Yuv420,
)

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
        self._planes: _PlaneOverlays | None = None  # made at the first I420 picture

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

    def burn_yuv(self, picture: Yuv420, *, copy: bool = True) -> Yuv420:
        """Return ``picture`` with the label blended into its planes: the stamp path's
        `burn`, with no conversion to RGB and back. The input is left alone unless
        ``copy`` is False (a picture publish made itself, blended where it lies)."""
        if (picture.width, picture.height) != self.size:
            raise InternalError(f"label made for {self.size}, picture is "
                                f"{picture.width}x{picture.height}")
        if self._planes is None:
            self._planes = _PlaneOverlays.of(self._alpha[..., 0], self._color, self.box)
        out = picture.copy() if copy else picture
        self._planes.blend(out)
        return out


@dataclass(frozen=True, eq=False)
class _PlaneOverlays:
    """The label tile as I420 overlays on an even-aligned rectangle: per plane, the alpha
    and the premultiplied colour in that plane's levels, ready for one blend a frame."""

    x: int  # luma column and row of the rectangle's corner (both even)
    y: int
    luma_alpha: np.ndarray  # (h, w) float32
    luma_ink: np.ndarray  # (h, w) premultiplied luma levels
    chroma_alpha: np.ndarray  # (h/2, w/2)
    cb_ink: np.ndarray
    cr_ink: np.ndarray

    @classmethod
    def of(cls, alpha: np.ndarray, premultiplied: np.ndarray,
           box: tuple[int, int, int, int]) -> _PlaneOverlays:
        """``alpha`` (h, w) and ``premultiplied`` (h, w, 3) RGB levels, at ``box``."""
        x, y, w, h = box
        x0, y0 = x - x % 2, y - y % 2
        width, height = w + x - x0, h + y - y0
        width, height = width + width % 2, height + height % 2
        full_alpha = np.zeros((height, width), np.float32)
        full_rgb = np.zeros((height, width, 3), np.float32)
        full_alpha[y - y0:y - y0 + h, x - x0:x - x0 + w] = alpha
        full_rgb[y - y0:y - y0 + h, x - x0:x - x0 + w] = premultiplied
        scale = np.float32(1.0 / RGB_LEVELS)
        luma = Y_BLACK * full_alpha + Y_SPAN * scale * (full_rgb @ LUMA_ROW)
        cb = CHROMA_NEUTRAL * full_alpha + C_SPAN * scale * (full_rgb @ CB_ROW)
        cr = CHROMA_NEUTRAL * full_alpha + C_SPAN * scale * (full_rgb @ CR_ROW)
        return cls(x=x0, y=y0, luma_alpha=full_alpha, luma_ink=luma.astype(np.float32),
                   chroma_alpha=_halved(full_alpha), cb_ink=_halved(cb), cr_ink=_halved(cr))

    def blend(self, picture: Yuv420) -> None:
        """Blend into ``picture``'s planes in place."""
        h, w = self.luma_alpha.shape
        _blend(picture.y[self.y:self.y + h, self.x:self.x + w], self.luma_alpha,
               self.luma_ink)
        cy, cx = self.y // 2, self.x // 2
        for plane, ink in ((picture.u, self.cb_ink), (picture.v, self.cr_ink)):
            _blend(plane[cy:cy + h // 2, cx:cx + w // 2], self.chroma_alpha, ink)


def _halved(plane: np.ndarray) -> np.ndarray:
    """The mean of each 2x2 block: what 4:2:0 keeps of a full-resolution plane."""
    h, w = plane.shape
    return plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3), dtype=np.float32)


def _blend(region: np.ndarray, alpha: np.ndarray, ink: np.ndarray) -> None:
    mixed = region.astype(np.float32) * (1.0 - alpha) + ink + 0.5
    region[...] = np.clip(mixed, 0.0, 255.0).astype(np.uint8)
