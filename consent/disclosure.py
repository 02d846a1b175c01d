"""Selective disclosure of a grant: what the performer signs, minus the private values.

Why: a published file should carry the grant exactly as the performer signed it, so
anyone can check the consent offline; but compensation, the contract's hash and the
consent recording's hash are nobody else's business. As SD-JWT does, the signed form
replaces each private value with a salted digest, ``sha256(JCS([salt, name, value]))``;
the salts stay with the grant file (performer and studio), so the signature verifies
from the signed form alone and a value is revealed only by publishing its salt.
"""

from __future__ import annotations

import hashlib
from typing import Any

from consent.models import PRIVATE_FIELDS, GrantTerms, PrivateField
from consent.signing import canonical_json

DIGESTS_KEY = "private_digests"
FORMAT_1_ONLY_EXCLUDED = frozenset({"salts", "disclose"})  # fields format 1 never had

__all__ = ["DIGESTS_KEY", "disclosure_digest", "disclosures", "signed_form"]


def disclosure_digest(*, name: str, salt: str, value: Any) -> str:
    """The hex digest that stands for one private value in the signed form."""
    return hashlib.sha256(canonical_json([salt, name, value])).hexdigest()


def signed_form(grant: GrantTerms) -> dict[str, Any]:
    """The JSON object the performer and guardian sign for ``grant``.

    Format 1: every field, as it was signed before selective disclosure existed.
    Format 2: the public fields, with ``private_digests`` in place of the private ones.
    """
    # ``studio_key_id`` is left out when absent: grants signed before it existed verify
    absent = {"studio_key_id"} if grant.studio_key_id is None else set()
    if grant.schema_version == 1:
        return grant.model_dump(mode="json", exclude=set(FORMAT_1_ONLY_EXCLUDED) | absent)
    data = grant.model_dump(mode="json", exclude={"salts", *PRIVATE_FIELDS} | absent)
    data[DIGESTS_KEY] = {name: disclosure_digest(name=name, salt=grant.salts[name],
                                                 value=getattr(grant, name))
                         for name in PRIVATE_FIELDS}
    return data


def disclosures(grant: GrantTerms) -> dict[PrivateField, tuple[str, Any]]:
    """``field -> (salt, value)`` for the private fields the performer chose to publish."""
    return {name: (grant.salts[name], getattr(grant, name)) for name in grant.disclose}
