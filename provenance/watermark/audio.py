"""The audio watermark publish embeds, and the detector that reads every version.

Two schemes exist (docs/watermark.md, "Audio"):

* ``likeness-stft-ss/1`` (provenance.watermark.audio_v1): dither modulation of STFT
  tile-energy differences in time. Survives AAC, MP3, Opus 64k and cuts, but not
  tempo, speed or pitch changes, Opus 24k or 20 dB noise.
* ``likeness-erb-qim/2`` (provenance.watermark.audio_v2): dither modulation of energy
  ratios between neighbouring ERB bands, with sync pairs and a stretch/pitch search.

Publish embeds ``ALGORITHM`` (v2) and checks, on the marked samples, that v2 decodes
the render id from the first `CHECK_SECONDS`; where it does not (v2's ERB-band ratios
find too little to move in some music: 2 of 5 music clips read clean in the 20-clip
grid, v1 4 of 5), it embeds ``FALLBACK`` (v1) instead (`embed_checked`). Why v2 first:
on real speech (10 LibriVox clips) it reads at least as often as v1 after every attack
of the benchmark and also after tempo, speed and pitch changes of 10 % and 5 %, 20 dB
noise and Opus 32k, where v1 reads nothing (docs/watermark.md, "Audio figures, seventh
round"). The manifest names the scheme the read-back decoded. Detection does not
depend on the choice: v2 is tried first and v1 after, so every output ever published
verifies.
"""

from __future__ import annotations

import numpy as np

from likeness.errors import BadInput
from provenance.watermark.audio_v1 import ALGORITHM as V1_ALGORITHM
from provenance.watermark.audio_v1 import MIN_SECONDS as V1_MIN_SECONDS
from provenance.watermark.audio_v1 import AudioWatermarkerV1
from provenance.watermark.audio_v2 import ALGORITHM as V2_ALGORITHM
from provenance.watermark.audio_v2 import MIN_SECONDS as V2_MIN_SECONDS
from provenance.watermark.audio_v2 import AudioWatermarkerV2
from provenance.watermark.detection import WatermarkDetection

ALGORITHM = V2_ALGORITHM
FALLBACK = V1_ALGORITHM
PUBLISHED_ALGORITHMS = (ALGORITHM, FALLBACK)  # what a published file may carry
CHECK_SECONDS = 12.0  # publish's choice and its read-back decode this much (readback)

_EMBEDDERS: dict[str, tuple[type[AudioWatermarkerV1] | type[AudioWatermarkerV2], float]] = {
    V1_ALGORITHM: (AudioWatermarkerV1, V1_MIN_SECONDS),
    V2_ALGORITHM: (AudioWatermarkerV2, V2_MIN_SECONDS),
}
MIN_SECONDS = min(V1_MIN_SECONDS, V2_MIN_SECONDS)
"""Shortest audio a published scheme can mark (publish refuses shorter tracks)."""

NOISE_FLOOR_DBFS = -54.0  # RMS; below typical room tone in recordings
_NOISE_FLOOR = 10 ** (NOISE_FLOOR_DBFS / 20)


def with_noise_floor(samples: np.ndarray, *, render_id: int) -> np.ndarray:
    """Add a faint, seeded noise floor (like room tone) so that digitally silent
    stretches -- common in synthesized speech -- can still carry the audio watermark."""
    rng = np.random.default_rng(render_id)
    floor = rng.standard_normal(samples.shape).astype(np.float32)
    return (samples + floor * _NOISE_FLOOR).astype(np.float32)


class AudioWatermarker:
    """Embeds one scheme (ALGORITHM unless told otherwise) and detects all of them."""

    def __init__(self, key: bytes, *, algorithm: str = ALGORITHM) -> None:
        """`algorithm` picks the embedded scheme; benchmarks compare them with it."""
        entry = _EMBEDDERS.get(algorithm)
        if entry is None:
            raise BadInput(f"unknown audio watermark algorithm {algorithm!r}",
                           hint=f"use one of {', '.join(sorted(_EMBEDDERS))}")
        self.algorithm = algorithm
        self.min_seconds = entry[1]
        self._v1 = AudioWatermarkerV1(key)
        self._v2 = AudioWatermarkerV2(key)
        self._schemes: dict[str, AudioWatermarkerV1 | AudioWatermarkerV2] = {
            V1_ALGORITHM: self._v1, V2_ALGORITHM: self._v2}
        self._embedder = self._schemes[algorithm]

    def embed(self, samples: np.ndarray, sample_rate: int, render_id: int) -> np.ndarray:
        """A marked copy of `samples` (same shape and dtype)."""
        return self._embedder.embed(samples, sample_rate, render_id)

    def embed_checked(self, samples: np.ndarray, sample_rate: int,
                      render_id: int) -> tuple[np.ndarray, str]:
        """Marked samples and the scheme they carry: `ALGORITHM` when it decodes from the
        marked audio itself, else `FALLBACK` where the audio is long enough for it."""
        preferred, fallback = self._schemes[ALGORITHM], self._schemes[FALLBACK]
        marked = preferred.embed(samples, sample_rate, render_id)
        head = marked[: int(CHECK_SECONDS * sample_rate)]
        if (preferred.detect(head, sample_rate).render_id == render_id
                or np.shape(samples)[0] < _EMBEDDERS[FALLBACK][1] * sample_rate):
            return marked, ALGORITHM
        return fallback.embed(samples, sample_rate, render_id), FALLBACK

    def detect(self, samples: np.ndarray, sample_rate: int) -> WatermarkDetection:
        """Decode v2, else v1 (where the audio is long enough for it).

        `render_id` is None when neither version yields a valid payload; `algorithm`
        names the version that decoded.
        """
        found = self._v2.detect(samples, sample_rate)
        if found.found or np.shape(samples)[0] < V1_MIN_SECONDS * sample_rate:
            return found
        return self._v1.detect(samples, sample_rate)
