"""`likeness stamp`: publish an existing video under a consent decision.

The file is decoded once and re-encoded once through the one publish path, so
it gains the label, the watermarks, the C2PA manifest and its ledger entry. Nothing in
a stamp needs RGB: its frames go to publish as the I420 planes they were decoded to
(media.yuv), which saves two colour conversions a frame; only an odd-sized picture,
which 4:2:0 planes cannot hold, goes the RGB way.
The face in it must be the performer's (identity binding) before the gate runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from consent.models import Decision, RenderRequest, Use
from flows.context import RenderContext
from flows.faces import find_faces
from flows.stages import StageClock
from likeness.errors import BadInput, ConsentDenied
from media.audio import AudioTrack, load_audio
from media.decode import even_sized, iter_frames, iter_lazy_frames
from media.pipeline import prefetch
from media.probe import probe
from media.yuv import Yuv420
from models import registry
from provenance.c2pa import C2paAction
from provenance.publish import (
    PublishReceipt,
    Rendered,
    check_destination,
    check_watermarkable,
    publish,
)


def stamp_file(ctx: RenderContext, *, source: Path, performer_id: str, uses: list[Use],
               language: str | None, production: str | None, out: Path,
               territory: str | None = None, face_engine: str = "dlib",
               on_frame: Callable[[int], None] | None = None,
               clock: StageClock | None = None) -> tuple[Decision, PublishReceipt]:
    """``on_frame(total_frames)`` is called once per frame published (progress display);
    ``clock`` collects seconds per stage (faces, consent, audio, publish) for `--json`."""
    clock = StageClock() if clock is None else clock
    out = check_destination(out)  # before the gate takes a render from the budget
    if out.resolve() == source.resolve():
        raise BadInput(f"the output would overwrite the input {source}")
    info = probe(source)
    video = info.require_video()
    check_watermarkable(info)
    engine = registry.get("face", face_engine, models_dir=ctx.settings.models_dir,
                          policy=ctx.settings.engine_policy)
    with clock.stage("faces"):
        faces = find_faces(engine, source)  # every face is published as the performer's
    with clock.stage("consent"):
        decision = ctx.authorize(RenderRequest(
            performer_id=performer_id, uses=tuple(uses), language=language,
            production=production, territory=territory, face_tracks=faces.evidence(),
            face_scope="every_face",
            purpose=f"stamp {source.name}"))
    if not decision.allowed:
        raise ConsentDenied(f"consent denied for {performer_id} "
                            f"({len(decision.reasons)} reason(s))",
                            reasons=list(decision.reasons))
    audio = None
    if info.audio is not None:
        with clock.stage("audio"):
            samples, rate = load_audio(source)
        audio = AudioTrack(samples, rate)
    source_type = ("trainedAlgorithmicMedia" if set(uses) == {Use.AVATAR}
                   else "compositeWithTrainedAlgorithmicMedia")
    total = video.frame_count or 0

    def pictures() -> Iterator[np.ndarray | Yuv420]:
        if even_sized(video):
            for lazy in iter_lazy_frames(source, info=info, cfr_fps=video.avg_fps):
                yield lazy.yuv420()
        else:
            for decoded in iter_frames(source, info=info, cfr_fps=video.avg_fps):
                yield decoded.rgb

    def frames() -> Iterator[np.ndarray | Yuv420]:
        for picture in prefetch(pictures(), name="likeness-decode"):  # the decoder runs ahead
            if on_frame is not None:
                on_frame(total)
            yield picture

    rendered = Rendered(
        frames=frames(),
        fps=video.avg_rate if hasattr(video, "avg_rate") else video.avg_fps, audio=audio,
        title=out.name, source_type=source_type, source=source,
        actions=(C2paAction(action="c2pa.edited", parameters={
            "description": "published by Likeness under a signed likeness grant"}),),
        engines=(f"face:{engine.name}",))
    with clock.stage("publish"):
        receipt = publish(rendered, decision, ctx=ctx.publish, out=out)
    return decision, receipt
