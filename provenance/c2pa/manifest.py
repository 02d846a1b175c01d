"""Build and sign the studio's C2PA manifest into a rendered file.

Why a spec model in front of the SDK: c2pa-rs validates the manifest only after
signing and answers with terse codes (``assertion.action.malformed``). The rules
it enforces that our renders can hit are checked here first, each with a
message that says what to change:

* the first action must be ``c2pa.created`` (new media) or ``c2pa.opened`` (an
  edit of the parent ingredient) — added for the caller when missing;
* ``c2pa.translated`` needs ``sourceLanguage`` and ``targetLanguage``;
* ``c2pa.watermarked`` and ``c2pa.watermarked.bound`` need a C2PA soft-binding
  assertion, whose algorithm must be on the C2PA list — ours is not, so the
  studio's watermark is declared as `WATERMARK_ACTION` (``c2pa.watermarked.unbound``)
  plus the studio's own watermark assertion (`provenance.c2pa.assertions`);
* ``c2pa.*`` labels are reserved: custom assertions use our own namespace.

The IPTC digital source type is attached to every action that changes content,
which is where C2PA-aware viewers look for "made with AI".

Created, not gathered (C2PA 2.2 §10.2.2): the actions and every studio assertion
are marked ``created``, so they sit in the claim's ``created_assertions`` and are
attributed to the signer; gathered assertions are "not attributed to the signer" and
a validator may ignore them. Ingredients stay where the SDK puts them.

Time-stamps: with a TSA URL the SDK asks that RFC 3161 authority to countersign the
COSE signature, so the file keeps validating after the leaf certificate expires.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from likeness.errors import BadInput, IntegrityFailure, InternalError
from provenance.c2pa.certs import CertChainPaths, load_signing_material

IPTC_DIGITAL_SOURCE_TYPE_URL = "http://cv.iptc.org/newscodes/digitalsourcetype/"
DigitalSourceType = Literal["trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"]
IngredientRelationship = Literal["parentOf", "componentOf", "inputTo"]

CREATED_ACTION = "c2pa.created"
OPENED_ACTION = "c2pa.opened"
TRANSLATED_ACTION = "c2pa.translated"
WATERMARK_ACTION = "c2pa.watermarked.unbound"
"""The action for our own watermark: C2PA's "bound" form needs a listed soft-binding algorithm."""
_BOUND_WATERMARK_ACTIONS = frozenset({"c2pa.watermarked", "c2pa.watermarked.bound"})
_ACTIONS_WITHOUT_SOURCE_TYPE = frozenset({OPENED_ACTION, WATERMARK_ACTION})
_INGREDIENT_LABEL = "likeness-source"
_SIGNING_ALGORITHM = "es256"

__all__ = [
    "C2paAction",
    "C2paIngredientSpec",
    "C2paManifestSpec",
    "DigitalSourceType",
    "WATERMARK_ACTION",
    "digital_source_type_url",
    "sign_media",
]


def digital_source_type_url(source_type: DigitalSourceType) -> str:
    """The full IPTC NewsCodes URL C2PA expects for ``digitalSourceType``."""
    return IPTC_DIGITAL_SOURCE_TYPE_URL + source_type


