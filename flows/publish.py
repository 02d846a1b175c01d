"""The one publish path: the only code that writes a rendered file to its destination.

``publish`` takes a render as a stream of frames (+ audio) and a consent decision,
and in this order:
1. refuses unless the decision is allowed and carries a render id;
2. re-checks the grants (revocation, validity) -- a revocation registered after
   the decision stops the render;
3. burns the visible label, embeds the invisible video and audio watermark
   carrying the 64-bit render id, and encodes once into a temp file in the
   destination folder;
4. appends the `render_published` ledger entry (after checking revocation again
   inside the same database transaction, so no revocation can slip in between)
   and signs a tree head, which gives the inclusion proof;
5. signs the C2PA manifest (consent, ledger proof and watermark assertions);
6. fsyncs and atomically renames the signed file onto the destination.
Any failure removes the temp files, leaves nothing at the destination and logs
`render_failed` with the stage and the reason. No flow, command or test helper
writes outputs another way (tests/flows/test_publish_invariant.py checks).
"""

from __future__ import annotations

import logging
import mimetypes
import os
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sqlalchemy.orm import Session

from consent.models import Decision, RenderRequest, SignedGrant
from consent.registry import Registry
from consent.signing import SigningKey
from likeness.errors import BadInput, ConsentDenied, LikenessError
from media.audio import AudioTrack
from media.digest import sha256_file
from media.encode import VideoWriter
from media.probe import MediaInfo
from provenance.c2pa import (
    WATERMARK_ACTION,
    C2paAction,
    C2paIngredientSpec,
    C2paManifestSpec,
    DigitalSourceType,
    sign_media,
)
from provenance.c2pa.certs import ensure_chain
from provenance.label import LabelBurner, LabelSpec
from provenance.ledger.log import InclusionProof, SignedTreeHead, inclusion_proof, sign_tree_head
from provenance.ledger.store import Ledger, LedgerEntry
from provenance.watermark.audio import ALGORITHM as AUDIO_WATERMARK_ALGORITHM
from provenance.watermark.audio import MIN_SECONDS as AUDIO_MIN_SECONDS
from provenance.watermark.audio import AudioWatermarker
from provenance.watermark.video import ALGORITHM as WATERMARK_ALGORITHM
from provenance.watermark.video import VideoWatermarker

log = logging.getLogger(__name__)

CLAIM_VERSION = "0.1.0"
AUDIO_NOISE_FLOOR_DBFS = -54.0  # RMS; below typical room tone in recordings
AUDIO_NOISE_FLOOR = 10 ** (AUDIO_NOISE_FLOOR_DBFS / 20)


class StudioConfigView(Protocol):
    studio_name: str
    visible_label: bool

    @property
    def label(self) -> Any: ...


class SettingsView(Protocol):
    @property
    def studio(self) -> StudioConfigView: ...


class PublishContext(Protocol):
    """What publishing needs from the studio (likeness.studio.Studio satisfies it)."""

    settings: SettingsView

    def session(self) -> AbstractContextManager[Session]: ...

    @property
    def ledger(self) -> Ledger: ...

    @property
    def signing_key(self) -> SigningKey: ...

    @property
    def watermark_key(self) -> bytes: ...

    @property
    def c2pa_dir(self) -> Path: ...


class RenderContext(PublishContext, Protocol):
    """What a render (stamp, dub, reenact) needs from the studio: publishing plus the
    gate, and the full settings (models dir, licence policy)."""

    settings: Any

    def authorize(self, request: RenderRequest) -> Decision: ...


@dataclass(frozen=True)
class Rendered:
    """A finished render, not yet published: frames (RGB uint8) and audio as streams."""

    frames: Iterable[np.ndarray]
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
    return out


