"""The result both carriers return, so callers (verify, the ledger) treat them alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WatermarkDetection:
    """What a detector found.

    `render_id` is None when no valid payload was recovered (unmarked media, wrong
    key, or too much damage). `confidence` is 1 minus the chance that the agreement
    seen would arise from random bits (0 when nothing was found); `bit_accuracy` is
    the share of raw bits that matched the decoded codeword and `margin` the
    reliability-weighted agreement in [-1, 1]. `frames_used` counts video frames, or
    for audio the analysis frames that were read. `algorithm` names the scheme version
    that decoded (e.g. ``likeness-dct-ss/2``), so a report can say which one matched.
    """

    render_id: int | None
    confidence: float
    bit_accuracy: float
    margin: float
    frames_used: int
    algorithm: str = ""

    @property
    def found(self) -> bool:
        return self.render_id is not None