class C2paAction(BaseModel):
    """One entry of the ``c2pa.actions`` assertion.

    ``description`` is the actions-v2 top-level field that readers show; a
    ``description`` handed in ``parameters`` (the v1 habit) is moved there, so the
    written manifest always uses the standard place.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: str = Field(pattern=r"^[a-z][a-z0-9_-]*(\.[a-zA-Z0-9_-]+)+$")
    description: str | None = Field(default=None, min_length=1)
    parameters: dict[str, JsonValue] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _lift_description(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        parameters = data.get("parameters")
        if isinstance(parameters, dict) and "description" in parameters:
            parameters = dict(parameters)
            lifted = parameters.pop("description")
            if data.get("description") not in (None, lifted):
                raise ValueError("description given twice (top level and in parameters)")
            data = {**data, "description": lifted, "parameters": parameters}
        return data

    @model_validator(mode="after")
    def _check_c2pa_rules(self) -> C2paAction:
        if self.action in _BOUND_WATERMARK_ACTIONS:
            raise ValueError(
                f"{self.action} requires a C2PA soft-binding assertion with a listed algorithm; "
                f"declare the studio watermark as {WATERMARK_ACTION!r} instead")
        if self.action == TRANSLATED_ACTION:
            missing = [k for k in ("sourceLanguage", "targetLanguage")
                       if not isinstance(self.parameters.get(k), str) or not self.parameters[k]]
            if missing:
                raise ValueError(f"c2pa.translated needs parameters {', '.join(missing)}")
        return self


class C2paIngredientSpec(BaseModel):
    """The source media the render was made from, recorded as an ingredient."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path
    title: str = Field(min_length=1)
    format: str = "video/mp4"
    relationship: IngredientRelationship = "parentOf"