def recheck_consent(session: Session, decision: Decision, *, now: datetime) -> None:
    """Revocation and validity at publish time (runs inside the publishing transaction)."""
    registry = Registry(session)
    revoked = registry.revoked_ids(list(decision.grant_ids))
    if revoked:
        raise ConsentDenied(f"grant {', '.join(sorted(revoked))} was revoked after the "
                            "decision; nothing was published", reasons=["revoked"])
    for gid in decision.grant_ids:
        row = registry.grant_row(gid)
        if row is None:
            raise ConsentDenied(f"grant {gid} is no longer registered", reasons=["missing"])
        grant = SignedGrant.model_validate_json(row.document).grant
        if now >= grant.valid_until:
            raise ConsentDenied(f"grant {gid} expired before publishing",
                                reasons=["expired"])


def mark_frames(frames: Iterable[np.ndarray], *, label: LabelSpec | None,
                watermarker: VideoWatermarker, render_id: int) -> Iterator[np.ndarray]:
    """Label first, then watermark: the label's pixels carry the watermark too."""
    burner: LabelBurner | None = None
    for index, frame in enumerate(frames):
        if label is not None:
            if burner is None:
                burner = LabelBurner(label, width=frame.shape[1], height=frame.shape[0])
            frame = burner.burn(frame)
        yield watermarker.embed_frame(frame, render_id, index)


def with_noise_floor(samples: np.ndarray, *, render_id: int) -> np.ndarray:
    """Add a faint, seeded noise floor (like room tone) so that digitally silent
    stretches -- common in synthesized speech -- can still carry the audio watermark."""
    rng = np.random.default_rng(render_id)
    floor = rng.standard_normal(samples.shape).astype(np.float32)
    return (samples + floor * AUDIO_NOISE_FLOOR).astype(np.float32)


def encode_marked(rendered: Rendered, tmp: Path, *, label: LabelSpec | None,
                  key: bytes, render_id: int) -> int:
    audio = rendered.audio
    if audio is not None:
        floored = with_noise_floor(audio.samples, render_id=render_id)
        marked = AudioWatermarker(key).embed(floored, audio.sample_rate, render_id)
        audio = AudioTrack(marked, audio.sample_rate)
    with VideoWriter(tmp, fps=rendered.fps, audio=audio, container_format="mp4") as writer:
        for frame in mark_frames(rendered.frames, label=label,
                                 watermarker=VideoWatermarker(key), render_id=render_id):
            writer.write(frame)
        frames = writer.frames_written
    if frames == 0:
        raise BadInput("the render produced no frames")
    return frames


def append_published(ctx: PublishContext, decision: Decision, payload: dict[str, Any]
                     ) -> tuple[LedgerEntry, SignedTreeHead, InclusionProof]:
    with ctx.session() as session:
        recheck_consent(session, decision, now=datetime.now(UTC))
        entry = ctx.ledger.record(session, "render_published", payload)
        head = sign_tree_head(session, ctx.signing_key)
        proof = inclusion_proof(session, seq=entry.seq, head=head)
    return entry, head, proof


def manifest_for(rendered: Rendered, decision: Decision, entry: LedgerEntry,
                 head: SignedTreeHead, proof: InclusionProof, *, studio: str,
                 label: bool) -> C2paManifestSpec:
    actions = list(rendered.actions)
    actions.append(C2paAction(action=WATERMARK_ACTION, parameters={
        "description": f"{WATERMARK_ALGORITHM} video and {AUDIO_WATERMARK_ALGORITHM} audio "
                       "watermark carrying the render id"}))
    ingredient = None
    if rendered.source is not None:
        media_type = mimetypes.guess_type(rendered.source.name)[0] or "video/mp4"
        ingredient = C2paIngredientSpec(path=rendered.source, title=rendered.source.name,
                                        format=media_type)
    return C2paManifestSpec(
        title=rendered.title, digital_source_type=rendered.source_type,
        actions=tuple(actions), ingredient=ingredient,
        custom_assertions={
            "studio.likeness.consent": {
                "decision_id": decision.decision_id, "grant_ids": list(decision.grant_ids),
                "performer_id": decision.performer_id,
                "uses": [u.value for u in decision.uses], "language": decision.language,
                "production": decision.production, "studio": studio},
            "studio.likeness.ledger": {
                "render_id": decision.render_id, "seq": entry.seq,
                "entry_hash": entry.leaf_hash, "tree_size": head.tree_size,
                "root_hash": head.root_hash, "tree_head_at": head.at,
                "tree_head_signature": head.signature, "inclusion_path": list(proof.path)},
            "studio.likeness.watermark": {
                "video_algorithm": WATERMARK_ALGORITHM,
                "audio_algorithm": AUDIO_WATERMARK_ALGORITHM,
                "payload": decision.render_id, "payload_bits": 64},
            "studio.likeness.label": {"visible_label": label},
            "studio.likeness.engines": {"engines": list(rendered.engines)},
        })


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


