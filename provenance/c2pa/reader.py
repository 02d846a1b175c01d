"""Read and validate a file's C2PA manifest, offline, into a plain report.

Why a report rather than exceptions for bad manifests: `likeness verify` must
tell apart "no manifest" (maybe a derived copy), "manifest but tampered" and
"signed by us and trusted". So only an unreadable or unsupported *file* raises
(`BadInput`); everything about the manifest itself is data in `ManifestReport`.

Trust: c2pa-rs checks the signing chain against a trust list. The studio's root
certificate is passed as a *user anchor* through a per-call c2pa ``Context``
(``trust.user_anchors``), so validation reports ``Trusted`` for our own chain
without touching any global SDK state. Remote manifests and OCSP are never
fetched: verification is offline by construction.
"""

from __future__ import annotations

import json
import mmap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from likeness.errors import BadInput

ValidationState = Literal["Trusted", "Valid", "Invalid"]
TimestampState = Literal["trusted", "validated", "invalid"]
_ASSERTION_URL_PREFIX = "self#jumbf=c2pa.assertions/"
UNTRUSTED_SIGNER_CODE = "signingCredential.untrusted"
_C2PA_MARKER = b"c2pa"
_OFFLINE_VERIFY_SETTINGS: dict[str, Any] = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
}

__all__ = ["ChainLink", "ManifestReport", "TimestampState", "UNTRUSTED_SIGNER_CODE",
           "ValidationState",
           "read_manifest"]


@dataclass(frozen=True)
class ChainLink:
    """One manifest in a file's provenance chain: the active one first, then each
    ``parentOf`` ingredient's manifest in turn (what the file was made from).

    ``ingredient_failures`` are the failure codes the SDK recorded for this manifest as
    an ingredient (empty for the active manifest, whose failures are the report's);
    "untrusted" is left out, since the signer's SDK judged it without the reader's
    trust anchors.
    """

    label: str
    title: str | None
    claim_generator: str | None
    signature_issuer: str | None
    signature_time: str | None
    actions: list[dict[str, Any]]
    assertions: dict[str, Any]
    ingredient_failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ManifestReport:
    """What a file's C2PA manifest store says, and whether it holds up.

    ``errors`` lists every validation failure of the active manifest as
    ``"code: explanation"``; a ``Valid`` (untrusted) report carries
    `UNTRUSTED_SIGNER_CODE` there. A manifest store that cannot even be parsed
    is reported ``Invalid`` with the SDK's message. ``signature_time`` is the
    RFC 3161 time-stamp's time when the signature carries one; ``timestamp`` says
    how it held up (``trusted``: the TSA chains to a given anchor; ``validated``: the
    token matches the signature, TSA not anchored; ``invalid``; None: no time-stamp).
    ``created_assertions`` are the labels the claim attributes to the signer.
    """

    present: bool
    validation_state: ValidationState | None = None
    errors: list[str] = field(default_factory=list)
    active_manifest_label: str | None = None
    title: str | None = None
    assertions: dict[str, Any] = field(default_factory=dict)
    ingredient_titles: list[str] = field(default_factory=list)
    claim_generator: str | None = None
    signature_issuer: str | None = None
    signature_common_name: str | None = None
    signature_time: str | None = None
    timestamp: TimestampState | None = None
    created_assertions: list[str] = field(default_factory=list)
    chain: list[ChainLink] = field(default_factory=list)

    @property
    def trusted(self) -> bool:
        """True only for a manifest that validated and chains to a given trust anchor."""
        return self.validation_state == "Trusted"

    @property
    def actions(self) -> list[dict[str, Any]]:
        """The entries of the ``c2pa.actions`` assertion (any version), in order."""
        return _actions_of(self.assertions)


def _actions_of(assertions: dict[str, Any]) -> list[dict[str, Any]]:
    for label, data in assertions.items():
        if label.split(".v")[0] == "c2pa.actions" and isinstance(data, dict):
            return list(data.get("actions", []))
    return []


def read_manifest(path: Path, *, trust_anchor_pem: bytes | None) -> ManifestReport:
    """Read ``path``'s C2PA manifest store, validating it against ``trust_anchor_pem``.

    With no anchor, a correctly signed file is at best ``Valid`` (untrusted).
    Raises `BadInput` only when the file is missing, unreadable or a format C2PA
    does not support.
    """
    import c2pa  # deferred: loads a native library

    path = Path(path)
    if not path.is_file():
        raise BadInput(f"cannot read {path}: no such file")
    settings = dict(_OFFLINE_VERIFY_SETTINGS)
    if trust_anchor_pem is not None:
        try:
            anchors = trust_anchor_pem.decode("ascii")
        except UnicodeDecodeError as exc:
            raise BadInput("the C2PA trust anchor must be PEM text") from exc
        if "-----BEGIN CERTIFICATE-----" not in anchors:
            raise BadInput("the C2PA trust anchor is not a PEM certificate")
        settings["trust"] = {"user_anchors": anchors}

    try:
        with c2pa.Context.from_dict(settings) as context, open(path, "rb") as stream:
            reader = c2pa.Reader.try_create(None, stream, None, context)
            if reader is None:
                return ManifestReport(present=False)
            with reader:
                store = json.loads(reader.json())
                detailed = json.loads(reader.detailed_json())
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc}") from exc
    except (c2pa.C2paError.Io, c2pa.C2paError.FileNotFound) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from exc
    except c2pa.C2paError.NotSupported as exc:
        raise BadInput(f"{path.name} is not a media format C2PA can carry: {exc}") from exc
    except c2pa.C2paError as exc:
        if not _contains_c2pa_marker(path):
            raise BadInput(f"cannot parse {path.name} as media: {exc}") from exc
        detail = str(exc).strip().rstrip(":") or type(exc).__name__.lstrip("_")
        return ManifestReport(present=True, validation_state="Invalid",
                              errors=[f"manifest store unreadable: {detail}"])
    return _report_from_store(store, detailed)


