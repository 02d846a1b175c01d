"""Paste a chosen bank mouth into a frame: warp to the pose and shape, match colour, feather.

Per frame: (1) the tracked landmarks get the chosen entry's lips, hung from this frame's
upper lip (the upper lip rides on the skull, the lower lip and jaw move) and centred
between its mouth corners, then nudged the rest of the way to the exact target opening
(the width is left as selection found it: stretching the lips across a fixed ring read
back worse on real footage, mouth SSIM 0.783 -> 0.790 and LMD 0.0411 -> 0.0402 without);
(2) the lower face of the frame is warped so jaw and cheeks follow (the
viseme engine's warp, no painted interior); (3) the entry's canonical crop is mapped
onto the frame by a piecewise-affine warp whose triangles join its own lips to the new
lips and a fixed ellipse around the mouth, which moves with the head; (4) its colour is
matched to the frame on the skin around the lips (gain and offset per channel, smoothed
over time so lighting never flickers); (5) it is blended with a feathered elliptical
mask. A jump to a non-consecutive entry is cross-faded with the previous frame's patch.
Pixels outside the ellipse's box are the warped frame's, which is itself untouched
outside the viseme ring.

Where the bank has no mouth close enough, `fallback_frame` runs the viseme warp and
fills the new opening with the footage's most open real mouth (teeth and tongue,
not a painted cavity), masked to the inner lips.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from likeness.errors import BadInput
from models.face.landmarks import (
    LOWER_LIP,
    MOUTH,
    MOUTH_INNER,
    MOUTH_OUTER,
    UPPER_OUTER_MIDDLE,
)
from models.face.mouth_interior import mouth_gap_iod
from models.face.reshape import reshape_face
from models.face.warp import (
    MEAN_FACE_IOD,
    FaceFrame,
    control_points,
    crop_box,
    face_frame,
    ring_points,
    untangle_mouth,
    warp_layout,
)
from models.lipsync.footage.bank import MouthBank, local_to_canonical
from models.lipsync.footage.coarse_warp import feathered_hull, warp_image, warp_moving
from models.lipsync.mouth import MouthShape
from models.lipsync.viseme import JAW_WEIGHTS, VisemeSettings, articulate

RING_RADII_IOD = (0.66, 0.5)  # the fixed ellipse around the mouth centre
RING_POINTS = 16
MASK_SHARE = 0.8  # the blend mask is the ellipse shrunk by this much
FEATHER_IOD = 0.1
MASK_STEP = 4
MAX_RESIDUAL_GAP_IOD = 0.06
COLOUR_RATE = 0.35  # exponential average of the colour gains and offsets per frame
# An offset alone read better (dub identity max 0.383 against 0.401, self-reconstruction
# SSIM 0.794 against 0.789) but left the pasted interior flatter than the footage's own
# (open frames with at least half the real interior variance: 0.29 against 0.78), as the
# crop, resampled twice, is softer than the frame: the gain restores its contrast.
# The gain never goes below 1: the resampled crop is already softer than the frame, and
# a host whose skin around the lips is flatter than the entry's (0.79 on the Pexels dub's
# smiles) flattened the pasted teeth with it: open frames at half the real interior
# variance or more 0.76 -> 0.97 of the lip-synced ones with the floor at 1.
GAIN_RANGE = (1.0, 1.35)
CROSSFADE = 0.4  # share of the previous patch kept on a jump
JAW_FOLLOW = 0.8
# Closing the frame's own mouth raises the jaw less: the face's shape is much of who it
# looks like, and a laughing source closed with the jaw at 0.8 read 0.415 from itself in
# dlib's identity space, at 0.3 about 0.37 (the lips close over a jaw still dropped).
JAW_FOLLOW_CLOSING = 0.3
DEFAULT_VISEME = VisemeSettings()
_ANCHOR = [index - MOUTH.start for index in UPPER_OUTER_MIDDLE]
_LOWER = [index - MOUTH.start for index in LOWER_LIP]
_CORNERS = [0, 6]  # 48 and 54, the outer mouth corners
_OUTER = slice(MOUTH_OUTER.start - MOUTH.start, MOUTH_OUTER.stop - MOUTH.start)
_INNER = slice(MOUTH_INNER.start - MOUTH.start, MOUTH_INNER.stop - MOUTH.start)


def _ellipse() -> np.ndarray:
    angles = np.linspace(0.0, 2 * np.pi, RING_POINTS, endpoint=False)
    return np.stack([RING_RADII_IOD[0] * np.cos(angles),
                     RING_RADII_IOD[1] * np.sin(angles)], axis=1).astype(np.float32)


@functools.cache
def _triangles() -> np.ndarray:
    """Fixed topology over 20 lip points + the ellipse, from the mean face, mouth open."""
    mouth = MEAN_FACE_IOD[MOUTH].copy()
    mouth[_LOWER, 1] += 0.12
    points = np.vstack([mouth, mouth.mean(axis=0) + _ellipse()])
    triangles = Delaunay(points.astype(np.float64)).simplices.astype(np.int32)
    triangles.setflags(write=False)
    return triangles


def _feathered_polygon(points: np.ndarray, *, shape: tuple[int, int],
                       feather_px: float) -> np.ndarray:
    hard = np.zeros(shape, np.float32)
    cv2.fillPoly(hard, [np.round(points * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA,
                 shift=4)
    if feather_px <= 0:
        return hard
    # A feather this soft has no detail finer than a few pixels: shape it at a quarter
    # of the size (16x fewer pixels to erode and blur) and scale it back up.
    step = MASK_STEP if feather_px >= 4 * MASK_STEP else 1
    small = hard if step == 1 else cv2.resize(
        hard, (max(1, shape[1] // step), max(1, shape[0] // step)), interpolation=cv2.INTER_AREA)
    radius = max(1, round(feather_px / 2 / step))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    soft = cv2.GaussianBlur(cv2.erode(small, kernel), (0, 0), sigmaX=feather_px / 2.5 / step)
    if step == 1:
        return soft
    return cv2.resize(soft, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def _blended(region: np.ndarray, other: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``clip(rint(region + (other - region) * alpha), 0, 255)`` as uint8, for float32
    ``region`` and ``other`` and an H x W float32 ``alpha``.

    The same float32 arithmetic as that NumPy expression, bit for bit, in OpenCV's
    passes (its rounding, saturating conversion replaces rint, clip and astype): ~3.5x
    faster on the lower face's ~0.3 Mpx box at 720p. Negatives are zeroed first, as the
    conversion takes absolute values (a colour-matched patch can go below 0)."""
    change = cv2.subtract(other, region)
    cv2.multiply(change, cv2.merge([alpha, alpha, alpha]), dst=change)
    cv2.add(region, change, dst=change)
    np.maximum(change, 0.0, out=change)
    return cv2.convertScaleAbs(change)


