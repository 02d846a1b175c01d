"""Face boxes in, 96x96 crops out, and generated mouths blended back: Wav2Lip's geometry.

The checkpoints were trained on axis-aligned face boxes (S3FD's, which reach from the
forehead to below the chin) stretched to 96x96, with the box padded 10 px downwards
and averaged over 5 frames so the crop does not jitter. dlib's boxes are tighter
(they often cut the chin), so the box here is the union of the tracker's box and its
68 landmarks before padding. Smoothing runs as a stream with a 4-frame look-ahead and
never averages across a lost track or a jump to another face.

Pasting back goes through a feathered mask that, by default, leaves the top of the
box (eyes, brows) untouched: the network regenerates the whole crop at 96 px, and
only its lower half carries the new mouth; blending the upper half would just blur
the eyes of a large face.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import cv2
import numpy as np

from likeness.errors import BadInput
from models.face.align import Region
from models.face.base import Face

PADS_PX = (0, 10, 0, 0)  # top, bottom, left, right, as the reference inference uses
SMOOTH_WINDOW_FRAMES = 5
SAME_FACE_IOU = 0.3  # consecutive boxes overlapping less than this are a different face
MIN_BOX_PX = 8
DEFAULT_FEATHER_FRACTION = 0.1  # of the box's shorter side
DEFAULT_BLEND_TOP_FRACTION = 0.35  # rows above this fraction of the box keep the original

Item = TypeVar("Item")


def face_crop_box(
    face: Face, *, frame_height: int, frame_width: int,
    pads_px: tuple[int, int, int, int] = PADS_PX,
) -> Region | None:
    """The padded crop rectangle for one face, clipped to the frame; None if too small.

    Union of the detector box and the landmark extent (so brows and chin are in),
    then the reference padding (top, bottom, left, right).
    """
    points = face.landmarks
    left = min(face.box.left, float(points[:, 0].min()))
    right = max(face.box.right, float(points[:, 0].max()))
    top = min(face.box.top, float(points[:, 1].min()))
    bottom = max(face.box.bottom, float(points[:, 1].max()))
    pad_top, pad_bottom, pad_left, pad_right = pads_px
    region = Region(
        left=max(0, int(np.floor(left)) - pad_left),
        top=max(0, int(np.floor(top)) - pad_top),
        right=min(frame_width, int(np.ceil(right)) + pad_right),
        bottom=min(frame_height, int(np.ceil(bottom)) + pad_bottom),
    )
    if region.width < MIN_BOX_PX or region.height < MIN_BOX_PX:
        return None
    return region


def region_iou(a: Region, b: Region) -> float:
    """Intersection over union of two end-exclusive rectangles."""
    inter_w = min(a.right, b.right) - max(a.left, b.left)
    inter_h = min(a.bottom, b.bottom) - max(a.top, b.top)
    if inter_w <= 0 or inter_h <= 0:
        return 0.0
    inter = inter_w * inter_h
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def smooth_boxes(boxes: np.ndarray, *, window: int = SMOOTH_WINDOW_FRAMES) -> np.ndarray:
    """Forward moving average of an (N, 4) box run, whole-array version of `BoxSmoother`.

    Box i becomes the mean of boxes i..i+window-1; the last boxes, which lack a full
    window, all take the mean of the run's last `window` boxes (the reference's rule).
    """
    values = np.asarray(boxes, dtype=np.float64)
    count = len(values)
    if count == 0:
        return values
    span = min(window, count)
    sums = np.cumsum(np.vstack([np.zeros((1, values.shape[1])), values]), axis=0)
    starts = np.minimum(np.arange(count), count - span)
    return (sums[starts + span] - sums[starts]) / span


@dataclass(frozen=True)
class _Entry(Generic[Item]):
    item: Item
    box: np.ndarray  # (left, top, right, bottom) float64


class BoxSmoother(Generic[Item]):
    """Streaming `smooth_boxes` over runs of boxes; None (no face) ends a run.

    `push` returns the items now ready, in input order, each with its smoothed box
    (or None); `flush` returns the rest. A box that overlaps the previous one by less
    than `same_face_iou` starts a new run, so a cut to another face is never blended.
    """

    def __init__(self, *, window: int = SMOOTH_WINDOW_FRAMES,
                 same_face_iou: float = SAME_FACE_IOU) -> None:
        if window < 1:
            raise BadInput(f"smoothing window must be >= 1 frame, got {window}")
        self.window = window
        self.same_face_iou = same_face_iou
        self._run: list[_Entry[Item]] = []  # the last `window` entries of the current run
        self._pending = 0  # index in _run of the first entry not yet emitted
        self._last: Region | None = None

    def push(self, item: Item, box: Region | None) -> list[tuple[Item, Region | None]]:
        ready: list[tuple[Item, Region | None]] = []
        if box is None:
            ready += self.flush()
            ready.append((item, None))
            return ready
        if self._last is not None and region_iou(self._last, box) < self.same_face_iou:
            ready += self.flush()
        self._last = box
        self._run.append(_Entry(item, np.array(
            [box.left, box.top, box.right, box.bottom], dtype=np.float64)))
        while self._pending + self.window <= len(self._run):
            chunk = self._run[self._pending:self._pending + self.window]
            ready.append((self._run[self._pending].item, _mean_region(chunk)))
            self._pending += 1
        drop = max(0, len(self._run) - self.window)  # keep what the end-of-run rule needs
        del self._run[:drop]
        self._pending -= drop
        return ready

    def flush(self) -> list[tuple[Item, Region | None]]:
        """End the current run: its remaining items share the mean of its last boxes."""
        ready: list[tuple[Item, Region | None]] = []
        if self._pending < len(self._run):
            tail = _mean_region(self._run[-self.window:])
            ready = [(entry.item, tail) for entry in self._run[self._pending:]]
        self._run, self._pending, self._last = [], 0, None
        return ready


def _mean_region(entries: list[_Entry[Item]]) -> Region:
    left, top, right, bottom = np.rint(np.mean([e.box for e in entries], axis=0)).astype(int)
    return Region(left=int(left), top=int(top), right=int(right), bottom=int(bottom))


def crop_face(frame: np.ndarray, region: Region, *, size_px: int) -> np.ndarray:
    """The region stretched to size x size (bilinear, as the checkpoints were trained)."""
    patch = frame[region.top:region.bottom, region.left:region.right]
    if patch.size == 0:
        raise BadInput(f"face region {region} lies outside the {frame.shape[:2]} frame")
    return cv2.resize(patch, (size_px, size_px), interpolation=cv2.INTER_LINEAR)


def blend_mask(
    height: int, width: int, *, feather_px: float | None = None,
    top_fraction: float = DEFAULT_BLEND_TOP_FRACTION,
) -> np.ndarray:
    """Float32 (height, width) weights: 0 at the box edges and above `top_fraction`, 1 inside.

    Each side fades linearly over `feather_px` (default 10% of the shorter side); the
    top fade starts at `top_fraction` of the height, so the eyes keep the original.
    """
    if not 0.0 <= top_fraction < 1.0:
        raise BadInput(f"top_fraction must be in [0, 1), got {top_fraction}")
    feather = float(feather_px if feather_px is not None
                    else DEFAULT_FEATHER_FRACTION * min(height, width))
    feather = max(feather, 1e-6)
    cols = np.arange(width, dtype=np.float32) + 0.5
    rows = np.arange(height, dtype=np.float32) + 0.5
    col_weight = np.clip(np.minimum(cols, width - cols) / feather, 0.0, 1.0)
    top_edge = top_fraction * height
    row_weight = np.clip(np.minimum(rows - top_edge, height - rows) / feather, 0.0, 1.0)
    return np.outer(row_weight, col_weight).astype(np.float32)


def paste_face(
    frame: np.ndarray, face_rgb: np.ndarray, region: Region, *, mask: np.ndarray | None = None,
    top_fraction: float = DEFAULT_BLEND_TOP_FRACTION,
) -> np.ndarray:
    """A copy of `frame` with `face_rgb` (any square size) resized into `region` and blended.

    Pixels outside `region`, and wherever the mask is 0, are bit-identical to the input.
    """
    height, width = region.height, region.width
    resized = cv2.resize(np.asarray(face_rgb, dtype=np.float32), (width, height),
                         interpolation=cv2.INTER_LINEAR)
    weights = mask if mask is not None else blend_mask(height, width, top_fraction=top_fraction)
    if weights.shape != (height, width):
        raise BadInput(f"blend mask {weights.shape} does not match region {(height, width)}")
    out = frame.copy()
    window = out[region.top:region.bottom, region.left:region.right]
    original = window.astype(np.float32)
    blended = original + (resized - original) * weights[:, :, None]
    window[...] = np.clip(np.rint(blended), 0, 255).astype(frame.dtype)
    return out