def record_failure(ctx: PublishContext, decision: Decision, *, stage: str,
                   reason: str, out: Path) -> None:
    with suppress(Exception), ctx.session() as session:
        ctx.ledger.record(session, "render_failed", {
            "render_id": decision.render_id, "decision_id": decision.decision_id,
            "stage": stage, "reason": reason[:500], "output": out.name})


def publish(rendered: Rendered, decision: Decision, *, ctx: PublishContext,
            out: Path) -> PublishReceipt:
    """Publish one render under ``decision`` to ``out`` (see the module docstring)."""
    if not decision.allowed or not decision.render_id:
        raise ConsentDenied("publish refused: the consent decision does not allow this render",
                            reasons=list(decision.reasons))
    out = check_destination(out)
    render_id = int(decision.render_id, 16)
    studio_cfg = ctx.settings.studio
    label = (LabelSpec(text=studio_cfg.label.text.format(studio=studio_cfg.studio_name),
                       position=studio_cfg.label.position)
             if studio_cfg.visible_label else None)
    stem = f".{out.name}.{decision.render_id}"
    encoded, signed = out.with_name(stem + ".encoded.mp4"), out.with_name(stem + ".signed.mp4")
    stage = "recheck"
    try:
        with ctx.session() as session:
            recheck_consent(session, decision, now=datetime.now(UTC))
        stage = "label+watermark+encode"
        frames = encode_marked(rendered, encoded, label=label, key=ctx.watermark_key,
                               render_id=render_id)
        content_sha = sha256_file(encoded)
        stage = "ledger"
        entry, head, proof = append_published(ctx, decision, {
            "render_id": decision.render_id, "decision_id": decision.decision_id,
            "grant_ids": list(decision.grant_ids), "performer_id": decision.performer_id,
            "uses": [u.value for u in decision.uses], "language": decision.language,
            "production": decision.production, "output": out.name, "frames": frames,
            "content_sha256": content_sha, "visible_label": label is not None,
            "source_type": rendered.source_type, "engines": list(rendered.engines)})
        stage = "c2pa"
        chain = ensure_chain(ctx.c2pa_dir, studio_cfg.studio_name)
        spec = manifest_for(rendered, decision, entry, head, proof,
                            studio=studio_cfg.studio_name, label=label is not None)
        sign_media(source=encoded, dest=signed, chain=chain, manifest=spec)
        stage = "rename"
        commit_file(signed, out)
    except BaseException as exc:
        reason = (exc.diagnostics() if isinstance(exc, LikenessError)
                  else f"{type(exc).__name__}: {exc}")
        record_failure(ctx, decision, stage=stage, reason=reason, out=out)
        if isinstance(exc, LikenessError | KeyboardInterrupt):
            raise
        raise PublishFailed(f"publishing failed at {stage}: {reason}") from exc
    finally:
        for tmp in (encoded, signed):
            tmp.unlink(missing_ok=True)
    return PublishReceipt(out=out, render_id=decision.render_id, decision_id=decision.decision_id,
                          grant_ids=decision.grant_ids, ledger_seq=entry.seq,
                          entry_hash=entry.leaf_hash, tree_size=head.tree_size,
                          root_hash=head.root_hash, frames=frames, content_sha256=content_sha,
                          label=label is not None)
