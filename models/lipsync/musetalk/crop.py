"""Where MuseTalk 1.5 looks on a face, and how its painted mouth goes back in.

The crop follows the published rule, fed by our 68 landmarks instead of MuseTalk's
detector and pose model: left/right at the landmarks' extent, bottom at the chin plus
a 10 px margin (1.5's ``extra_margin``), top as far above the nose tip (point 29)
as the chin is below it. The nose thus sits on the crop's middle row, which is where
the network's half mask begins: everything it may repaint is below the nose. The
crop is stretched to 256x256 (no aspect preservation, as trained).

Pasting back uses a mask drawn from the landmarks instead of MuseTalk's face parser:
the hull of the jaw line (points 1-15) and the nose, cut at the nose row (above it the
network only reconstructs the reference, a little blurred), shrunk by the feather
width and blurred inside itself, so pixels outside the hull are never touched.
"""

from __future__ import annotations

import cv2
import numpy as np

from models.face.align import Region
from models.face.base import Face
from models.lipsync.musetalk.config import FACE_SIZE_PX

NOSE_POINT = 29  # 68-point index (lower nose bridge) MuseTalk centres its crop on
JAW = slice(1, 16)  # jaw line from below the right ear to below the left one
EXTRA_MARGIN_PX = 10  # MuseTalk 1.5: the crop reaches 10 px below the chin
MIN_BOX_PX = 16
FEATHER_FRACTION = 0.06  # of the box width


def crop_box(face: Face, *, frame_height: int, frame_width: int) -> Region | None:
    """MuseTalk's face box for one face, clipped to the frame; None when too small."""
    points = face.landmarks
    nose_y = float(points[NOSE_POINT, 1])
    chin_y = float(points[:, 1].max())
    top = nose_y - (chin_y - nose_y)
    region = Region(left=max(0, int(np.floor(points[:, 0].min()))),
                    top=max(0, int(np.floor(top))),
                    right=min(frame_width, int(np.ceil(points[:, 0].max()))),
                    bottom=min(frame_height, int(np.ceil(chin_y)) + EXTRA_MARGIN_PX))
    if region.width < MIN_BOX_PX or region.height < MIN_BOX_PX:
        return None
    return region


def crop_face(frame: np.ndarray, region: Region) -> np.ndarray:
    """The box stretched to 256x256 uint8 RGB (Lanczos, as MuseTalk prepares its crops)."""
    patch = frame[region.top:region.bottom, region.left:region.right]
    return cv2.resize(patch, (FACE_SIZE_PX, FACE_SIZE_PX), interpolation=cv2.INTER_LANCZOS4)


def blend_mask(face: Face, region: Region) -> np.ndarray:
    """(h, w) float32 weights in [0, 1] over the box: 1 on the lower face, 0 off the hull."""
    points = face.landmarks
    outline = np.vstack([points[JAW], points[NOSE_POINT][None]]) - (region.left, region.top)
    hull = cv2.convexHull(np.round(outline).astype(np.int32))
    inside = np.zeros((region.height, region.width), dtype=np.uint8)
    cv2.fillConvexPoly(inside, hull, 1)
    inside[: max(0, int(np.ceil(points[NOSE_POINT, 1] - region.top)))] = 0  # never above the nose
    feather = max(1, int(round(FEATHER_FRACTION * region.width)))
    kernel = np.ones((2 * feather + 1, 2 * feather + 1), dtype=np.uint8)
    core = cv2.erode(inside, kernel).astype(np.float32)
    soft = cv2.GaussianBlur(core, (0, 0), sigmaX=feather / 2.0)
    return np.clip(soft, 0.0, 1.0) * inside


def paste_face(frame: np.ndarray, generated: np.ndarray, region: Region,
               mask: np.ndarray) -> np.ndarray:
    """A copy of `frame` with the generated 256x256 crop blended into `region` through `mask`."""
    resized = cv2.resize(generated, (region.width, region.height), interpolation=cv2.INTER_LINEAR)
    out = frame.copy()
    patch = out[region.top:region.bottom, region.left:region.right].astype(np.float32)
    weight = mask[..., None]
    patch = patch * (1.0 - weight) + resized.astype(np.float32) * weight
    out[region.top:region.bottom, region.left:region.right] = np.clip(
        np.round(patch), 0, 255).astype(np.uint8)
    return out