def _report_from_store(store: dict[str, Any], detailed: dict[str, Any]) -> ManifestReport:
    """Flatten the SDK's manifest-store JSON into a `ManifestReport`."""
    label = store.get("active_manifest")
    manifest = store.get("manifests", {}).get(label, {}) if label else {}
    assertions = _assertions_of(manifest)
    signature = manifest.get("signature_info") or {}
    generator = _generator_of(manifest)
    state = store.get("validation_state")
    return ManifestReport(
        present=True,
        validation_state=state if state in ("Trusted", "Valid", "Invalid") else None,
        errors=_failures(store),
        active_manifest_label=label,
        title=manifest.get("title"),
        assertions=assertions,
        ingredient_titles=[i.get("title", "") for i in manifest.get("ingredients", [])],
        claim_generator=generator,
        signature_issuer=signature.get("issuer"),
        signature_common_name=signature.get("common_name"),
        signature_time=signature.get("time"),
        timestamp=_timestamp_state(store),
        created_assertions=_created_labels(detailed),
        chain=_chain(store, label),
    )


def _assertions_of(manifest: dict[str, Any]) -> dict[str, Any]:
    assertions: dict[str, Any] = {}
    for assertion in manifest.get("assertions", []):
        key = assertion.get("label", "")
        if assertion.get("instance", 1) not in (None, 1):
            key = f"{key}__{assertion['instance']}"
        assertions[key] = assertion.get("data")
    return assertions


def _generator_of(manifest: dict[str, Any]) -> str | None:
    generators = manifest.get("claim_generator_info") or []
    if generators:
        first = generators[0]
        return f"{first.get('name', '')}/{first.get('version', '')}".rstrip("/")
    return manifest.get("claim_generator")


def _chain(store: dict[str, Any], label: str | None) -> list[ChainLink]:
    """The active manifest, then its ``parentOf`` ingredient's manifest, and so on (a
    manifest seen twice ends the walk, so a crafted store cannot loop it)."""
    manifests = store.get("manifests") or {}
    links: list[ChainLink] = []
    failures: list[str] = []
    seen: set[str] = set()
    while label and label in manifests and label not in seen:
        seen.add(label)
        manifest = manifests[label]
        signature = manifest.get("signature_info") or {}
        assertions = _assertions_of(manifest)
        links.append(ChainLink(
            label=label, title=manifest.get("title"), claim_generator=_generator_of(manifest),
            signature_issuer=signature.get("issuer"), signature_time=signature.get("time"),
            actions=_actions_of(assertions), assertions=assertions,
            ingredient_failures=failures))
        parent = next((i for i in manifest.get("ingredients") or []
                       if i.get("relationship") == "parentOf"), None)
        if parent is None:
            break
        label = parent.get("active_manifest")
        results = (parent.get("validation_results") or {}).get("activeManifest") or {}
        failures = [str(e.get("code", "?")) for e in results.get("failure") or []
                    if e.get("code") != UNTRUSTED_SIGNER_CODE]
    return links


def _timestamp_state(store: dict[str, Any]) -> TimestampState | None:
    """What the SDK's ``timeStamp.*`` status codes say about the signature's time-stamp."""
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    codes = {e.get("code", "") for kind in ("success", "informational", "failure")
             for e in results.get(kind) or []}
    failed = {e.get("code", "") for e in results.get("failure") or []}
    if any(c.startswith("timeStamp.") for c in failed):
        return "invalid"
    if "timeStamp.trusted" in codes:
        return "trusted"
    if "timeStamp.validated" in codes:
        return "validated"
    return None


def _created_labels(detailed: dict[str, Any]) -> list[str]:
    """Labels in the active claim's ``created_assertions`` (C2PA 2.x claims only)."""
    label = detailed.get("active_manifest")
    claim = (detailed.get("manifests", {}).get(label) or {}).get("claim") or {}
    return [str(ref.get("url", "")).removeprefix(_ASSERTION_URL_PREFIX)
            for ref in claim.get("created_assertions") or []]


def _failures(store: dict[str, Any]) -> list[str]:
    """Failure codes of the active manifest (falling back to the flat status list)."""
    results = store.get("validation_results") or {}
    entries = (results.get("activeManifest") or {}).get("failure")
    if entries is None:
        entries = store.get("validation_status") or []
    return [f"{e.get('code', '?')}: {e.get('explanation', '')}".rstrip(": ") for e in entries]


def _contains_c2pa_marker(path: Path) -> bool:
    """Whether the file holds C2PA JUMBF bytes at all (tampered store vs. not media)."""
    try:
        with open(path, "rb") as handle:
            if path.stat().st_size == 0:
                return False
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
                return view.find(_C2PA_MARKER) != -1
    except (OSError, ValueError):
        return False
