"""The consent vocabulary: grants, signatures, revocations, render requests, decisions.

Everything that crosses the consent API is a frozen, self-validating pydantic
model built with ``from_json``/``from_file``; malformed input raises `BadInput`
with the field that is wrong, never a half-built object.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from consent.codes import normalize_language, normalize_territory
from likeness.errors import BadInput

MAX_GRANT_TERM = timedelta(days=3653)  # 10 years (NO FAKES Act draft; SAG-AFTRA 2023)
MAX_MINOR_GRANT_TERM = timedelta(days=1827)  # 5 years
ADULT_AGE_YEARS = 18


class Use(StrEnum):
    """What a grant allows; a render asks for one or more of these."""

    DUBBING = "dubbing"
    LIP_SYNC = "lip_sync"
    REENACTMENT = "reenactment"
    AVATAR = "avatar"
    VOICE_CLONE = "voice_clone"


class ContentTag(StrEnum):
    NO_POLITICAL = "no_political"
    NO_ENDORSEMENT = "no_endorsement"
    NO_ADULT = "no_adult"
    NO_RELIGIOUS = "no_religious"
    NO_MEDICAL = "no_medical"


RenderId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")]  # 64-bit, hex
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # ids, productions: safe in paths
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
Language = Annotated[str, AfterValidator(normalize_language)]
Territory = Annotated[str, AfterValidator(normalize_territory)]


def check_identifier(value: str, *, field: str) -> str:
    """The `Identifier` rule for a value checked on its own, before any model is built
    (a performer id is refused before its face images are read)."""
    if not re.fullmatch(IDENTIFIER_PATTERN, value):
        raise BadInput(f"{field} {value!r}: use letters, digits, '.', '_' or '-' (max 64)")
    return value


# Control characters a terminal or a viewer acts on: C0 (but tab and newline), DEL, C1
# (ESC starts ANSI/OSC sequences), and the bidi controls that reorder what a reader
# sees (a description that displays as something other than what was signed).
_UNSAFE_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f"
                          "\u202a-\u202e\u2066-\u2069]")
MAX_RENDERS = 2**31 - 1  # the registry's INTEGER column; also exact in every JSON reader
MAX_DOCUMENT_BYTES = 1 << 20  # a grant or revocation file: text fields are capped far below


def check_plain_text(value: str, *, field: str = "text") -> str:
    """Refuse control and bidi characters in text people read (names, descriptions)."""
    found = _UNSAFE_TEXT.search(value)
    if found:
        raise ValueError(f"{field} contains the control character "
                         f"U+{ord(found.group()):04X}; plain text only")
    return value


PlainText = Annotated[str, AfterValidator(check_plain_text)]


def _exact_int(value: Any) -> Any:
    """JSON ``true`` and ``1.0`` are not the integer 1 (Python says they are equal)."""
    if type(value) is not int:
        raise ValueError("must be an integer")
    return value

StrictCount = Annotated[int, Field(strict=True, ge=1, le=MAX_RENDERS)]


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object with a key twice is ambiguous (one viewer keeps the first value, we
    the last): refused, so what is shown is what was signed."""
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ValueError(f"duplicate key {dup!r}")
    return dict(pairs)


GrantStatus = Literal["active", "not yet valid", "expired", "revoked"]


