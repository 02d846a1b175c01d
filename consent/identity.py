"""Identity binding: is the face a render alters the performer's face?

The gate compares every face embedding found in the source with the performer's
reference embeddings (Euclidean distance, dlib 128-D by default). The threshold is
calibrated in docs/identity-threshold.md; it is a studio setting, not a constant
hidden here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_IDENTITY_THRESHOLD = 0.35  # dlib 128-D Euclidean; see docs/identity-threshold.md


@dataclass(frozen=True)
class IdentityMatch:
    matched: bool
    best_distance: float | None
    reason: str | None


def match_identity(found: Sequence[Sequence[float]], references: Sequence[np.ndarray], *,
                   threshold: float) -> IdentityMatch:
    """Every face found must be within ``threshold`` of some reference face."""
    if not found:
        return IdentityMatch(True, None, None)
    if not references:
        return IdentityMatch(False, None, "performer has no reference face to match against")
    refs = np.stack([np.asarray(r, dtype=np.float32) for r in references])
    worst = 0.0
    for vec in found:
        v = np.asarray(vec, dtype=np.float32)
        if v.shape != refs.shape[1:]:
            return IdentityMatch(False, None,
                                 f"face embedding has {v.shape[0]} dimensions, "
                                 f"references have {refs.shape[1]}")
        worst = max(worst, float(np.min(np.linalg.norm(refs - v, axis=1))))
    if worst > threshold:
        return IdentityMatch(False, worst,
                             f"identity mismatch: face distance {worst:.3f} exceeds "
                             f"threshold {threshold:.3f}")
    return IdentityMatch(True, worst, None)
