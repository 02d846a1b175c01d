"""`likeness verify`: is this file one of ours, untouched, and what does the ledger say?

Statuses (and exit codes): ``intact`` (0) -- the C2PA manifest is valid and trusted,
the watermark carries its render id, and the ledger proves the render's entry;
``derived`` (5) -- no manifest (re-encoded away) but the watermark leads to a
published render in the ledger; ``tampered`` (4) -- an invalid or untrusted
manifest, a manifest that disagrees with the ledger, or a watermark naming a
render the ledger never published; ``unknown`` (6) -- nothing of this studio.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.registry import Registry
from consent.signing import VerifyKey
from likeness.errors import BadInput, IntegrityFailure, LikenessError
from media.audio import load_audio
from media.decode import iter_frames
from media.probe import probe
from provenance.c2pa import (
    LedgerAssertion,
    MalformedAssertion,
    ManifestReport,
    WatermarkAssertion,
    read_assertion,
    read_manifest,
)
from provenance.c2pa.assertions import DEFAULT_NAMESPACE
from provenance.chain import chain_summary
from provenance.consent_check import consent_from_file
from provenance.ledger.log import InclusionProof, entries_for_render, verify_tree_head
from provenance.ledger.log import heads as signed_heads
from provenance.ledger.merkle import MerkleTree
from provenance.ledger.store import EntryRow, leaf_hash_hex
from provenance.watermark.audio import MIN_SECONDS as AUDIO_MIN_SECONDS
from provenance.watermark.audio import AudioWatermarker
from provenance.watermark.detection import WatermarkDetection
from provenance.watermark.video import VideoWatermarker

Status = Literal["intact", "derived", "tampered", "unknown"]
EXIT_CODES: dict[Status, int] = {"intact": 0, "derived": 5, "tampered": 4, "unknown": 6}
MAX_VIDEO_FRAMES = 150  # 5-6 s of video is plenty for a confident vote
MAX_AUDIO_SECONDS = 12.0


@dataclass(frozen=True)
class WatermarkFinding:
    found: bool
    render_id: str | None
    confidence: float
    bit_accuracy: float

    @classmethod
    def of(cls, det: WatermarkDetection | None) -> WatermarkFinding:
        if det is None or det.render_id is None:
            return cls(False, None, det.confidence if det else 0.0,
                       det.bit_accuracy if det else 0.0)
        return cls(True, f"{det.render_id:016x}", det.confidence, det.bit_accuracy)


@dataclass(frozen=True)
class VerifyReport:
    status: Status
    file: str
    reasons: list[str]
    render_id: str | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    video_watermark: WatermarkFinding | None = None
    audio_watermark: WatermarkFinding | None = None
    ledger: dict[str, Any] = field(default_factory=dict)
    performer_id: str | None = None
    grant_ids: list[str] = field(default_factory=list)
    uses: list[str] = field(default_factory=list)
    rendered_at: str | None = None
    revoked_since: list[str] = field(default_factory=list)
    chain: list[dict[str, Any]] = field(default_factory=list)  # provenance.chain
    consent: dict[str, Any] = field(default_factory=dict)  # provenance.consent_check
    signer: str | None = None  # who signed a file that is validly signed by another party

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect_watermarks(path: Path, key: bytes) -> tuple[WatermarkFinding, WatermarkFinding]:
    info = probe(path)
    frames = (f.rgb for f in islice(iter_frames(path, info=info), MAX_VIDEO_FRAMES))
    video = VideoWatermarker(key).detect(frames) if info.video is not None else None
    audio_det = None
    if info.audio is not None:
        samples, rate = load_audio(path)
        if samples.shape[0] >= AUDIO_MIN_SECONDS * rate:  # shorter audio cannot carry it
            audio_det = AudioWatermarker(key).detect(samples[: int(rate * MAX_AUDIO_SECONDS)],
                                                     rate)
    return WatermarkFinding.of(video), WatermarkFinding.of(audio_det)


@dataclass(frozen=True)
class _Entry:
    """A ledger entry as its body says (re-hashed), not as the row's columns say: the
    ``leaf_hash``, ``kind``, ``at`` and ``render_id`` columns are copies anyone with
    database access could edit."""

    seq: int
    kind: str
    at: datetime
    payload: dict[str, Any]
    leaf_hash: str


def _from_body(row: EntryRow) -> _Entry:
    body = row.body.encode()
    leaf = leaf_hash_hex(body)
    if leaf != row.leaf_hash:
        raise IntegrityFailure(f"ledger entry {row.seq} was edited (its body does not hash to "
                               "its leaf hash)")
    doc = json.loads(body)
    if doc.get("seq") != row.seq or doc.get("kind") != row.kind:
        raise IntegrityFailure(f"ledger entry {row.seq} was moved or relabelled")
    return _Entry(seq=doc["seq"], kind=doc["kind"], at=datetime.fromisoformat(doc["at"]),
                  payload=doc["payload"], leaf_hash=leaf)


def _published_entry(session: Session, render_id: str) -> tuple[_Entry | None, bool]:
    entries = [_from_body(r) for r in entries_for_render(session, int(render_id, 16))]
    entries = [e for e in entries if e.payload.get("render_id") == render_id]
    published = next((e for e in entries if e.kind == "render_published"), None)
    failed_after = published is not None and any(
        e.kind == "render_failed" and e.seq > published.seq for e in entries)
    return published, failed_after


def _prove(session: Session, entry: _Entry, studio_key: VerifyKey) -> dict[str, Any]:
    """Inclusion of the entry (its re-hashed body) under the latest signed tree head."""
    heads = signed_heads(session)
    if not heads or heads[-1].tree_size <= entry.seq:
        raise IntegrityFailure("no signed tree head covers the render's ledger entry")
    head = heads[-1]
    hashes = session.scalars(select(EntryRow.leaf_hash).where(
        EntryRow.seq < head.tree_size).order_by(EntryRow.seq)).all()
    tree = MerkleTree([bytes.fromhex(h) for h in hashes])
    verify_tree_head(head, studio_key)
    proof = InclusionProof(entry.seq, entry.leaf_hash, head.tree_size, head.root_hash,
                           tuple(h.hex() for h in tree.inclusion_proof(entry.seq,
                                                                       head.tree_size)))
    proof.verify()
    return {"seq": entry.seq, "entry_hash": entry.leaf_hash, "tree_size": head.tree_size,
            "root_hash": head.root_hash, "inclusion": "proven"}


def _manifest_summary(report: ManifestReport) -> dict[str, Any]:
    return {"present": report.present, "validation_state": report.validation_state,
            "errors": report.errors[:5], "claim_generator": report.claim_generator,
            "title": report.title, "timestamp": report.timestamp,
            "signature_time": report.signature_time,
            "created_assertions": report.created_assertions}


def _claims_a_mark(manifest: ManifestReport, namespace: str) -> bool:
    """Whether the manifest claims a mark: publishing claims only the marks it read back
    (provenance.readback), so a file may honestly say it carries neither."""
    try:
        claim = read_assertion(manifest.assertions, WatermarkAssertion, namespace=namespace)
    except MalformedAssertion:
        return True
    return claim is None or bool(claim.video_algorithm or claim.audio_algorithm)


def verify_file(path: Path, *, session: Session, studio_key: VerifyKey,
                trust_anchor_pem: bytes, watermark_key: bytes,
                assertion_namespace: str = DEFAULT_NAMESPACE) -> VerifyReport:
    manifest = read_manifest(path, trust_anchor_pem=trust_anchor_pem)
    reasons: list[str] = []
    try:
        video_wm, audio_wm = detect_watermarks(path, watermark_key)
    except BadInput as exc:
        if not manifest.present:
            raise  # not ours and not readable: bad input
        # a file that carries our manifest but no longer decodes was damaged or edited
        reasons.append(f"the media no longer decodes: {exc.message}")
        video_wm = audio_wm = WatermarkFinding.of(None)
    ledger_claim: LedgerAssertion | None = None
    malformed: MalformedAssertion | None = None
    if manifest.present:
        try:
            ledger_claim = read_assertion(manifest.assertions, LedgerAssertion,
                                          namespace=assertion_namespace)
        except MalformedAssertion as exc:
            malformed = exc
    wm_ids = {w.render_id for w in (video_wm, audio_wm) if w.found}
    claimed = ledger_claim.render_id if ledger_claim is not None else None
    render_id = claimed or (sorted(wm_ids)[0] if wm_ids else None)
    base = {"file": str(path), "manifest": _manifest_summary(manifest),
            "video_watermark": video_wm, "audio_watermark": audio_wm, "render_id": render_id,
            "chain": chain_summary(manifest, namespace=assertion_namespace)}

    if not manifest.present and not wm_ids:
        return VerifyReport(status="unknown", reasons=["no C2PA manifest and no watermark of "
                                                      "this studio"], **base)
    if manifest.validation_state == "Valid" and not wm_ids:
        # a valid signature that does not chain to our root, on media without our mark:
        # someone else's file (another studio, even one running Likeness), not a forgery
        signer = (manifest.signature_common_name or manifest.signature_issuer
                  or "an unnamed signer")
        return VerifyReport(status="unknown", signer=signer, reasons=[
            f"signed by another party: {signer} (valid C2PA signature, not this studio's "
            "certificate chain; no watermark of this studio)"], **base)
    if len(wm_ids) > 1:
        reasons.append(f"video and audio watermarks disagree: {', '.join(sorted(wm_ids))}")
    if manifest.present:
        if manifest.validation_state == "Invalid":
            reasons.append("C2PA manifest is invalid: " + "; ".join(manifest.errors[:3]))
        elif not manifest.trusted:
            reasons.append("C2PA manifest is not signed by this studio's certificate chain")
        if malformed is not None:
            reasons.append(f"C2PA manifest's Likeness ledger assertion is malformed: {malformed}")
        elif claimed is None:
            reasons.append("C2PA manifest has no Likeness ledger assertion")
        if not wm_ids and _claims_a_mark(manifest, assertion_namespace):
            reasons.append("no watermark found, although the manifest says there is one")
        elif claimed and wm_ids and claimed not in wm_ids:  # no mark, none claimed: fine
            reasons.append(f"watermark names render {', '.join(sorted(wm_ids))}, the manifest "
                           f"{claimed}")

    consent, consent_problems = consent_from_file(manifest, namespace=assertion_namespace)
    reasons += consent_problems
    ledger: dict[str, Any] = {}
    details: dict[str, Any] = {"consent": consent}
    if render_id:
        try:
            entry, failed_after = _published_entry(session, render_id)
        except IntegrityFailure as exc:
            entry, failed_after = None, False
            reasons.append(f"the ledger was tampered with: {exc.message}")
        if entry is None:
            if not reasons or not reasons[-1].startswith("the ledger was tampered"):
                reasons.append(f"render {render_id} was never published by this studio")
        else:
            if failed_after:
                reasons.append(f"render {render_id} was recorded as failed after publishing")
            try:
                ledger = _prove(session, entry, studio_key)
            except LikenessError as exc:
                reasons.append(f"ledger proof failed: {exc.message}")
            if ledger_claim is not None and ledger_claim.entry_hash != entry.leaf_hash:
                reasons.append("the manifest's ledger entry hash differs from the ledger")
            payload = entry.payload
            grant_ids = list(payload.get("grant_ids", []))
            revoked = [r for gid in grant_ids for r in Registry(session).revocations_of(gid)
                       if r.revoked_at > entry.at]
            details |= {"performer_id": payload.get("performer_id"), "grant_ids": grant_ids,
                        "uses": list(payload.get("uses", [])),
                        "rendered_at": entry.at.isoformat(),
                        "revoked_since": [f"{r.grant_id} at {r.revoked_at.isoformat()}"
                                          for r in revoked]}
    if reasons:
        status: Status = "tampered"
    elif manifest.present:
        status = "intact"
    else:
        status = "derived"
        reasons.append("C2PA manifest missing (re-encoded or stripped); traced by watermark")
    return VerifyReport(status=status, reasons=reasons, ledger=ledger, **base, **details)
