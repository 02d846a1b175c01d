"""Where each source instant lands when spans of a clip are slowed (``--fit video``).

A `TimeMap` stretches chosen spans of the source by a factor (1.2 = that span lasts
20 % longer); everywhere else the source plays as it was. It is plain arithmetic on a
piecewise-linear map, so cue timing can plan with it without loading any media code;
`media.slow_motion` applies it to frames and sound.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from likeness.errors import BadInput


@dataclass(frozen=True)
class Stretch:
    """Source span ``[start_s, end_s)`` lasting ``factor`` times as long in the output."""

    start_s: float
    end_s: float
    factor: float


@dataclass(frozen=True)
class TimeMap:
    """Where each source instant lands in the output; disjoint stretches, in order."""

    duration_s: float  # the source's length
    stretches: tuple[Stretch, ...] = ()

    def __post_init__(self) -> None:
        previous = 0.0
        for stretch in self.stretches:
            if stretch.factor < 1.0 or stretch.start_s < previous - 1e-9 \
                    or stretch.end_s <= stretch.start_s or stretch.end_s > self.duration_s + 1e-6:
                raise BadInput(f"invalid picture stretch {stretch} in a {self.duration_s} s source")
            previous = stretch.end_s

    @property
    def identity(self) -> bool:
        return all(abs(s.factor - 1.0) < 1e-9 for s in self.stretches)

    @property
    def output_duration_s(self) -> float:
        return self.to_output(self.duration_s)

    def _knots(self) -> tuple[np.ndarray, np.ndarray]:
        source, output = [0.0], [0.0]
        for stretch in self.stretches:
            output.append(output[-1] + stretch.start_s - source[-1])
            source.append(stretch.start_s)
            output.append(output[-1] + (stretch.end_s - stretch.start_s) * stretch.factor)
            source.append(stretch.end_s)
        output.append(output[-1] + self.duration_s - source[-1])
        source.append(self.duration_s)
        return np.asarray(source), np.asarray(output)

    def to_output(self, source_s: float) -> float:
        """Output time of a source instant (past the end: at the source's own pace)."""
        source, output = self._knots()
        if source_s >= source[-1]:
            return float(output[-1] + source_s - source[-1])
        return float(np.interp(source_s, source, output))

    def to_source(self, output_s: float) -> float:
        """The source instant shown at an output time (the inverse of `to_output`)."""
        source, output = self._knots()
        if output_s >= output[-1]:
            return float(source[-1] + output_s - output[-1])
        return float(np.interp(output_s, output, source))

    def factor_at(self, source_s: float) -> float:
        """How much the span holding a source instant is slowed (1.0: not at all)."""
        return next((s.factor for s in self.stretches if s.start_s <= source_s < s.end_s), 1.0)

    def map_spans(self, spans: Sequence[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
        return tuple((self.to_output(a), self.to_output(b)) for a, b in spans)

    def pieces(self) -> Iterator[tuple[float, float, float]]:
        """The source cut where the pace changes: ``(start_s, end_s, factor)``."""
        source, _ = self._knots()
        for a, b in zip(source[:-1], source[1:], strict=True):
            if b > a:
                yield float(a), float(b), self.factor_at(float(a))
