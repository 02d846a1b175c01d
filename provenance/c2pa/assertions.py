"""The studio's own C2PA assertions (``<namespace>.*``), each defined once as a model.

Why models and not dicts: the manifest writer (`provenance.publish`) and `verify`
must agree on every label and field. With one definition a renamed field changes
both sides together; with strings in two places `verify` would quietly read
``None`` from a manifest it wrote itself.

Why custom assertions at all: C2PA's standard ones cannot say which consent
decision and grants a render relied on, where its ledger entry is (with the
inclusion proof), or which watermark it carries (ours is not on the C2PA
soft-binding list), so these live in the studio's own label namespace.

Why a configurable namespace: C2PA entity-specific labels start with a reverse domain
name the entity controls. ``studio.likeness`` implied a domain nobody holds, so the
namespace comes from the studio's config (``assertion_namespace``); the default,
`DEFAULT_NAMESPACE`, is under ``example.com`` (RFC 2606: reserved, so it can never
collide with a real owner's labels) until a studio sets its own. Files signed before
the change carry `LEGACY_NAMESPACE`; `read_assertion` still finds those.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from consent.embedded import EmbeddedGrant

if TYPE_CHECKING:
    from consent.models import Decision
    from provenance.ledger.log import InclusionProof, SignedTreeHead
    from provenance.ledger.store import LedgerEntry

WATERMARK_PAYLOAD_BITS = 64  # the render id
DEFAULT_NAMESPACE = "com.example.likeness"
LEGACY_NAMESPACE = "studio.likeness"
_NAMESPACE_PATTERN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")

__all__ = [
    "DEFAULT_NAMESPACE",
    "LEGACY_NAMESPACE",
    "ConsentAssertion",
    "EnginesAssertion",
    "GrantsAssertion",
    "LabelAssertion",
    "LedgerAssertion",
    "LikenessAssertion",
    "LikenessAssertions",
    "MalformedAssertion",
    "SourceAssertion",
    "WatermarkAssertion",
    "check_namespace",
    "read_assertion",
]


def check_namespace(namespace: str) -> str:
    """A reverse domain name in lower case (``com.example.studio``), never ``c2pa.*``."""
    if not _NAMESPACE_PATTERN.fullmatch(namespace) or namespace.split(".")[0] == "c2pa":
        raise ValueError(f"assertion namespace {namespace!r} must be a reverse domain name "
                         "such as 'com.example.studio' (lower case, not c2pa.*)")
    return namespace


class LikenessAssertion(BaseModel):
    """One custom assertion: ``NAME`` follows the namespace in its label, the fields are
    its data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    NAME: ClassVar[str]

    @classmethod
    def label(cls, namespace: str = DEFAULT_NAMESPACE) -> str:
        """The assertion's label in a manifest written under ``namespace``."""
        return f"{check_namespace(namespace)}.{cls.NAME}"


class ConsentAssertion(LikenessAssertion):
    """The consent decision the render was published under."""

    NAME: ClassVar[str] = "consent"

    decision_id: str
    grant_ids: tuple[str, ...]
    performer_id: str
    uses: tuple[str, ...]
    language: str | None
    production: str | None
    studio: str


class LedgerAssertion(LikenessAssertion):
    """The render's `render_published` ledger entry and the proof that the signed tree
    head includes it, so a verifier holding the studio key can check it offline."""

    NAME: ClassVar[str] = "ledger"

    render_id: str
    seq: int
    entry_hash: str
    tree_size: int
    root_hash: str
    tree_head_at: str
    tree_head_signature: str
    inclusion_path: tuple[str, ...]


class WatermarkAssertion(LikenessAssertion):
    """Which invisible marks the file carries, and their payload (the render id)."""

    NAME: ClassVar[str] = "watermark"

    video_algorithm: str  # "" when the video mark is not claimed (see video_status)
    audio_algorithm: str  # "" when the audio mark is not claimed (see audio_status)
    payload: str
    payload_bits: int = WATERMARK_PAYLOAD_BITS
    # what publishing read back from the encoded file (provenance.readback); None on
    # files published before the read-back existed
    audio_status: str | None = None
    video_status: str | None = None


class LabelAssertion(LikenessAssertion):
    """Whether the visible "AI-generated" label was burned in (a studio may turn it off)."""

    NAME: ClassVar[str] = "label"

    visible_label: bool


class EnginesAssertion(LikenessAssertion):
    """The engines that made the render (``kind:name``), for whoever audits it later."""

    NAME: ClassVar[str] = "engines"

    engines: tuple[str, ...]


