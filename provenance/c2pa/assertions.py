"""The studio's own C2PA assertions (``studio.likeness.*``), each defined once as a model.

Why models and not dicts: the manifest writer (`provenance.publish`) and `verify`
must agree on every label and field. With one definition a renamed field changes
both sides together; with strings in two places `verify` would quietly read
``None`` from a manifest it wrote itself.

Why custom assertions at all: C2PA's standard ones cannot say which consent
decision and grants a render relied on, where its ledger entry is (with the
inclusion proof), or which watermark it carries (ours is not on the C2PA
soft-binding list), so these live in the studio's own label namespace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

if TYPE_CHECKING:
    from consent.models import Decision
    from provenance.ledger.log import InclusionProof, SignedTreeHead
    from provenance.ledger.store import LedgerEntry

WATERMARK_PAYLOAD_BITS = 64  # the render id

__all__ = [
    "ConsentAssertion",
    "EnginesAssertion",
    "LabelAssertion",
    "LedgerAssertion",
    "LikenessAssertion",
    "LikenessAssertions",
    "MalformedAssertion",
    "WatermarkAssertion",
    "read_assertion",
]


class LikenessAssertion(BaseModel):
    """One custom assertion: ``LABEL`` is its name in the manifest, the fields its data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    LABEL: ClassVar[str]


class ConsentAssertion(LikenessAssertion):
    """The consent decision the render was published under."""

    LABEL: ClassVar[str] = "studio.likeness.consent"

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

    LABEL: ClassVar[str] = "studio.likeness.ledger"

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

    LABEL: ClassVar[str] = "studio.likeness.watermark"

    video_algorithm: str
    audio_algorithm: str
    payload: str
    payload_bits: int = WATERMARK_PAYLOAD_BITS


class LabelAssertion(LikenessAssertion):
    """Whether the visible "AI-generated" label was burned in (a studio may turn it off)."""

    LABEL: ClassVar[str] = "studio.likeness.label"

    visible_label: bool


class EnginesAssertion(LikenessAssertion):
    """The engines that made the render (``kind:name``), for whoever audits it later."""

    LABEL: ClassVar[str] = "studio.likeness.engines"

    engines: tuple[str, ...]


class LikenessAssertions(BaseModel):
    """The set of studio assertions every published file carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    consent: ConsentAssertion
    ledger: LedgerAssertion
    watermark: WatermarkAssertion
    label: LabelAssertion
    engines: EnginesAssertion

    @classmethod
    def build(cls, *, decision: Decision, entry: LedgerEntry, head: SignedTreeHead,
              proof: InclusionProof, studio: str, visible_label: bool,
              engines: Sequence[str], video_algorithm: str,
              audio_algorithm: str) -> LikenessAssertions:
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
                                         audio_algorithm=audio_algorithm, payload=render_id),
            label=LabelAssertion(visible_label=visible_label),
            engines=EnginesAssertion(engines=tuple(engines)))

    def custom_assertions(self) -> dict[str, JsonValue]:
        """Label -> data, as `C2paManifestSpec.custom_assertions` takes them."""
        parts: tuple[LikenessAssertion, ...] = (self.consent, self.ledger, self.watermark,
                                                self.label, self.engines)
        return {part.LABEL: part.model_dump(mode="json") for part in parts}


class MalformedAssertion(ValueError):
    """A manifest carries a studio label whose data is not that assertion's shape."""


A = TypeVar("A", bound=LikenessAssertion)


def read_assertion(assertions: Mapping[str, object], model: type[A]) -> A | None:
    """``model``'s assertion from a manifest's label -> data map (`ManifestReport.assertions`).

    None when the manifest does not carry the label; `MalformedAssertion` when it
    does but the data does not fit, which a verifier must treat as tampering, not
    as absence.
    """
    if model.LABEL not in assertions:
        return None
    try:
        return model.model_validate(assertions[model.LABEL])
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "data"
        raise MalformedAssertion(f"{model.LABEL}: {where}: {first['msg']}") from None
