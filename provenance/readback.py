"""Read back, from the encoded file, what the manifest is about to claim.

Why: the manifest and the ledger say "visible label, video mark, audio mark carrying
render R", but each of those passed through the label font, the encoder's
quantisation and the AAC coder before it reached the file. A label text that draws
no ink, an encoder setting that washes out the mark, or an audio mark too weak for a
short clip would each be published as a claim nobody checked (issue 16 C5: the audio
mark was recoverable in 3 of 12 published 3 s clips while every manifest claimed it).
So `publish` decodes a few frames and the audio of the encoded temp file, before the
ledger entry and the rename, and claims only what it read back:

- the label: its glyph pixels must be bright and its shaded box dark in the first
  decoded frames; otherwise the render fails (`ClaimNotMet`), since a studio that
  turned the label on promised one;
- the video mark must decode to the render id from the first `VIDEO_FIRST_FRAMES`
  frames (all `VIDEO_MAX_FRAMES` on a second try); otherwise the render fails -- except
  over a source that already carries this studio's mark (a dub of a published avatar,
  a re-stamp): the current video mark laid over an earlier one decodes to neither
  (measured on the demo's dubbed avatar), so there the mark is published *not
  claimed* (`VIDEO_OVERLAID`), and the source assertion still names the earlier render;
- the audio mark must decode to the render id from the first `AUDIO_MAX_SECONDS`.
  Audio of at least `AUDIO_REQUIRED_S` that does not is a failure; a shorter clip is
  published with the audio mark *not claimed* (`AUDIO_NOT_VERIFIABLE` in the manifest
  and the ledger): the current audio mark is not reliable on short clips, and
  refusing every short render would be worse than saying so (docs/DESIGN.md,
  "Publishing").

Cost: one decode of at most 150 frames (30 in the usual case) and of the first 12 s
of audio, whatever the clip's length (benchmarks in the closing note).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from likeness.errors import BadInput, LikenessError
from media.audio import load_audio
from media.decode import iter_frames
from media.probe import probe
from provenance.label import LabelBurner, LabelSpec
from provenance.watermark.audio import CHECK_SECONDS, AudioWatermarker
from provenance.watermark.audio import MIN_SECONDS as AUDIO_MIN_SECONDS
from provenance.watermark.video import VideoWatermarker

VIDEO_FIRST_FRAMES = 30
VIDEO_MAX_FRAMES = 150
LABEL_FRAMES = (0, 14, 29)  # indices among the first decoded frames
AUDIO_MAX_SECONDS = CHECK_SECONDS  # the audio read back: what publish's choice checked
AUDIO_REQUIRED_S = 10.0  # audio this long must carry a recoverable mark

VIDEO_VERIFIED = AUDIO_VERIFIED = "verified"
VIDEO_OVERLAID = ("not verifiable: embedded over the source's own mark of render {ids}, "
                  "and neither decodes")
AUDIO_NO_TRACK = "not embedded: no audio track"
AUDIO_NOT_VERIFIABLE = ("not verifiable: embedded, but not recovered from the encoded file "
                        "(audio shorter than {required:.0f} s)")

# label read-back: glyph pixels are white (alpha 1), the box alone keeps 45 % of the
# picture below it (8-bit levels, after the encoder)
_INK_MIN_LEVEL = 150
_SHADE_MAX_LEVEL = 150
_MIN_CONTRAST = 60
_MIN_INK_PX = 20


class ClaimNotMet(LikenessError):
    """The encoded file does not carry what its manifest would claim (exit 1): the render
    fails, its reservation is released, nothing is published."""


@dataclass(frozen=True)
class ReadBack:
    """What the encoded file was found to carry; the manifest claims exactly this."""

    visible_label: bool
    video_frames: int  # frames read for the video mark
    audio: str  # AUDIO_VERIFIED, AUDIO_NO_TRACK or an AUDIO_NOT_VERIFIABLE text
    seconds: float
    video: str = VIDEO_VERIFIED  # or a VIDEO_OVERLAID text
    audio_algorithm: str = ""  # the audio scheme that decoded, when the audio is claimed

    @property
    def audio_claimed(self) -> bool:
        return self.audio == AUDIO_VERIFIED

    @property
    def video_claimed(self) -> bool:
        return self.video == VIDEO_VERIFIED


def label_masks(spec: LabelSpec, *, width: int, height: int
                ) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]:
    """The label's box and, inside it, the glyph pixels and the box-only pixels, found by
    burning the label onto black and onto white (no access to the burner's tile)."""
    burner = LabelBurner(spec, width=width, height=height)
    x, y, w, h = burner.box
    on_black = burner.burn(np.zeros((height, width, 3), np.uint8))[y:y + h, x:x + w]
    on_white = burner.burn(np.full((height, width, 3), 255, np.uint8))[y:y + h, x:x + w]
    ink = on_black.min(axis=2) >= 250
    shade = (on_black.max(axis=2) == 0) & (on_white.max(axis=2) <= 120)
    return burner.box, ink, shade


def check_label_draws(spec: LabelSpec, *, width: int = 1280, height: int = 720) -> None:
    """Refuse, before any render, a label text that draws (almost) nothing: zero-width or
    unprintable characters pass a "not empty" check but leave no visible label."""
    if LabelBurner(spec, width=width, height=height).ink_pixels < _MIN_INK_PX:
        raise BadInput(f"label text {spec.text!r} draws no visible characters",
                       hint="set [label] text to readable text, or visible_label = false")


def label_visible(frame: np.ndarray, masks: tuple[tuple[int, int, int, int], np.ndarray,
                                                   np.ndarray]) -> bool:
    """Bright glyphs over a dark box, where the label was burned."""
    (x, y, w, h), ink, shade = masks
    if int(ink.sum()) < _MIN_INK_PX or not shade.any():
        return False
    region = frame[y:y + h, x:x + w].astype(np.float32).mean(axis=2)
    ink_level = float(np.median(region[ink]))
    shade_level = float(np.median(region[shade]))
    return (ink_level >= _INK_MIN_LEVEL and shade_level <= _SHADE_MAX_LEVEL
            and ink_level - shade_level >= _MIN_CONTRAST)


def read_back(encoded: Path, *, render_id: int, key: bytes, label: LabelSpec | None,
              audio_s: float | None, source_marks: tuple[str, ...] = ()) -> ReadBack:
    """Decode what the manifest will claim from ``encoded``; raise `ClaimNotMet` for a
    claim that cannot be made (see the module docstring). ``audio_s`` is how long the
    marked audio was (None: no audio): the muxer may pad it to the picture's length, and
    padding carries no mark, so the encoded track's length does not say how much did.
    ``source_marks``: this studio's render ids found in the source (provenance.sources)."""
    began = time.perf_counter()
    info = probe(encoded)
    head = [f.rgb for f in islice(iter_frames(encoded, info=info), VIDEO_FIRST_FRAMES)]
    if not head:
        raise ClaimNotMet("the encoded file has no frames to read the marks back from")
    visible = False
    if label is not None:
        masks = label_masks(label, width=head[0].shape[1], height=head[0].shape[0])
        picked = [head[i] for i in LABEL_FRAMES if i < len(head)]
        if not all(label_visible(frame, masks) for frame in picked):
            raise ClaimNotMet("the visible label is not in the encoded file",
                              hint="check [label] text and position in config.toml")
        visible = True
    marks = VideoWatermarker(key)
    found = marks.detect(head)
    if found.render_id != render_id:
        del head
        frames = (f.rgb for f in iter_frames(encoded, info=info))
        found = marks.detect(frames, max_frames=VIDEO_MAX_FRAMES)
    video = VIDEO_VERIFIED
    if found.render_id != render_id:
        if not source_marks or found.render_id is not None:
            raise ClaimNotMet(f"the video watermark does not decode to render "
                              f"{render_id:016x} from the encoded file ({found.frames_used} "
                              "frames read)")
        video = VIDEO_OVERLAID.format(ids=", ".join(source_marks))
    audio, audio_algorithm = _audio_state(encoded, render_id=render_id, key=key,
                                          marked_s=audio_s if info.audio is not None else None)
    return ReadBack(visible_label=visible, video_frames=found.frames_used, video=video,
                    audio=audio, audio_algorithm=audio_algorithm,
                    seconds=time.perf_counter() - began)


def _audio_state(encoded: Path, *, render_id: int, key: bytes,
                 marked_s: float | None) -> tuple[str, str]:
    """The audio mark's state and, when verified, the scheme that decoded."""
    if marked_s is None:
        return AUDIO_NO_TRACK, ""
    samples, rate = load_audio(encoded)
    duration = min(marked_s, samples.shape[0] / rate)
    found = None
    if samples.shape[0] >= AUDIO_MIN_SECONDS * rate:
        found = AudioWatermarker(key).detect(samples[: int(rate * AUDIO_MAX_SECONDS)], rate)
    if found is not None and found.render_id == render_id:
        return AUDIO_VERIFIED, found.algorithm
    if duration >= AUDIO_REQUIRED_S:
        raise ClaimNotMet(f"the audio watermark does not decode to render {render_id:016x} "
                          f"from the encoded file ({duration:.1f} s of marked audio)")
    return AUDIO_NOT_VERIFIABLE.format(required=AUDIO_REQUIRED_S), ""
