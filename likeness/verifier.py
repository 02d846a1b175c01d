"""The public verification service behind `likeness verifier`: anyone may check a file.

Why a service: the EU Code of Practice on marking and labelling asks providers for a
free way for third parties to check their outputs, and C2PA 2.2 defines a Soft Binding
Resolution API to recover a manifest from a watermark when the manifest was stripped.

What it serves:
* ``GET /`` -- a page where a visitor drops a file and reads the verdict;
* ``POST /api/v1/verify`` -- the file as the raw request body (``X-Filename`` names
  it), answered with the public part of `likeness verify --json`;
* after the C2PA Soft Binding Resolution API: ``GET /services/supportedAlgorithms``,
  ``GET /matches/byBinding?alg=&value=`` (watermark value -> manifest ids),
  ``POST /matches/byContent`` (a file -> its watermark -> manifest ids) and
  ``GET /manifests/{manifestId}`` (the stored manifest store, ``application/c2pa``).

Safety: uploads stream to a private temp file and stop at the size limit (413), each
client gets a fixed number of requests a minute (429), answers never name a path on
the server's disk, and they say nothing the manifest (or, for a stripped copy, the
ledger entry its watermark leads to) does not already state. Verification runs one at
a time: it is CPU-bound, and the registry's SQLite connection is not shared.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from likeness.errors import LikenessError
from likeness.studio import Studio

DEFAULT_PORT = 8765
DEFAULT_MAX_UPLOAD_BYTES = 512 * 1024 * 1024
DEFAULT_REQUESTS_PER_MINUTE = 30
CHUNK_BYTES = 1024 * 1024
_SAFE_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".m4a", ".jpg", ".jpeg", ".png", ".wav",
                            ".mp3", ".webp", ".avif", ".heic"})
_NAME_CHARS = re.compile(r"[^A-Za-z0-9._ -]")
_RENDER_ID = re.compile(r"^[0-9a-f]{16}$")

__all__ = ["DEFAULT_PORT", "RateLimiter", "VerifierConfig", "create_app"]


@dataclass(frozen=True)
class VerifierConfig:
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE


@dataclass
class RateLimiter:
    """A token bucket per client address: ``per_minute`` requests, refilled evenly."""

    per_minute: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, client: str) -> float | None:
        """None when allowed; else the seconds until the next request would be."""
        rate = self.per_minute / 60.0
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                return None
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / rate


def create_app(studio: Studio, config: VerifierConfig | None = None) -> FastAPI:
    """The service for ``studio`` (its keys, trust anchors, ledger and manifest stores)."""
    config = config or VerifierConfig()
    limiter = RateLimiter(config.requests_per_minute)
    work = threading.Lock()
    labels: dict[str, str] = {}  # manifest label -> render id, filled as stores are read
    app = FastAPI(title="Likeness verifier", docs_url=None, redoc_url=None,
                  openapi_url="/api/v1/openapi.json")

    @app.middleware("http")
    async def rate_limit(request: Request, call_next: Callable[[Request], Any]) -> Response:
        if request.url.path not in ("/", "/healthz"):
            client = request.client.host if request.client else "unknown"
            wait = limiter.allow(client)
            if wait is not None:
                return JSONResponse({"error": "too many requests"}, status_code=429,
                                    headers={"Retry-After": str(max(1, round(wait)))})
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return _PAGE.replace("{studio}", _html(studio.settings.studio.studio_name))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/verify")
    async def verify(request: Request) -> dict[str, Any]:
        name = _upload_name(request)
        with _Upload(request, config.max_upload_bytes, name) as upload:
            await upload.receive()

            def check() -> dict[str, Any]:
                with work:
                    report = studio.verify(upload.path)
                return _public_report(report.to_dict(), name=name, private=upload.folder)

            try:
                return await run_in_threadpool(check)
            except LikenessError as exc:
                raise HTTPException(400, _scrub(exc.message, upload.folder, name)) from None

    @app.get("/services/supportedAlgorithms")
    async def supported() -> dict[str, Any]:
        from provenance.watermark.audio import PUBLISHED_ALGORITHMS as AUDIO
        from provenance.watermark.video import ALGORITHM as VIDEO

        return {"watermarks": [{"alg": VIDEO}, *({"alg": alg} for alg in AUDIO)],
                "fingerprints": []}

    @app.get("/matches/byBinding")
    async def by_binding(alg: str = Query(min_length=1, max_length=100),
                         value: str = Query(min_length=1, max_length=100)) -> dict[str, Any]:
        from provenance.watermark.audio import PUBLISHED_ALGORITHMS as AUDIO
        from provenance.watermark.video import ALGORITHM as VIDEO

        if alg not in (VIDEO, *AUDIO):
            raise HTTPException(400, f"unsupported soft-binding algorithm {alg!r}")
        return await run_in_threadpool(_matches, value.lower())

    @app.post("/matches/byContent")
    async def by_content(request: Request) -> dict[str, Any]:
        name = _upload_name(request)
        with _Upload(request, config.max_upload_bytes, name) as upload:
            await upload.receive()

            def find() -> dict[str, Any]:
                from provenance.verify import detect_watermarks

                with work:
                    found = detect_watermarks(upload.path, studio.watermark_key)
                ids = sorted({f.render_id for f in found if f.found and f.render_id})
                matches = [m for rid in ids for m in _matches(rid)["matches"]]
                return {"matches": matches}

            try:
                return await run_in_threadpool(find)
            except LikenessError as exc:
                raise HTTPException(400, _scrub(exc.message, upload.folder, name)) from None

    @app.get("/manifests/{manifest_id}")
    async def manifest(manifest_id: str) -> Response:
        from provenance.c2pa.store import STORE_MEDIA_TYPE, load_store

        render_id = labels.get(manifest_id) or await run_in_threadpool(_find_label, manifest_id)
        store = load_store(studio.c2pa_dir, render_id) if render_id else None
        if store is None:
            raise HTTPException(404, "no such manifest")
        return Response(store, media_type=STORE_MEDIA_TYPE)

    def _matches(render_id: str) -> dict[str, Any]:
        """A published render whose manifest store the studio kept, as SBR matches."""
        from provenance.c2pa.store import load_store, manifest_label
        from provenance.ledger.log import entries_for_render

        if not _RENDER_ID.fullmatch(render_id):
            return {"matches": []}
        with work, studio.session() as session:
            published = any(r.kind == "render_published"
                            for r in entries_for_render(session, int(render_id, 16)))
        store = load_store(studio.c2pa_dir, render_id) if published else None
        label = manifest_label(store) if store else None
        if label is None:
            return {"matches": []}
        labels[label] = render_id
        return {"matches": [{"manifestId": label, "similarityScore": 100}]}

    def _find_label(manifest_id: str) -> str | None:
        from provenance.c2pa.store import load_store, manifest_label, stored_ids

        for render_id in stored_ids(studio.c2pa_dir):
            store = load_store(studio.c2pa_dir, render_id)
            label = manifest_label(store) if store else None
            if label is not None:
                labels[label] = render_id
        return labels.get(manifest_id)

    return app


class _Upload:
    """The request body streamed to a private temp folder, never past the size limit."""

    def __init__(self, request: Request, limit: int, name: str) -> None:
        self.request, self.limit = request, limit
        self.folder = Path(tempfile.mkdtemp(prefix="likeness-verifier-"))
        suffix = Path(name).suffix.lower()
        self.path = self.folder / f"upload{suffix if suffix in _SAFE_SUFFIXES else '.mp4'}"

    def __enter__(self) -> _Upload:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    async def receive(self) -> None:
        declared = self.request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            raise HTTPException(413, f"the file is larger than {self.limit} bytes")
        size = 0
        with open(self.path, "wb") as handle:
            async for chunk in self.request.stream():
                size += len(chunk)
                if size > self.limit:
                    raise HTTPException(413, f"the file is larger than {self.limit} bytes")
                handle.write(chunk)
        if size == 0:
            raise HTTPException(400, "empty upload: send the file as the request body")


def _upload_name(request: Request) -> str:
    raw = request.headers.get("x-filename", "upload.mp4")
    name = _NAME_CHARS.sub("_", Path(raw.replace("\\", "/")).name)[:120]
    return name or "upload.mp4"


def _scrub(text: str, private: Path, name: str) -> str:
    """Replace any mention of the server's temp folder by the visitor's file name."""
    text = text.replace(str(private / "upload"), name)
    return re.sub(re.escape(str(private)) + r"[^\s:;,]*", name, text)


def _public_report(report: dict[str, Any], *, name: str, private: Path) -> dict[str, Any]:
    """`verify --json` minus the server's paths, scrubbed of any the messages carry."""
    report = dict(report)
    report["file"] = name
    report["reasons"] = [_scrub(r, private, name) for r in report.get("reasons", [])]
    return report