def _sorted_unique(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(sorted(set(values)))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    document_name: ClassVar[str] = "input"  # names the document in a `parse` error

    @classmethod
    def parse(cls, **fields: Any) -> Self:
        """Build from values already parsed (command-line options), with the errors of
        `from_json`: no JSON round trip, and a bad field is `BadInput` naming it."""
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            raise BadInput(f"{cls.document_name}: {_first_error(exc)}") from None

    @classmethod
    def from_json(cls, data: str | bytes, *, source: str = "input") -> Self:
        if len(data) > MAX_DOCUMENT_BYTES:
            raise BadInput(f"{source}: {len(data)} bytes; a {cls.document_name} document is "
                           f"at most {MAX_DOCUMENT_BYTES} bytes")
        try:
            json.loads(data, object_pairs_hook=_reject_duplicate_keys)
        except ValueError as exc:  # JSONDecodeError is a ValueError
            raise BadInput(f"{source}: Invalid JSON: {exc}") from None
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            raise BadInput(f"{source}: {_first_error(exc)}") from None

    @classmethod
    def from_file(cls, path: Path) -> Self:
        try:
            with Path(path).open("rb") as fh:
                data = fh.read(MAX_DOCUMENT_BYTES + 1)
        except OSError as exc:
            raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
        return cls.from_json(data, source=str(path))


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    parts = []
    for err in errors[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "document"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


def new_id(prefix: str) -> str:
    """Readable, unique ids: ``grant_3f2a...`` (128 random bits)."""
    return f"{prefix}_{uuid.uuid4().hex}"


PrivateField = Literal["compensation_ref", "contract_sha256", "consent_evidence_sha256"]
PRIVATE_FIELDS: tuple[PrivateField, ...] = ("compensation_ref", "contract_sha256",
                                            "consent_evidence_sha256")
"""Grant fields a published file never shows unless the performer agreed (``disclose``)."""
SALT_BYTES = 16  # 128 bits: a withheld field's digest cannot be guessed back


def _new_salt() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(SALT_BYTES)).decode().rstrip("=")


class GrantTerms(_Frozen):
    """What the performer signs. Immutable: a change is a new grant plus a revocation.

    Empty ``languages``/``territories``/``productions`` mean "any"; a grant that
    names productions covers only those.

    Format 2 (the default) is signed in its selective-disclosure form
    (`consent.disclosure`): each `PRIVATE_FIELDS` value is replaced by a digest salted
    with ``salts[field]``, so a file can carry the signed grant without its private
    values; ``disclose`` lists the private fields the performer agrees to publish.
    Format 1 grants (signed over every field, no salts) stay valid as they are.
    """

    document_name: ClassVar[str] = "grant"
    schema_version: Annotated[Literal[1, 2], BeforeValidator(_exact_int)] = 2
    grant_id: Identifier = Field(default_factory=lambda: new_id("grant"))
    performer_id: Identifier
    uses: Annotated[tuple[Use, ...], AfterValidator(_sorted_unique)] = Field(min_length=1)
    description: PlainText = Field(min_length=20, max_length=4000)
    languages: Annotated[tuple[Language, ...], AfterValidator(_sorted_unique)] = ()
    territories: Annotated[tuple[Territory, ...], AfterValidator(_sorted_unique)] = ()
    productions: Annotated[tuple[Identifier, ...], AfterValidator(_sorted_unique)] = ()
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    max_renders: StrictCount | None = None
    content_restrictions: PlainText = Field(default="", max_length=4000)
    content_tags: Annotated[tuple[ContentTag, ...], AfterValidator(_sorted_unique)] = ()
    compensation_ref: PlainText | None = Field(default=None, max_length=200)
    contract_sha256: Sha256Hex | None = None
    consent_evidence_sha256: Sha256Hex | None = None
    created_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    disclose: Annotated[tuple[PrivateField, ...], AfterValidator(_sorted_unique)] = ()
    salts: dict[PrivateField, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _salt_new_grants(cls, data: Any) -> Any:
        """A format-2 draft gets its salts once, when it is first built; the signed file
        keeps them, so re-reading it never changes what was signed."""
        if isinstance(data, dict) and data.get("schema_version", 2) == 2 and not data.get(
                "salts"):
            data = {**data, "salts": {name: _new_salt() for name in PRIVATE_FIELDS}}
        return data

    @model_validator(mode="after")
    def _format(self) -> Self:
        if self.schema_version == 1 and (self.salts or self.disclose):
            raise ValueError("a format-1 grant has no salts and no disclose list")
        if self.schema_version == 2 and set(self.salts) != set(PRIVATE_FIELDS):
            raise ValueError(f"a format-2 grant needs one salt for each of "
                             f"{', '.join(PRIVATE_FIELDS)}")
        return self

    # the studio the grant is given to: SHA-256 of its Ed25519 public key. Grants drafted
    # before this field existed lack it; they stay valid where they were countersigned.
    studio_key_id: Sha256Hex | None = None

    def signed_fields(self) -> dict[str, Any]:
        """The JSON the signatures cover (`consent.disclosure.signed_form`): format 2
        hides private values behind salted digests; ``studio_key_id`` is left out when
        absent, so a grant signed before the field existed still verifies byte for byte."""
        from consent.disclosure import signed_form  # it builds on these models

        return signed_form(self)

    @model_validator(mode="after")
    def _term(self) -> Self:
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        if self.valid_until - self.valid_from > MAX_GRANT_TERM:
            raise ValueError("a grant lasts at most 10 years")
        return self

    def status(self, *, now: datetime, revoked: bool = False) -> GrantStatus:
        """Where the grant stands at ``now``; a revocation (registry state, not part of
        the signed terms) outranks the dates."""
        if revoked:
            return "revoked"
        if now < self.valid_from:
            return "not yet valid"
        return "expired" if now >= self.valid_until else "active"


SignerRole = Literal["performer", "guardian", "studio"]


class Signature(_Frozen):
    """An Ed25519 signature over the canonical JSON (RFC 8785) of what it covers."""

    role: SignerRole
    key_id: Sha256Hex  # SHA-256 of the raw 32-byte public key
    algorithm: Literal["ed25519"] = "ed25519"
    value: str  # base64

    def raw(self) -> bytes:
        try:
            return base64.b64decode(self.value, validate=True)
        except ValueError:
            raise BadInput(f"{self.role} signature is not valid base64") from None


class SignedGrant(_Frozen):
    """A grant file: the terms plus the signatures collected so far."""

    grant: GrantTerms
    signatures: tuple[Signature, ...] = ()

    def by_role(self, role: SignerRole) -> list[Signature]:
        return [s for s in self.signatures if s.role == role]


class Revocation(_Frozen):
    revocation_id: Identifier = Field(default_factory=lambda: new_id("revocation"))
    grant_id: Identifier
    revoked_by: Literal["performer", "guardian", "studio"]
    reason: PlainText = Field(default="", max_length=1000)
    revoked_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    signature: Signature | None = None  # over the revocation without this field


class Performer(_Frozen):
    performer_id: Identifier
    name: PlainText = Field(min_length=1, max_length=200)
    public_key_id: Sha256Hex
    date_of_birth: date | None = None
    guardian_key_id: Sha256Hex | None = None
    face_count: int = 0
    has_voice: bool = False
    created_at: AwareDatetime

    def adult_on(self) -> datetime | None:
        """When a performer registered as a minor turns 18 (None if no birth date)."""
        if self.date_of_birth is None:
            return None
        dob = self.date_of_birth
        try:
            birthday = dob.replace(year=dob.year + ADULT_AGE_YEARS)
        except ValueError:  # 29 February
            birthday = dob.replace(year=dob.year + ADULT_AGE_YEARS, day=28)
        return datetime(birthday.year, birthday.month, birthday.day, tzinfo=UTC)


class FaceTrackEvidence(_Frozen):
    """One face followed through the source: when it is seen and a few of its embeddings
    (well-spaced, sharp, frontal frames), for the gate's identity decision."""

    track_id: int = Field(ge=0)
    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)
    samples: int = Field(ge=1)  # sampled frames in which this face was seen
    embeddings: tuple[tuple[float, ...], ...] = Field(min_length=1)


class IdentityTrack(_Frozen):
    """The gate's verdict on one face track, kept in the decision (and so the ledger)."""

    track_id: int
    start_s: float
    end_s: float
    distance: float
    performer: bool


class RenderRequest(_Frozen):
    """What a render asks the gate for. ``face_tracks`` come from the source media;
    ``face_scope`` says whether the render publishes every face as the performer's
    (``every_face``: stamp) or alters only the performer's (``one_face``: lip-sync,
    reenactment, which leave the other tracks untouched)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    document_name: ClassVar[str] = "request"

    performer_id: Identifier
    uses: Annotated[tuple[Use, ...], AfterValidator(_sorted_unique)] = Field(min_length=1)
    language: Language | None = None
    territory: Territory | None = None
    production: Identifier | None = None
    at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    face_tracks: tuple[FaceTrackEvidence, ...] = ()
    face_scope: Literal["every_face", "one_face"] = "every_face"
    reserve: bool = True  # take one render from the budget when allowed
    purpose: str = ""


class Decision(_Frozen):
    """The gate's answer for one request: allowed or not, with every reason and what it saw."""

    decision_id: Identifier = Field(default_factory=lambda: new_id("decision"))
    allowed: bool
    performer_id: Identifier
    uses: tuple[Use, ...]
    language: str | None
    territory: str | None
    production: str | None
    reasons: tuple[str, ...]
    grant_ids: tuple[str, ...]
    registry_state: str  # hash of the grants/revocations the gate read
    decided_at: AwareDatetime
    identity_distance: float | None = None
    identity_threshold: float | None = None  # the threshold the identity decision used
    identity_tracks: tuple[IdentityTrack, ...] = ()  # which face tracks are the performer's
    render_id: RenderId | None = None  # reserved for the render when allowed and reserved
