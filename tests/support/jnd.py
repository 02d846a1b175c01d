"""A pixel-domain JND (just-noticeable difference) map, to measure whether a mark shows.

Benchmark and test support, not product code: the watermark benchmark reports, per
clip, where the mark's luma change exceeds the JND of the unmarked picture.

The model is the standard spatial one, re-implemented from the published formulas:

* Luminance adaptation and the gradient operators, C.-H. Chou and Y.-C. Li, "A
  perceptually tuned subband image coder based on the measure of just-noticeable-
  distortion profile", IEEE Trans. Circuits Syst. Video Technol. 5(6):467-476, 1995:
  the background luminance ``bg`` is a weighted 5x5 mean (centre excluded); the
  visibility threshold of a change on a uniform background is
  ``T0 * (1 - sqrt(bg / 127)) + 3`` for ``bg <= 127`` (T0 = 17) and
  ``gamma * (bg - 127) + 3`` above (gamma = 3/128), in 8-bit levels: 3 levels at
  mid-grey (the least), 20 at black, ~6 at white. The local contrast ``mg`` is the
  largest of four 5x5 directional weighted-average gradients.
* Texture masking and the nonlinear additivity model (NAMM), X. K. Yang et al.,
  "Just noticeable distortion model and its applications in video coding",
  Signal Processing: Image Communication 20(7):662-680, 2005:
  ``T_t = eta * mg * W_e`` with eta = 0.117, where ``W_e`` protects edges (a change on
  a sharp edge shows sooner than in texture): Canny edges, smoothed by a 7x7 Gaussian
  (sigma 0.8), weigh 0.1, everything else 1; and
  ``JND = T_l + T_t - C * min(T_l, T_t)`` with C = 0.3 (the two maskings overlap).

All values are in full-range 8-bit luma levels (the BT.601 luma of RGB frames, as
OpenCV's RGB2GRAY computes it). A pixel is *visible* where |change| > JND.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

T0 = 17.0
GAMMA = 3.0 / 128.0
ETA = 0.117
C_OVERLAP = 0.3
EDGE_WEIGHT = 0.1
CANNY_THRESHOLDS = (50, 100)  # 8-bit levels; Yang et al. do not fix them

_BACKGROUND = np.array([[1, 1, 1, 1, 1],
                        [1, 2, 2, 2, 1],
                        [1, 2, 0, 2, 1],
                        [1, 2, 2, 2, 1],
                        [1, 1, 1, 1, 1]], dtype=np.float32) / 32.0
_GRADIENTS = [np.array(g, dtype=np.float32) / 16.0 for g in (
    [[0, 0, 0, 0, 0], [1, 3, 8, 3, 1], [0, 0, 0, 0, 0], [-1, -3, -8, -3, -1], [0, 0, 0, 0, 0]],
    [[0, 0, 1, 0, 0], [0, 8, 3, 0, 0], [1, 3, 0, -3, -1], [0, 0, -3, -8, 0], [0, 0, -1, 0, 0]],
    [[0, 0, 1, 0, 0], [0, 0, 3, 8, 0], [-1, -3, 0, 3, 1], [0, -8, -3, 0, 0], [0, 0, -1, 0, 0]],
    [[0, 1, 0, -1, 0], [0, 3, 0, -3, 0], [0, 8, 0, -8, 0], [0, 3, 0, -3, 0], [0, 1, 0, -1, 0]],
)]


def luminance_threshold(background: np.ndarray) -> np.ndarray:
    """Chou and Li's visibility threshold on a uniform background of this luminance."""
    bg = background.astype(np.float32)
    dark = T0 * (1.0 - np.sqrt(np.clip(bg, 0.0, 127.0) / 127.0)) + 3.0
    bright = GAMMA * (bg - 127.0) + 3.0
    return np.where(bg <= 127.0, dark, bright).astype(np.float32)


def max_gradient(gray: np.ndarray) -> np.ndarray:
    """Chou and Li's local contrast: the largest |weighted-average gradient| of four
    directions."""
    g = gray.astype(np.float32)
    out = np.zeros_like(g)
    for kernel in _GRADIENTS:
        np.maximum(out, np.abs(cv2.filter2D(g, -1, kernel, borderType=cv2.BORDER_REFLECT)),
                   out=out)
    return out


def edge_weight(gray: np.ndarray) -> np.ndarray:
    """Yang et al.'s edge protection: EDGE_WEIGHT on and next to edges, 1 elsewhere.

    A one-pixel Canny line blurred by the 7x7 Gaussian (sigma 0.8) peaks near 0.4, so
    the blurred map is scaled by 2.5 and clipped to 1 before it lowers the weight."""
    edges = cv2.Canny(np.clip(gray, 0, 255).astype(np.uint8), *CANNY_THRESHOLDS)
    smooth = cv2.GaussianBlur(edges.astype(np.float32) / 255.0, (7, 7), 0.8)
    return (1.0 - (1.0 - EDGE_WEIGHT) * np.clip(2.5 * smooth, 0.0, 1.0)).astype(np.float32)


def jnd_map(gray: np.ndarray) -> np.ndarray:
    """(H, W) JND in 8-bit levels of a full-range luma picture (NAMM of luminance
    adaptation and edge-protected texture masking)."""
    g = gray.astype(np.float32)
    background = cv2.filter2D(g, -1, _BACKGROUND, borderType=cv2.BORDER_REFLECT)
    t_l = luminance_threshold(background)
    t_t = ETA * max_gradient(g) * edge_weight(g)
    return (t_l + t_t - C_OVERLAP * np.minimum(t_l, t_t)).astype(np.float32)


@dataclass(frozen=True)
class Visibility:
    """Where a change exceeds the JND of the picture it was added to."""

    visible_pixel_share: float  # share of all pixels with |change| > JND
    flat_visible_pixel_share: float  # the same within flat 16x16 blocks
    flat_visible_block_share: float  # share of flat blocks holding any such pixel
    flat_blocks: int
    p999_ratio: float  # 99.9th percentile of |change| / JND over all pixels
    max_ratio: float


def luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def visibility(original: np.ndarray, marked: np.ndarray, *, block: int = 16,
               max_flat_sd_levels: float = 1.5) -> Visibility:
    """Compare two RGB frames (or two full-range luma planes): the mark's luma change
    against the JND of the original. Flat blocks are those whose luma s.d. is at most
    `max_flat_sd_levels` (the flat-block PSNR's definition, tests.support.attacks)."""
    ref = luma(original) if original.ndim == 3 else original.astype(np.float32)
    out = luma(marked) if marked.ndim == 3 else marked.astype(np.float32)
    ratio = np.abs(out - ref) / jnd_map(ref)
    over = ratio > 1.0
    h, w = (ref.shape[0] // block) * block, (ref.shape[1] // block) * block

    def blocks(a: np.ndarray) -> np.ndarray:
        return a[:h, :w].reshape(h // block, block, w // block, block)

    flat = blocks(ref).std(axis=(1, 3)) <= max_flat_sd_levels
    over_blocks = blocks(over)
    flat_pixels = over_blocks.transpose(0, 2, 1, 3)[flat]
    n_flat = int(flat.sum())
    return Visibility(
        visible_pixel_share=float(over.mean()),
        flat_visible_pixel_share=float(flat_pixels.mean()) if n_flat else 0.0,
        flat_visible_block_share=float(flat_pixels.any(axis=(1, 2)).mean()) if n_flat else 0.0,
        flat_blocks=n_flat,
        p999_ratio=float(np.quantile(ratio, 0.999)),
        max_ratio=float(ratio.max()))
