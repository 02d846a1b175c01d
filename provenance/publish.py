"""The one publish path: the only code that writes a rendered file to its destination.

``publish`` takes a render as a stream of frames (+ audio) and a consent decision,
and in this order:
1. refuses unless the decision is allowed and carries a render id;
2. re-checks the grants (revocation, validity) -- a revocation registered after
   the decision stops the render; reads what the source already carries (its C2PA
   manifest, the studio's earlier watermark) so the new manifest keeps it (in a thread
   beside step 3: it decodes the source's first seconds and searches them for marks,
   which would otherwise wait in line before the encode);
3. burns the visible label, embeds the invisible video and audio watermark
   carrying the 64-bit render id, and encodes once into a temp file in the
   destination folder; then reads back from that encoded file what the manifest will
   claim (the label, both marks: provenance.readback) -- a claim that cannot be met
   fails the render, and a short clip's audio mark that does not read back is not
   claimed;
4. appends the `render_published` ledger entry (after checking revocation again
   inside the same database transaction, so no revocation can slip in between)
   and signs a tree head, which gives the inclusion proof;
5. signs the C2PA manifest (consent decision and the grants as the performer signed
   them, ledger proof, watermark and source assertions) and keeps a copy of the
   manifest store for the soft-binding resolver (provenance.c2pa.store);
6. fsyncs and atomically renames the signed file onto the destination.
Any failure removes the temp files, leaves nothing at the destination and logs
`render_failed` with the stage and the reason. No flow, command or test helper
writes outputs another way (tests/provenance/test_publish_invariant.py checks).

It lives in `provenance`, not `flows`: it orchestrates no tasks, and what it uses
(consent's re-check, media encoding, the marks, the ledger, C2PA) is what
provenance may depend on. What it needs from the studio comes as one concrete,
frozen `PublishContext` that the studio builds (as sigstore's ``SigningContext``
bundles what signing needs), not as a view of the studio's settings.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from consent.embedded import evidence_from_registry
from consent.gate import recheck_consent
from consent.models import Decision
from consent.registry import Registry
from consent.signing import SigningKey
from likeness.errors import BadInput, ConsentDenied, LikenessError
from media.audio import AudioTrack
from media.digest import sha256_file
from media.encode import VideoWriter
from media.pipeline import prefetch
from media.probe import MediaInfo
from media.yuv import Yuv420
from provenance.c2pa import (
    WATERMARK_ACTION,
    C2paAction,
    C2paIngredientSpec,
    C2paManifestSpec,
    DigitalSourceType,
    GrantsAssertion,
    LikenessAssertions,
    SourceAssertion,
    sign_media,
)
from provenance.c2pa.assertions import DEFAULT_NAMESPACE
from provenance.c2pa.certs import ROOT_CERT_NAME, ensure_chain
from provenance.c2pa.store import save_store
from provenance.label import LabelBurner, LabelSpec
from provenance.ledger.log import InclusionProof, SignedTreeHead, inclusion_proof, sign_tree_head
from provenance.ledger.store import Ledger, LedgerEntry
from provenance.leftovers import (
    JOURNAL_SUBDIR,
    begin_publish,
    end_publish,
    remove,
    settle_interrupted,
    stale_leftovers,
    stale_publishes,
    temp_paths,
)
from provenance.readback import ReadBack, check_label_draws, read_back
from provenance.sources import inspect_source
from provenance.watermark.audio import MIN_SECONDS as AUDIO_MIN_SECONDS
from provenance.watermark.audio import AudioWatermarker, with_noise_floor
from provenance.watermark.video import ALGORITHM as VIDEO_ALGORITHM
from provenance.watermark.video import VideoWatermarker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishContext:
    """Everything publishing needs from the studio, as values the studio builds once.

    Concrete on purpose: `publish` reads these fields and nothing else, so a caller
    cannot hand it a half-configured studio, and it never re-reads settings. The
    secrets stay out of the repr.
    """

    studio_name: str
    signing_key: SigningKey = field(repr=False)  # signs the ledger's tree heads
    watermark_key: bytes = field(repr=False)
    ledger: Ledger
    session: Callable[[], AbstractContextManager[Session]]  # one transaction per call
    c2pa_dir: Path  # the studio's C2PA certificate chain (created there if missing)
    label: LabelSpec | None  # the visible label, or None when the studio turned it off
    assertion_namespace: str = DEFAULT_NAMESPACE  # reverse domain of the custom labels
    tsa_url: str | None = None  # RFC 3161 time-stamp authority; None: no time-stamp

    @property
    def journal(self) -> Path:
        """Where publishes in flight note their render (provenance.leftovers): the studio
        home, beside the C2PA chain, so a publish into any folder is settled later."""
        return self.c2pa_dir.parent / JOURNAL_SUBDIR

    def __post_init__(self) -> None:
        """The studio builds this before the gate: a label that would draw nothing is
        refused here, not claimed as ``visible_label: true`` after a render was taken."""
        if self.label is not None:
            check_label_draws(self.label)


@dataclass(frozen=True)
class Rendered:
    """A finished render, not yet published: frames and audio as streams.

    A frame is an (h, w, 3) uint8 RGB array, or a `Yuv420` picture when the render never
    needed RGB (a stamp): it is labelled, marked and encoded in those planes."""

    frames: Iterable[np.ndarray | Yuv420]
    fps: float | Fraction
    audio: AudioTrack | None
    title: str
    source_type: DigitalSourceType
    source: Path | None = None  # the ingredient (the footage that was altered)
    actions: tuple[C2paAction, ...] = ()
    engines: tuple[str, ...] = ()


@dataclass(frozen=True)
class PublishReceipt:
    out: Path
    render_id: str
    decision_id: str
    grant_ids: tuple[str, ...]
    ledger_seq: int
    entry_hash: str
    tree_size: int
    root_hash: str
    frames: int
    content_sha256: str
    label: bool
    audio_watermark: str  # what the read-back found (provenance.readback)
    stages_ms: dict[str, float] = field(default_factory=dict)


class PublishFailed(LikenessError):
    """Wraps an unexpected error with the stage it happened in (exit 1)."""


def check_watermarkable(info: MediaInfo) -> None:
    """Refuse, before the gate, media whose audio is too short to carry the audio mark."""
    audio = info.audio
    if audio is not None and 0 < (audio.duration_s or 0.0) < AUDIO_MIN_SECONDS:
        raise BadInput(f"{info.path.name}: its audio lasts {audio.duration_s:.2f} s; the audio "
                       f"watermark needs at least {AUDIO_MIN_SECONDS:.2f} s",
                       hint="use a longer clip, or remove its audio track")


def check_destination(out: Path) -> Path:
    """Refuse a destination we could never publish to (before any render work)."""
    out = out.absolute()
    if out.suffix.lower() != ".mp4":
        raise BadInput(f"output {out} must be an .mp4 file")
    if not out.parent.is_dir():
        raise BadInput(f"output folder {out.parent} does not exist")
    if out.is_dir():
        raise BadInput(f"output {out} is a folder")
    _check_writable(out.parent)
    return out


def _check_writable(folder: Path) -> None:
    """Create and remove a probe file: the only test that holds for root, read-only mounts
    and ACLs alike (``os.access`` does not)."""
    try:
        fd, probe_path = tempfile.mkstemp(dir=folder, prefix=".likeness-probe-")
    except OSError as exc:
        raise BadInput(f"output folder {folder} is not writable: "
                       f"{exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(probe_path)


def mark_frames(frames: Iterable[np.ndarray | Yuv420], *, label: LabelSpec | None,
                watermarker: VideoWatermarker, render_id: int,
                spent: dict[str, float] | None = None) -> Iterator[np.ndarray | Yuv420]:
    """Label first, then watermark: the label's pixels carry the watermark too. Every
    picture is labelled in its I420 planes and marked in its luma: a stamp's arrive as
    I420, a dub's RGB frames are converted here (`Yuv420.from_rgb`) so the encoder gets
    its own layout and no RGB frame is touched twice; only an odd-sized RGB frame, which
    I420 cannot hold, is labelled and marked in RGB (the encoder pads or crops it).

    ``spent`` collects seconds per step (``frames_in`` is the wait for the render's own
    frames: decode, tracking, lip-sync), for the per-stage table of the benchmarks."""
    spent = {} if spent is None else spent
    burner: LabelBurner | None = None
    source = iter(frames)
    index = 0
    while True:
        began = time.perf_counter()
        frame = next(source, None)
        got = time.perf_counter()
        _add(spent, "frames_in", got - began)
        if frame is None:
            return
        width, height = ((frame.width, frame.height) if isinstance(frame, Yuv420)
                         else (frame.shape[1], frame.shape[0]))
        if label is not None and burner is None:
            burner = LabelBurner(label, width=width, height=height)
        marked: np.ndarray | Yuv420
        converted = False
        if not isinstance(frame, Yuv420) and not (width % 2 or height % 2):
            frame = Yuv420.from_rgb(frame)  # the dub's frames: marked in the planes too
            converted = True
            converted_at = time.perf_counter()
            _add(spent, "to_i420", converted_at - got)  # the encoder's swscale, moved here
            got = converted_at
        if isinstance(frame, Yuv420):
            owned = converted or burner is not None  # publish's own copy, free to edit
            if burner is not None:  # publish's own conversion is blended where it lies
                frame = burner.burn_yuv(frame, copy=not converted)
            labelled = time.perf_counter()
            marked_y = watermarker.embed_luma(frame.y, render_id, index)
            if owned:  # one copy of the picture a frame, not two (the caller's is kept)
                frame.y[...] = marked_y
                marked = frame
            else:
                marked = frame.with_luma(marked_y)
        else:
            if burner is not None:
                frame = burner.burn(frame)
            labelled = time.perf_counter()
            marked = watermarker.embed_frame(frame, render_id, index)
        _add(spent, "label", labelled - got)
        _add(spent, "watermark_video", time.perf_counter() - labelled)
        index += 1
        yield marked


def _add(spent: dict[str, float], step: str, seconds: float) -> None:
    spent[step] = spent.get(step, 0.0) + seconds


def encode_marked(rendered: Rendered, tmp: Path, *, label: LabelSpec | None,
                  key: bytes, render_id: int, spent: dict[str, float] | None = None) -> int:
    spent = {} if spent is None else spent
    audio = rendered.audio
    began = time.perf_counter()
    if audio is not None:
        floored = with_noise_floor(audio.samples, render_id=render_id)
        marked, _scheme = AudioWatermarker(key).embed_checked(floored, audio.sample_rate,
                                                              render_id)
        audio = AudioTrack(marked, audio.sample_rate)  # the read-back names the scheme
    _add(spent, "watermark_audio", time.perf_counter() - began)
    with VideoWriter(tmp, fps=rendered.fps, audio=audio, container_format="mp4") as writer:
        # decode, per-frame work and marking run in one thread, the encoder in this one
        marked_frames = mark_frames(rendered.frames, label=label, spent=spent,
                                    watermarker=VideoWatermarker(key), render_id=render_id)
        for frame in prefetch(marked_frames, name="likeness-render"):
            began = time.perf_counter()
            writer.write(frame)
            _add(spent, "encode", time.perf_counter() - began)
        frames = writer.frames_written
        began = time.perf_counter()
    _add(spent, "encode", time.perf_counter() - began)  # the flush and the mux's close
    if frames == 0:
        raise BadInput("the render produced no frames")
    return frames


def append_published(ctx: PublishContext, decision: Decision, payload: dict[str, Any]
                     ) -> tuple[LedgerEntry, SignedTreeHead, InclusionProof]:
    with ctx.session() as session:
        recheck_consent(decision, session=session, now=datetime.now(UTC), audit=ctx.ledger,
                        studio_key=ctx.signing_key.verify_key)
        entry = ctx.ledger.record(session, "render_published", payload)
        head = sign_tree_head(session, ctx.signing_key)
        proof = inclusion_proof(session, seq=entry.seq, head=head)
    ctx.ledger.witness_head(head)  # committed: now the head may be seen outside
    return entry, head, proof


def manifest_for(rendered: Rendered, decision: Decision, entry: LedgerEntry,
                 head: SignedTreeHead, proof: InclusionProof, *, studio: str,
                 found: ReadBack, namespace: str = DEFAULT_NAMESPACE,
                 source: SourceAssertion | None = None,
                 grants: GrantsAssertion | None = None) -> C2paManifestSpec:
    """The manifest claims what ``found`` (the read-back of the encoded file) holds."""
    actions = list(rendered.actions)
    claimed = [f"{VIDEO_ALGORITHM} video"] if found.video_claimed else []
    claimed += [f"{found.audio_algorithm} audio"] if found.audio_claimed else []
    not_claimed = ([] if found.video_claimed else [f"video mark {found.video}"]) + (
        [] if found.audio_claimed else [f"audio mark {found.audio}"])
    marks = " and ".join(claimed) + " watermark" if claimed else "no watermark"
    if not_claimed:
        marks += f" ({'; '.join(not_claimed)})"
    actions.append(C2paAction(action=WATERMARK_ACTION,
                              description=f"{marks} carrying the render id"))
    ingredient = None
    if rendered.source is not None:
        media_type = mimetypes.guess_type(rendered.source.name)[0] or "video/mp4"
        ingredient = C2paIngredientSpec(path=rendered.source, title=rendered.source.name,
                                        format=media_type)
    claims = LikenessAssertions.build(
        decision=decision, entry=entry, head=head, proof=proof, studio=studio,
        visible_label=found.visible_label, engines=rendered.engines,
        video_algorithm=VIDEO_ALGORITHM if found.video_claimed else "",
        audio_algorithm=found.audio_algorithm if found.audio_claimed else "",
        audio_status=found.audio, video_status=found.video, source=source, grants=grants)
    return C2paManifestSpec(
        title=rendered.title, digital_source_type=rendered.source_type,
        actions=tuple(actions), ingredient=ingredient,
        custom_assertions=claims.custom_assertions(namespace))


def source_provenance(rendered: Rendered, ctx: PublishContext) -> SourceAssertion | None:
    """What the source already carries (its manifest, our earlier marks), read before the
    new marks go on, so the manifest can keep it (provenance.sources)."""
    if rendered.source is None:
        return None
    root = ctx.c2pa_dir / ROOT_CERT_NAME
    anchor = root.read_bytes() if root.is_file() else None
    return inspect_source(rendered.source, watermark_key=ctx.watermark_key,
                          trust_anchor_pem=anchor)


def _timed(read: Callable[[Rendered, PublishContext], SourceAssertion | None],
           rendered: Rendered, ctx: PublishContext) -> tuple[SourceAssertion | None, float]:
    lap = time.perf_counter()
    return read(rendered, ctx), time.perf_counter() - lap


def commit_file(signed: Path, out: Path) -> None:
    """fsync the finished file, rename it onto the destination, fsync the folder."""
    with open(signed, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(signed, out)
    dir_fd = os.open(out.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


_ABSOLUTE_PATH = re.compile(r"/(?:[^/\s'\"]+/)+(?=[^/\s'\"]+)")


def without_folders(text: str) -> str:
    """``/home/ann/work/.out.mp4.1f.encoded.mp4`` -> ``.out.mp4.1f.encoded.mp4``: the ledger
    is exportable, and folder names say who rendered where."""
    return _ABSOLUTE_PATH.sub("", text)


def record_failure(ctx: PublishContext, decision: Decision, *, stage: str,
                   reason: str, out: Path) -> None:
    with suppress(Exception), ctx.session() as session:
        registry = Registry(session)
        for gid in decision.grant_ids:  # nothing was delivered: the render is given back
            registry.release_render(gid)
        ctx.ledger.record(session, "render_failed", {
            "render_id": decision.render_id, "decision_id": decision.decision_id,
            "stage": stage, "output": out.name, "released": True,
            "reason": without_folders(reason.replace(f"{out.parent}{os.sep}", ""))[:500]})


def sweep_leftovers(ctx: PublishContext, folder: Path) -> None:
    """Settle the publishes that died -- those that left temp files in ``folder`` and those
    the studio's journal names, wherever they wrote -- close their story in the ledger,
    then remove what they left (provenance/leftovers.py)."""
    pending = stale_publishes(ctx.journal)
    stale = stale_leftovers(folder)
    for folder_of_note in {note.out.parent for note in pending if note.out.name} - {folder}:
        stale += [item for item in stale_leftovers(folder_of_note)
                  if item.render_id in {note.render_id for note in pending}]
    if not stale and not pending:
        return
    renders = {(note.render_id, note.out) for note in pending if note.out.name}
    renders |= {(item.render_id, item.path.parent / item.output) for item in stale}
    with ctx.session() as session:
        settle_interrupted(session, ctx.ledger, sorted(renders),
                           namespace=ctx.assertion_namespace)
    remove(stale)
    for note in pending:
        end_publish(note.note)


def publish(rendered: Rendered, decision: Decision, *, ctx: PublishContext,
            out: Path) -> PublishReceipt:
    """Publish one render under ``decision`` to ``out`` (see the module docstring)."""
    if not decision.allowed or not decision.render_id:
        raise ConsentDenied("publish refused: the consent decision does not allow this render",
                            reasons=list(decision.reasons))
    out = check_destination(out)
    render_id = int(decision.render_id, 16)
    label = ctx.label
    sweep_leftovers(ctx, out.parent)
    encoded, signed = temp_paths(out, decision.render_id)
    stage = "recheck"
    note: Path | None = None  # the journal note of this publish, from before the ledger entry
    spent: dict[str, float] = {}  # seconds per step: the benchmarks' per-stage table
    try:
        with ctx.session() as session:
            recheck_consent(decision, session=session, now=datetime.now(UTC),
                            audit=ctx.ledger, studio_key=ctx.signing_key.verify_key)
            grants = GrantsAssertion(
                studio_key=base64.b64encode(ctx.signing_key.verify_key.raw).decode(),
                grants=evidence_from_registry(session, decision.grant_ids))
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="likeness-source") as aside:
            reading = aside.submit(_timed, source_provenance, rendered, ctx)
            stage = "label+watermark+encode"
            frames = encode_marked(rendered, encoded, label=label, key=ctx.watermark_key,
                                   render_id=render_id, spent=spent)
            stage = "source provenance"
            source, seconds = reading.result()
        _add(spent, "source_provenance", seconds)
        stage = "read-back"
        found = read_back(encoded, render_id=render_id, key=ctx.watermark_key, label=label,
                          audio_s=None if rendered.audio is None else rendered.audio.duration_s,
                          source_marks=source.watermark_render_ids if source else ())
        _add(spent, "read_back", found.seconds)
        lap = time.perf_counter()
        content_sha = sha256_file(encoded)
        stage = "ledger"
        note = begin_publish(ctx.journal, render_id=decision.render_id, out=out)
        entry, head, proof = append_published(ctx, decision, {
            "render_id": decision.render_id, "decision_id": decision.decision_id,
            "grant_ids": list(decision.grant_ids), "performer_id": decision.performer_id,
            "uses": [u.value for u in decision.uses], "language": decision.language,
            "production": decision.production, "output": out.name, "frames": frames,
            "content_sha256": content_sha, "visible_label": found.visible_label,
            "video_watermark": found.video, "audio_watermark": found.audio,
            "source_type": rendered.source_type, "engines": list(rendered.engines)})
        _add(spent, "ledger", time.perf_counter() - lap)
        stage, lap = "c2pa", time.perf_counter()
        chain = ensure_chain(ctx.c2pa_dir, ctx.studio_name)
        spec = manifest_for(rendered, decision, entry, head, proof,
                            studio=ctx.studio_name, found=found,
                            namespace=ctx.assertion_namespace, source=source, grants=grants)
        store = sign_media(source=encoded, dest=signed, chain=chain, manifest=spec,
                           tsa_url=ctx.tsa_url)
        save_store(ctx.c2pa_dir, render_id=decision.render_id, store=store)
        _add(spent, "c2pa", time.perf_counter() - lap)
        stage = "rename"
        commit_file(signed, out)
    except BaseException as exc:
        reason = (exc.diagnostics() if isinstance(exc, LikenessError)
                  else f"{type(exc).__name__}: {exc}")
        renamed = stage == "rename" and not signed.exists() and out.exists()
        if not renamed:  # once renamed, the file is delivered as the ledger says
            record_failure(ctx, decision, stage=stage, reason=reason, out=out)
        if isinstance(exc, LikenessError | KeyboardInterrupt):
            raise
        raise PublishFailed(f"publishing failed at {stage}: {reason}") from exc
    finally:
        for tmp in (encoded, signed):
            tmp.unlink(missing_ok=True)
        end_publish(note)  # renamed, or its failure recorded: nothing left to settle
    return PublishReceipt(out=out, render_id=decision.render_id, decision_id=decision.decision_id,
                          grant_ids=decision.grant_ids, ledger_seq=entry.seq,
                          entry_hash=entry.leaf_hash, tree_size=head.tree_size,
                          root_hash=head.root_hash, frames=frames, content_sha256=content_sha,
                          label=found.visible_label, audio_watermark=found.audio,
                          stages_ms={step: round(seconds * 1000, 1)
                                     for step, seconds in spent.items()})