class SourceAssertion(LikenessAssertion):
    """What the render's source already carried, so re-publishing never strips it.

    The source's own C2PA manifest travels as the ``parentOf`` ingredient (the SDK
    embeds it); this records which one it was and how it validated when published,
    and the studio watermark ids found in the source's frames or audio: the new mark
    goes on top of them, and these ids stay recoverable from the manifest.
    """

    NAME: ClassVar[str] = "source"

    title: str
    sha256: str
    relationship: str = "parentOf"
    c2pa_manifest: str | None = None  # the source's active manifest label
    c2pa_validation: str | None = None  # Trusted | Valid | Invalid when it had one
    watermark_render_ids: tuple[str, ...] = ()


class GrantsAssertion(LikenessAssertion):
    """The performer's signed consent, checkable from the file alone (`consent.embedded`).

    ``studio_key`` is the studio's Ed25519 public key (raw, base64) whose
    countersignature each grant carries; the C2PA signer attests it by signing this
    assertion. Why not the CAWG identity assertion: its credentials are X.509 COSE
    signatures or W3C verifiable credentials, and a performer's raw Ed25519 grant
    signature is neither; this assertion carries the grant as signed instead.
    """

    NAME: ClassVar[str] = "grants"

    studio_key: str
    grants: tuple[EmbeddedGrant, ...]


class LikenessAssertions(BaseModel):
    """The set of studio assertions every published file carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    consent: ConsentAssertion
    ledger: LedgerAssertion
    watermark: WatermarkAssertion
    label: LabelAssertion
    engines: EnginesAssertion
    source: SourceAssertion | None = None
    grants: GrantsAssertion | None = None

    @classmethod
    def build(cls, *, decision: Decision, entry: LedgerEntry, head: SignedTreeHead,
              proof: InclusionProof, studio: str, visible_label: bool,
              engines: Sequence[str], video_algorithm: str,
              audio_algorithm: str, source: SourceAssertion | None = None,
              grants: GrantsAssertion | None = None,
              audio_status: str | None = None,
              video_status: str | None = None) -> LikenessAssertions:
        """What the publish path states about one render, from its decision and ledger entry."""
        render_id = decision.render_id
        if render_id is None:
            raise ValueError("a published render needs the render id its decision reserved")
        return cls(
            consent=ConsentAssertion(
                decision_id=decision.decision_id, grant_ids=decision.grant_ids,
                performer_id=decision.performer_id,
                uses=tuple(u.value for u in decision.uses), language=decision.language,
                production=decision.production, studio=studio),
            ledger=LedgerAssertion(
                render_id=render_id, seq=entry.seq, entry_hash=entry.leaf_hash,
                tree_size=head.tree_size, root_hash=head.root_hash, tree_head_at=head.at,
                tree_head_signature=head.signature, inclusion_path=proof.path),
            watermark=WatermarkAssertion(video_algorithm=video_algorithm,
                                         audio_algorithm=audio_algorithm, payload=render_id,
                                         audio_status=audio_status,
                                         video_status=video_status),
            label=LabelAssertion(visible_label=visible_label),
            engines=EnginesAssertion(engines=tuple(engines)), source=source, grants=grants)

    def custom_assertions(self, namespace: str = DEFAULT_NAMESPACE) -> dict[str, JsonValue]:
        """Label -> data, as `C2paManifestSpec.custom_assertions` takes them."""
        parts: tuple[LikenessAssertion, ...] = (self.consent, self.ledger, self.watermark,
                                                self.label, self.engines)
        parts += tuple(p for p in (self.source, self.grants) if p is not None)
        return {part.label(namespace): part.model_dump(mode="json") for part in parts}


class MalformedAssertion(ValueError):
    """A manifest carries a studio label whose data is not that assertion's shape."""


A = TypeVar("A", bound=LikenessAssertion)


def read_assertion(assertions: Mapping[str, object], model: type[A], *,
                   namespace: str = DEFAULT_NAMESPACE) -> A | None:
    """``model``'s assertion from a manifest's label -> data map (`ManifestReport.assertions`).

    Looks under ``namespace`` first, then under `LEGACY_NAMESPACE` (files signed
    before namespaces were configurable). None when the manifest carries neither
    label; `MalformedAssertion` when it does but the data does not fit, which a
    verifier must treat as tampering, not as absence.
    """
    label = next((lb for lb in (model.label(namespace), model.label(LEGACY_NAMESPACE))
                  if lb in assertions), None)
    if label is None:
        return None
    try:
        return model.model_validate(assertions[label])
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "data"
        raise MalformedAssertion(f"{label}: {where}: {first['msg']}") from None
