"""The studio's copy of every manifest store it signed, by render id.

Why keep them: a copy whose manifest was stripped (re-encoded, uploaded to a platform)
still carries the watermark, and the C2PA Soft Binding Resolution API promises to hand
back the manifest for a watermark value. The store is public data (it is embedded in
the published file), so keeping it leaks nothing.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

STORE_DIR = "manifests"
STORE_SUFFIX = ".c2pa"
STORE_MEDIA_TYPE = "application/c2pa"
_RENDER_ID = re.compile(r"^[0-9a-f]{16}$")

__all__ = ["STORE_MEDIA_TYPE", "load_store", "manifest_label", "save_store", "stored_ids"]


def _path(c2pa_dir: Path, render_id: str) -> Path:
    if not _RENDER_ID.fullmatch(render_id):
        raise ValueError(f"not a render id: {render_id!r}")
    return c2pa_dir / STORE_DIR / f"{render_id}{STORE_SUFFIX}"


def save_store(c2pa_dir: Path, *, render_id: str, store: bytes) -> None:
    """Write the store atomically (temp file, fsync, rename), replacing none: a render id
    is published once."""
    path = _path(c2pa_dir, render_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(store)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def load_store(c2pa_dir: Path, render_id: str) -> bytes | None:
    try:
        return _path(c2pa_dir, render_id).read_bytes()
    except (OSError, ValueError):
        return None


def stored_ids(c2pa_dir: Path) -> list[str]:
    folder = c2pa_dir / STORE_DIR
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob(f"*{STORE_SUFFIX}") if _RENDER_ID.fullmatch(p.stem))


def manifest_label(store: bytes) -> str | None:
    """The active manifest's label (``urn:c2pa:...``) of a stored manifest store."""
    import c2pa  # deferred: loads a native library

    try:
        with c2pa.Reader(STORE_MEDIA_TYPE, io.BytesIO(store)) as reader:
            label = json.loads(reader.json()).get("active_manifest")
    except c2pa.C2paError:
        return None
    return label if isinstance(label, str) else None