def _per_channel(image: np.ndarray, gain: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """``image * gain + offset`` with one gain and offset per channel, channel by channel:
    the same values and type as NumPy's broadcast, ~3x faster on a mouth patch (a
    broadcast over a last axis of 3 runs inner loops 3 long)."""
    out = np.empty(image.shape, np.result_type(image, gain, offset))
    for channel in range(image.shape[2]):
        np.multiply(image[:, :, channel], gain[channel], out=out[:, :, channel])
        out[:, :, channel] += offset[channel]
    return out


@dataclass
class _Patch:
    left: int
    top: int
    pixels: np.ndarray


class FootageSynth:
    """Composites bank mouths frame after frame, carrying colour and the last patch."""

    def __init__(self, bank: MouthBank, *, viseme: VisemeSettings = DEFAULT_VISEME) -> None:
        self.bank = bank
        self.viseme = viseme
        self.layout = warp_layout("lower", viseme.ring_margin)
        self._gain: np.ndarray | None = None
        self._offset: np.ndarray | None = None
        self._last: _Patch | None = None

    def state(self) -> tuple[np.ndarray | None, np.ndarray | None, _Patch | None]:
        """The carried colour and patch, for `restore` before a paste is redone."""
        return self._gain, self._offset, self._last

    def restore(self, state: tuple[np.ndarray | None, np.ndarray | None, _Patch | None]
                ) -> None:
        self._gain, self._offset, self._last = state

    def reset(self) -> None:
        """Forget colour and patch (a scene cut or a lost face)."""
        self._gain = self._offset = None
        self._last = None

    def bank_frame(self, frame: np.ndarray, landmarks: np.ndarray, entry: int, *,
                   target_gap: float, jumped: bool) -> np.ndarray | None:
        """`frame` with bank entry `entry`'s mouth, shaped to the target; None if unusable."""
        try:
            axes = face_frame(landmarks)
        except BadInput:
            return None
        source = untangle_mouth(landmarks, frame=axes)
        local = axes.to_local(source)
        bank = self.bank
        mouth = bank.mouths[entry].astype(np.float64).copy()
        # Horizontally the entry is centred between this frame's mouth corners, which
        # follow a smile or a turned head better than the middle of the upper lip does.
        # Vertically it hangs from this frame's upper lip (it rides on the skull) and,
        # when the paste opens the mouth, from the corners too: a closed upper lip is
        # fitted less surely than its corners, and on a head pitched down it sat low
        # enough to carry the whole opened mouth down with it (self-reconstruction LMD
        # 0.0556 -> 0.0364 eye distances on the Pexels clip).
        host = local[MOUTH]
        hang = _ANCHOR + _CORNERS if target_gap > mouth_gap_iod(local) else _ANCHOR
        shift = np.array([host[_CORNERS, 0].mean() - mouth[_CORNERS, 0].mean(),
                          host[hang, 1].mean() - mouth[hang, 1].mean()])
        mouth += shift
        residual = float(np.clip(target_gap - bank.gap[entry], -MAX_RESIDUAL_GAP_IOD,
                                 MAX_RESIDUAL_GAP_IOD))
        mouth[_LOWER, 1] += residual
        target_local = self._with_mouth(local, mouth)
        target = axes.to_image(target_local.astype(np.float32))
        # The lips the crop shows, in its canonical pixels, and where they must go.
        src_local = bank.mouths[entry]
        ring = _ellipse() + src_local.mean(axis=0)
        src_points = local_to_canonical(np.vstack([src_local, ring]))
        dst_local = np.vstack([mouth, ring + shift]).astype(np.float32)
        return self._paste(frame, source, target, axes, bank.crops[entry], src_points,
                           dst_local, jumped=jumped, interior_only=False)

    def fallback_frame(self, frame: np.ndarray, landmarks: np.ndarray,
                       shape: MouthShape) -> np.ndarray | None:
        """The viseme articulation, filled with the footage's most open real mouth."""
        try:
            axes = face_frame(landmarks)
        except BadInput:
            return None
        source = untangle_mouth(landmarks, frame=axes)
        target = articulate(source, shape, frame=axes, settings=self.viseme)
        if self.bank.size == 0:
            result = reshape_face(frame, source, target, axes=axes, layout=self.layout,
                                  feather_iod=self.viseme.feather_iod,
                                  target_gap_iod=shape.opening * self.viseme.max_opening_iod,
                                  lip_rgb=None)
            return None if result is None else result[0]
        entry = self.bank.most_open()
        src_local = self.bank.mouths[entry]
        ring = _ellipse() + src_local.mean(axis=0)
        target_mouth = axes.to_local(target)[MOUTH]
        shift = target_mouth.mean(axis=0) - src_local.mean(axis=0)
        src_points = local_to_canonical(np.vstack([src_local, ring]))
        dst_local = np.vstack([target_mouth, ring + shift]).astype(np.float32)
        return self._paste(frame, source, target, axes, self.bank.crops[entry], src_points,
                           dst_local, jumped=False, interior_only=True)

    def _with_mouth(self, local: np.ndarray, mouth: np.ndarray) -> np.ndarray:
        out = local.astype(np.float64).copy()
        drop = mouth[_LOWER, 1].mean() - out[LOWER_LIP, 1].mean()
        out[MOUTH] = mouth
        follow = JAW_FOLLOW if drop >= 0 else JAW_FOLLOW_CLOSING
        for index, weight in JAW_WEIGHTS.items():
            out[index, 1] += weight * follow * drop
        return out

    def _paste(self, frame: np.ndarray, source: np.ndarray, target: np.ndarray,
               axes: FaceFrame, crop: np.ndarray, src_points: np.ndarray,
               dst_local: np.ndarray, *, jumped: bool, interior_only: bool) -> np.ndarray | None:
        base = self._lower_face(frame, source, target, axes)
        if base is None:
            return None
        dst_points = axes.to_image(dst_local)
        box = crop_box(dst_points, shape=frame.shape, pad_px=1)
        if box.empty:
            return base
        # Beyond the ring the crop follows the ring's own similarity (the mask is 0 there).
        ring_fit, *_ = np.linalg.lstsq(
            np.hstack([dst_points[20:], np.ones((len(dst_points) - 20, 1))]).astype(np.float64),
            src_points[20:].astype(np.float64), rcond=None)
        patch = warp_image(crop, src_points, dst_points, _triangles(), box=box,
                           outside=ring_fit.T)
        left, top = box.left, box.top
        height, width = patch.shape[:2]
        region = base[top:top + height, left:left + width].astype(np.float32)
        offset = np.array([left, top], np.float32)
        feather = FEATHER_IOD * axes.iod_px
        if interior_only:
            mask = _feathered_polygon(target[MOUTH_INNER] - offset, shape=(height, width),
                                      feather_px=0.03 * axes.iod_px)
        else:
            ring = dst_points[20:]
            centre = ring.mean(axis=0)
            mask = _feathered_polygon(centre + (ring - centre) * MASK_SHARE - offset,
                                      shape=(height, width), feather_px=feather)
        pixels = self._colour_matched(patch.astype(np.float32), region, mask,
                                      target[MOUTH_OUTER] - offset)
        if jumped and self._last is not None and (self._last.left, self._last.top,
                                                  *self._last.pixels.shape) == (
                                                      left, top, *pixels.shape):
            pixels = (1.0 - CROSSFADE) * pixels + CROSSFADE * self._last.pixels
        if not interior_only:
            self._last = _Patch(left, top, pixels)
        pixels = np.asarray(pixels, np.float32)  # float32 already (crop, gains, offsets)
        base[top:top + height, left:left + width] = _blended(region, pixels, mask)
        return base

    def _lower_face(self, frame: np.ndarray, source: np.ndarray, target: np.ndarray,
                    axes: FaceFrame) -> np.ndarray | None:
        """A copy of `frame` with the lower face moved from `source` to `target` landmarks
        (the viseme warp without a painted interior: the patch covers the mouth), from a
        coarse map; None when the ring lies outside the frame."""
        ring = ring_points(source, kind=self.layout.kind, margin=self.layout.margin)
        box = crop_box(ring, shape=frame.shape)
        if box.empty:
            return None
        moved, warped = warp_moving(frame, control_points(source, ring, self.layout),
                                    control_points(target, ring, self.layout),
                                    self.layout.triangles, box=box)
        out = frame.copy()
        if moved.empty:  # nothing moves: the blend would give the frame's own pixels
            return out
        # The hull is feathered over the whole box (its blur sees the box's edges), then
        # blended only where the warp moved pixels: elsewhere it is the frame's own.
        alpha = feathered_hull(ring, box=box,
                               feather_px=self.viseme.feather_iod * axes.iod_px)
        region = out[moved.top:moved.bottom, moved.left:moved.right]
        region[...] = _blended(region.astype(np.float32), warped.astype(np.float32),
                               alpha[moved.top - box.top:moved.bottom - box.top,
                                     moved.left - box.left:moved.right - box.left])
        return out

    def _colour_matched(self, patch: np.ndarray, region: np.ndarray, mask: np.ndarray,
                        lips: np.ndarray) -> np.ndarray:
        """The patch with the skin around the lips brought to the frame's colour."""
        skin = (mask > 0.25)
        lip_mask = np.zeros(mask.shape, np.uint8)
        centre = lips.mean(axis=0)
        cv2.fillPoly(lip_mask, [np.round(centre + (lips - centre) * 1.2).astype(np.int32)], 1)
        skin &= ~lip_mask.astype(bool)
        if int(skin.sum()) < 20:
            return patch
        sparse = skin[::2, ::2]  # every other pixel: the same statistics, 4x cheaper
        ours, theirs = patch[::2, ::2][sparse], region[::2, ::2][sparse]
        gain = np.clip(theirs.std(axis=0) / np.maximum(ours.std(axis=0), 1.0), *GAIN_RANGE)
        offset = theirs.mean(axis=0) - gain * ours.mean(axis=0)
        if self._gain is None or self._offset is None:
            self._gain, self._offset = gain, offset
        else:
            self._gain = self._gain + COLOUR_RATE * (gain - self._gain)
            self._offset = self._offset + COLOUR_RATE * (offset - self._offset)
        return _per_channel(patch, self._gain, self._offset)