def _html(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Verify a file from {studio}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
#drop{border:2px dashed #789;border-radius:8px;padding:2rem;text-align:center}
#status{font-size:2rem;font-weight:bold;margin:1rem 0}
.intact{color:#1a7f37}.derived{color:#9a6700}.tampered{color:#cf222e}.unknown{color:#8250df}
dt{font-weight:bold;margin-top:.6rem}pre{white-space:pre-wrap;background:#f6f8fa;padding:.5rem}
</style></head><body>
<h1>Is this file from {studio}?</h1>
<p>Drop a video or image: it is checked for the studio's C2PA content credentials,
its invisible watermark and its ledger entry. Nothing is kept.</p>
<div id="drop"><input type="file" id="file" aria-label="file to verify"></div>
<div id="status" role="status"></div>
<dl id="details"></dl>
<script>
const statusEl = document.getElementById("status"), details = document.getElementById("details");
function row(term, value) {
  if (value === undefined || value === null || value === "") return;
  const dt = document.createElement("dt"); dt.textContent = term;
  const dd = document.createElement("dd"); dd.textContent = value;
  details.append(dt, dd);
}
async function check(file) {
  statusEl.textContent = "checking…"; statusEl.className = ""; details.textContent = "";
  const reply = await fetch("/api/v1/verify", {method: "POST", body: file,
    headers: {"Content-Type": "application/octet-stream", "X-Filename": file.name}});
  const data = await reply.json();
  if (!reply.ok) { statusEl.textContent = "error: " + (data.detail || data.error); return; }
  statusEl.textContent = data.status; statusEl.className = data.status;
  row("Render", data.render_id);
  row("Performer", data.performer_id);
  row("Rendered", data.rendered_at);
  const m = data.manifest || {};
  row("Content credentials", (m.validation_state || "none") +
      (m.timestamp ? ", time-stamped " + m.signature_time : ""));
  for (const g of (data.consent || {}).grants || []) {
    row("Consent " + g.grant_id, (g.verified ? "verified from the file: " : "NOT verified: ") +
        (g.description || "") + " (uses: " + (g.uses || []).join(", ") + ")");
  }
  (data.chain || []).forEach((link, i) => row(i ? "Made from" : "This file",
      (link.title || "?") + (link.render_id ? " (render " + link.render_id + ")" : "") +
      (link.signed_at ? ", signed " + link.signed_at : "")));
  row("Label", (data.manifest || {}).present ? "AI-generated or AI-altered media" : "");
  if ((data.reasons || []).length) row("Why", data.reasons.join("; "));
}
document.getElementById("file").addEventListener("change", e => {
  if (e.target.files.length) check(e.target.files[0]);
});
const drop = document.getElementById("drop");
drop.addEventListener("dragover", e => e.preventDefault());
drop.addEventListener("drop", e => { e.preventDefault();
  if (e.dataTransfer.files.length) check(e.dataTransfer.files[0]); });
</script></body></html>
"""
