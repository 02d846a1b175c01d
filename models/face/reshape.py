"""Move a face's landmarks to new places in one frame and blend the change back in.

Lip-sync (a mouth shape from speech) and reenactment (a driver's expression) differ
only in where they send the landmarks. What follows is the same for both, so it is
written once: warp the region inside the layout's fixed ring, paint the mouth interior
where the mouth opens wider than the source shows, and feather the warped crop back
into the frame so the ring's edge never shows. Only the ring's bounding box is
touched; every pixel outside it is returned unchanged.
"""

from __future__ import annotations

import numpy as np

from models.face.mouth_interior import (
    mean_lip_rgb,
    mouth_gap_iod,
    paint_interior,
    paint_strength,
    steady_lip_rgb,
)
from models.face.warp import (
    FaceFrame,
    WarpLayout,
    control_points,
    crop_box,
    feathered_hull_mask,
    ring_points,
    warp_region,
)


def reshape_face(
    frame: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    *,
    axes: FaceFrame,
    layout: WarpLayout,
    feather_iod: float,
    target_gap_iod: float | None,
    lip_rgb: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """`frame` with the landmarks at `source` moved to `target` (68x2 image pixels each).

    `target_gap_iod` is the inner-lip opening the new mouth should show (face units),
    or None to leave the interior unpainted; `lip_rgb` is the lip colour carried from
    the previous frame. Returns the new frame and the lip colour to carry on, or None
    when the ring lies outside the frame.
    """
    ring = ring_points(source, kind=layout.kind, margin=layout.margin)
    box = crop_box(ring, shape=frame.shape)
    if box.empty:
        return None
    offset = box.offset
    crop = frame[box.top:box.bottom, box.left:box.right]
    src = control_points(source, ring, layout) - offset
    dst = control_points(target, ring, layout) - offset
    warped, _ = warp_region(crop, src, dst, layout.triangles)
    lip = steady_lip_rgb(mean_lip_rgb(crop, source - offset), lip_rgb)
    if target_gap_iod is not None:
        strength = paint_strength(source_gap_iod=mouth_gap_iod(axes.to_local(source)),
                                  target_gap_iod=target_gap_iod)
        paint_interior(warped, target - offset, frame=axes, strength=strength, lip_rgb=lip)
    alpha = feathered_hull_mask(ring - offset, shape=crop.shape[:2],
                                feather_px=feather_iod * axes.iod_px)
    region = crop.astype(np.float32)
    blended = region + (warped.astype(np.float32) - region) * alpha[:, :, None]
    out = frame.copy()
    out[box.top:box.bottom, box.left:box.right] = np.clip(np.rint(blended), 0, 255).astype(
        np.uint8)
    return out, lip