class C2paManifestSpec(BaseModel):
    """Everything the studio states in one file's manifest; validated before signing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1)
    format: str = "video/mp4"
    claim_generator_name: str = "likeness-studio"
    claim_generator_version: str = "0.1.0"
    digital_source_type: DigitalSourceType
    actions: tuple[C2paAction, ...] = ()
    ingredient: C2paIngredientSpec | None = None
    custom_assertions: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("custom_assertions")
    @classmethod
    def _check_labels(cls, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        for label in value:
            if label.startswith("c2pa.") or "." not in label:
                raise ValueError(
                    f"custom assertion label {label!r} must be namespaced (e.g. "
                    "'com.example.likeness.consent') and must not use the reserved 'c2pa.' prefix")
        return value

    @model_validator(mode="after")
    def _check_first_action(self) -> C2paManifestSpec:
        has_parent = self.ingredient is not None and self.ingredient.relationship == "parentOf"
        names = [a.action for a in self.actions]
        if CREATED_ACTION in names and has_parent:
            raise ValueError("c2pa.created describes new media; with a parent ingredient the "
                             "first action is c2pa.opened (added automatically)")
        if OPENED_ACTION in names and not has_parent:
            raise ValueError("c2pa.opened needs a parentOf ingredient")
        for name in (CREATED_ACTION, OPENED_ACTION):
            if name in names[1:] or names.count(name) > 1:
                raise ValueError(f"{name} may only appear once, as the first action")
        return self

    def manifest_definition(self) -> dict[str, Any]:
        """The manifest JSON handed to the c2pa Builder (every assertion ``created``)."""
        source_type_url = digital_source_type_url(self.digital_source_type)
        has_parent = self.ingredient is not None and self.ingredient.relationship == "parentOf"
        actions = [a.model_dump(mode="json", exclude_none=True) for a in self.actions]
        first = actions[0]["action"] if actions else None
        if first not in (CREATED_ACTION, OPENED_ACTION):
            actions.insert(0, {"action": OPENED_ACTION if has_parent else CREATED_ACTION,
                               "parameters": {}})
        for entry in actions:
            if entry["action"] == OPENED_ACTION:
                entry["parameters"].setdefault("ingredientIds", [_INGREDIENT_LABEL])
            if entry["action"] not in _ACTIONS_WITHOUT_SOURCE_TYPE:
                entry["digitalSourceType"] = source_type_url
            if not entry.get("parameters"):
                entry.pop("parameters", None)
        assertions: list[dict[str, Any]] = [
            {"label": "c2pa.actions", "data": {"actions": actions}, "created": True}]
        assertions += [{"label": label, "data": data, "created": True}
                       for label, data in self.custom_assertions.items()]
        return {
            "claim_generator_info": [{"name": self.claim_generator_name,
                                      "version": self.claim_generator_version}],
            "title": self.title,
            "format": self.format,
            "assertions": assertions,
        }


def sign_media(*, source: Path, dest: Path, chain: CertChainPaths,
               manifest: C2paManifestSpec, tsa_url: str | None = None) -> bytes:
    """Embed ``manifest``, signed with the studio leaf key (ES256), writing ``dest``; returns
    the signed manifest store (JUMBF bytes) the SDK embedded.

    With ``tsa_url`` the signature carries an RFC 3161 time-stamp from that authority
    (a TSA that cannot be reached fails the signing: a file promised a time-stamp
    must not go out without one).

    ``dest`` is written in place (the publisher passes a temp path in the final
    directory and renames it itself). On failure a ``dest`` that did not exist
    before is removed, so no half-signed file is left behind.
    """
    source, dest = Path(source), Path(dest)
    if not source.is_file():
        raise BadInput(f"cannot sign {source}: no such file")
    if dest.exists() and dest.resolve() == source.resolve():
        raise BadInput("C2PA signing needs a destination different from the source")
    if manifest.ingredient is not None and not manifest.ingredient.path.is_file():
        raise BadInput(f"C2PA ingredient {manifest.ingredient.path} does not exist")
    if tsa_url is not None and not tsa_url.startswith(("http://", "https://")):
        raise BadInput(f"time-stamp authority URL {tsa_url!r} must start with http(s)://")
    material = load_signing_material(chain)

    dest_existed = dest.exists()
    try:
        return _sign(source=source, dest=dest, chain_pem=material.chain_pem,
                     key_pem=material.key_pem, manifest=manifest, tsa_url=tsa_url)
    except BaseException:
        if not dest_existed:
            with contextlib.suppress(OSError):
                dest.unlink()
        raise


def _sign(*, source: Path, dest: Path, chain_pem: bytes, key_pem: bytes,
          manifest: C2paManifestSpec, tsa_url: str | None) -> bytes:
    """The SDK calls, with its exceptions translated into ours."""
    import c2pa  # deferred: loads a native library; only signing and verifying need it

    try:
        signer_info = c2pa.C2paSignerInfo(_SIGNING_ALGORITHM, chain_pem, key_pem,
                                          tsa_url.encode() if tsa_url else None)
        signer = c2pa.Signer.from_info(signer_info)
    except (c2pa.C2paError, ValueError) as exc:
        raise IntegrityFailure(
            f"the studio C2PA signing key or certificate chain was rejected: {exc}",
            hint="check that chain.pem matches leaf.key.pem, or recreate them with "
                 "`likeness init`") from exc
    try:
        with signer, c2pa.Builder(manifest.manifest_definition()) as builder:
            if manifest.ingredient is not None:
                spec = manifest.ingredient
                with open(spec.path, "rb") as ingredient_stream:
                    builder.add_ingredient(
                        {"title": spec.title, "relationship": spec.relationship,
                         "label": _INGREDIENT_LABEL},
                        spec.format, ingredient_stream)
            with open(source, "rb") as source_stream, open(dest, "w+b") as dest_stream:
                store = builder.sign(signer, manifest.format, source_stream, dest_stream)
                dest_stream.flush()
                os.fsync(dest_stream.fileno())
        return bytes(store)
    except OSError as exc:
        raise InternalError(f"I/O error while signing {source} into {dest}: {exc}") from exc
    except c2pa.C2paError as exc:
        raise _translate_signing_error(exc) from exc


def _translate_signing_error(exc: Exception) -> Exception:
    import c2pa

    message = str(exc).strip() or type(exc).__name__
    if isinstance(exc, c2pa.C2paError.Signature):
        return IntegrityFailure(f"C2PA signing failed: {message}",
                                hint="check the studio certificate chain's validity dates")
    if isinstance(exc, c2pa.C2paError.NotSupported):
        return BadInput(f"C2PA cannot sign this media format: {message}")
    if isinstance(exc, c2pa.C2paError.Verify):
        return InternalError(f"the C2PA SDK rejected the manifest the studio built: {message}")
    return InternalError(f"C2PA signing failed: {message}")
