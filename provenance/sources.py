"""What a render's source already carries: its C2PA manifest and the studio's watermark.

Why the publish path looks: a source that is itself a published file (a dub of a
stamped video, a batch that re-renders) must keep its history. The SDK embeds the
source's manifest store in the new one as the ``parentOf`` ingredient; this module
states which manifest that was, how it validated, and which studio render ids the
source's marks carry, so a second mark laid on top never silently replaces the first.
"""

from __future__ import annotations

from pathlib import Path

from likeness.errors import BadInput
from media.digest import sha256_file
from provenance.c2pa import SourceAssertion, read_manifest
from provenance.verify import detect_watermarks

__all__ = ["inspect_source"]


def inspect_source(path: Path, *, watermark_key: bytes,
                   trust_anchor_pem: bytes | None) -> SourceAssertion:
    """The `SourceAssertion` for ``path``; media C2PA or the decoder cannot read is recorded
    as carrying nothing (the render itself already read it, so that is not an error)."""
    manifest_label = validation = None
    try:
        manifest = read_manifest(path, trust_anchor_pem=trust_anchor_pem)
    except BadInput:
        manifest = None
    if manifest is not None and manifest.present:
        manifest_label, validation = manifest.active_manifest_label, manifest.validation_state
    try:
        findings = detect_watermarks(path, watermark_key)
    except BadInput:
        findings = ()
    ids = tuple(sorted({f.render_id for f in findings if f.found and f.render_id}))
    return SourceAssertion(title=path.name, sha256=sha256_file(path),
                           c2pa_manifest=manifest_label, c2pa_validation=validation,
                           watermark_render_ids=ids)
