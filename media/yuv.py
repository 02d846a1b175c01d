"""A picture in the encoder's own layout: 8-bit 4:2:0 planes (I420) in one buffer.

Why: publish encodes H.264 yuv420p. A stamp that decodes to RGB, draws the label and
the watermark there and hands RGB to the encoder pays two colour conversions per frame
(swscale's RGB->YUV alone cost more than the decode, measured at 720p); the label and
the luma watermark can be drawn in these planes directly, so the stamp path converts
nothing. The buffer is the (height * 3/2, width) array PyAV reads and writes for
``yuv420p``; `y`, `u` and `v` are views into it, so edits to them edit the picture.

Levels are limited range (Y 16-235, chroma 16-240 around 128), as decoding to
``yuv420p`` delivers even from a full-range source.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from likeness.errors import InternalError

Y_BLACK = 16.0  # limited-range luma of black
Y_SPAN = 219.0  # limited-range luma of white minus black
CHROMA_NEUTRAL = 128.0  # chroma of any grey
RGB_LEVELS = 255.0
C_SPAN = 224.0  # limited-range chroma span
# BT.601 (swscale's default for untagged video, what an RGB frame is encoded with) rows
# for luma and the two chroma differences, on RGB in 0..1
LUMA_ROW = np.array([0.299, 0.587, 0.114], np.float32)
CB_ROW = np.array([-0.168736, -0.331264, 0.5], np.float32)
CR_ROW = np.array([0.5, -0.418688, -0.081312], np.float32)
# Cb and Cr of one 8-bit RGB pixel with their 128 offset (cv2.transform's 3x4 form)
_RGB_TO_CHROMA = np.array(
    [[*(CB_ROW * (C_SPAN / RGB_LEVELS)), CHROMA_NEUTRAL],
     [*(CR_ROW * (C_SPAN / RGB_LEVELS)), CHROMA_NEUTRAL]], np.float32)


@dataclass(frozen=True, eq=False)
class Yuv420:
    """One picture as I420 planes in one C-contiguous uint8 buffer the holder owns."""

    i420: np.ndarray  # (height * 3 // 2, width) uint8

    def __post_init__(self) -> None:
        buf = self.i420
        if buf.dtype != np.uint8 or buf.ndim != 2 or buf.shape[0] % 3 or buf.shape[1] % 2 \
                or not buf.flags.c_contiguous:  # 3/2 of an even height: a multiple of 3
            raise InternalError(f"an I420 buffer must be a C-contiguous (h*3/2, w) uint8 array "
                                f"with h and w even, got {buf.dtype} {buf.shape}")

    @classmethod
    def from_planes(cls, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> Yuv420:
        """Pack three planes (chroma half the luma's size each way) into one buffer."""
        height, width = y.shape
        if u.shape != (height // 2, width // 2) or v.shape != u.shape:
            raise InternalError(f"chroma planes {u.shape} and {v.shape} do not fit luma "
                                f"{y.shape}")
        buf = np.empty((height * 3 // 2, width), np.uint8)
        picture = cls(buf)
        picture.y[...] = y
        picture.u[...] = u
        picture.v[...] = v
        return picture

    @classmethod
    def from_rgb(cls, rgb: np.ndarray) -> Yuv420:
        """The (even-sized) RGB frame as the encoder would have converted it.

        Why not swscale: publish converts the dub's RGB frames here so the label and the
        watermark are drawn in the planes (as on the stamp path) and the encoder gets its
        own layout; OpenCV's luma (BT.601, limited range) matches swscale's within one
        code value, and the chroma is the 2x2 mean of the RGB (a box filter where swscale
        filters a little wider: within 1 on smooth pictures, a few values on pixel noise,
        invisible at 4:2:0). Measured at 720p: 1.3 ms a frame against swscale's 2.2 ms.
        """
        height, width = rgb.shape[:2]
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or height % 2 \
                or width % 2:
            raise InternalError(f"from_rgb takes an even-sized (h, w, 3) uint8 frame, got "
                                f"{rgb.dtype} {rgb.shape}")
        rgb = np.ascontiguousarray(rgb)
        picture = cls(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420))  # luma is what we keep
        half = cv2.resize(rgb, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
        chroma = cv2.transform(half, _RGB_TO_CHROMA)  # (h/2, w/2, 2) uint8, saturated
        picture.u[...] = chroma[..., 0]
        picture.v[...] = chroma[..., 1]
        return picture

    @property
    def width(self) -> int:
        return int(self.i420.shape[1])

    @property
    def height(self) -> int:
        return int(self.i420.shape[0] * 2 // 3)

    @property
    def y(self) -> np.ndarray:
        """The (height, width) luma plane (a view)."""
        return self.i420[:self.height]

    @property
    def u(self) -> np.ndarray:
        """The (height/2, width/2) Cb plane (a view)."""
        return self._chroma(0)

    @property
    def v(self) -> np.ndarray:
        """The (height/2, width/2) Cr plane (a view)."""
        return self._chroma(1)

    def _chroma(self, which: int) -> np.ndarray:
        height, width = self.height, self.width
        size = (height // 2) * (width // 2)
        flat = self.i420[height:].reshape(-1)[which * size:(which + 1) * size]
        return flat.reshape(height // 2, width // 2)

    def copy(self) -> Yuv420:
        return Yuv420(self.i420.copy())

    def with_luma(self, y: np.ndarray) -> Yuv420:
        """A new picture with this one's chroma and the luma ``y``."""
        if y.shape != (self.height, self.width) or y.dtype != np.uint8:
            raise InternalError(f"luma {y.dtype} {y.shape} does not fit a "
                                f"{self.width}x{self.height} picture")
        buf = np.empty_like(self.i420)
        buf[:self.height] = y
        buf[self.height:] = self.i420[self.height:]
        return Yuv420(buf)

    def rotated(self, quarter_turns: int) -> Yuv420:
        """The picture turned by ``quarter_turns`` x 90 degrees (numpy's rot90 sense),
        plane by plane, so a rotated source stays in YUV."""
        if quarter_turns % 4 == 0:
            return self
        return Yuv420.from_planes(*(np.rot90(plane, k=quarter_turns)
                                    for plane in (self.y, self.u, self.v)))
