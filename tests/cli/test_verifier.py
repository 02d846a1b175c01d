"""The public verification service, tested over real HTTP: uvicorn on 127.0.0.1 and an
httpx client; a published file, a stripped copy, tampering, limits and the resolver."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from likeness.settings import load_settings
from likeness.studio import Studio
from likeness.verifier import RateLimiter, VerifierConfig, create_app
from provenance.watermark.video import ALGORITHM as VIDEO_ALGORITHM
from tests.support.cli import run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant

UPLOAD_LIMIT = 4 * 1024 * 1024


@dataclass
class Published:
    out: Path
    stripped: Path
    clip: Path
    render_id: str
    grant_id: str


@pytest.fixture
def published(sqlite_home: Path, tmp_path: Path) -> Published:
    key = add_performer(tmp_path)
    gid = registered_grant(tmp_path, key, "ava", "--language", "es")
    clip = face_clip(tmp_path / "ava.mp4", seconds=3.0)
    out = tmp_path / "published.mp4"
    r = run_cli("stamp", clip, "--performer", "ava", "--use", "dubbing", "--use", "lip_sync",
                "--language", "es", "--out", out, "--json")
    assert r.code == 0, r.err
    stripped = tmp_path / "stripped.mp4"  # re-encoded: the manifest is gone, the mark stays
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(out), "-c:v", "libx264",
                    "-crf", "23", "-c:a", "aac", str(stripped)], check=True)
    return Published(out, stripped, clip, r.json()["render_id"], gid)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def service(published: Published) -> Iterator[str]:
    studio = Studio(load_settings())
    app = create_app(studio, VerifierConfig(max_upload_bytes=UPLOAD_LIMIT,
                                            requests_per_minute=600))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    studio.close()


def _verify(base: str, path: Path, name: str | None = None) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/verify", content=path.read_bytes(), timeout=120,
                      headers={"X-Filename": name or path.name,
                               "Content-Type": "application/octet-stream"})


def test_the_api_says_intact_derived_tampered_and_unknown(
        service: str, published: Published, tmp_path: Path) -> None:
    r = _verify(service, published.out)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["status"] == "intact" and report["render_id"] == published.render_id
    assert report["file"] == "published.mp4"
    assert report["consent"]["verified"] is True
    assert report["consent"]["grants"][0]["grant_id"] == published.grant_id
    assert report["chain"][0]["render_id"] == published.render_id
    assert "likeness-verifier-" not in r.text and str(tmp_path) not in r.text  # no paths

    derived = _verify(service, published.stripped).json()
    assert derived["status"] == "derived" and derived["render_id"] == published.render_id

    data = bytearray(published.out.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    assert _verify(service, tampered).json()["status"] == "tampered"

    assert _verify(service, published.clip).json()["status"] == "unknown"


def test_soft_binding_resolution_recovers_the_manifest_of_a_stripped_copy(
        service: str, published: Published) -> None:
    algorithms = httpx.get(f"{service}/services/supportedAlgorithms").json()
    assert {"alg": VIDEO_ALGORITHM} in algorithms["watermarks"]

    by_content = httpx.post(f"{service}/matches/byContent", timeout=120,
                            content=published.stripped.read_bytes()).json()
    [match] = by_content["matches"]
    by_binding = httpx.get(f"{service}/matches/byBinding",
                           params={"alg": VIDEO_ALGORITHM, "value": published.render_id}).json()
    assert by_binding["matches"] == [match]
    store = httpx.get(f"{service}/manifests/{match['manifestId']}")
    assert store.status_code == 200
    assert store.headers["content-type"] == "application/c2pa"
    assert store.content in published.out.read_bytes()  # the very store the file carries

    assert httpx.get(f"{service}/matches/byBinding", params={
        "alg": VIDEO_ALGORITHM, "value": "00" * 8}).json() == {"matches": []}
    assert httpx.get(f"{service}/matches/byBinding", params={
        "alg": "someone.else/1", "value": published.render_id}).status_code == 400
    assert httpx.get(f"{service}/manifests/urn:c2pa:nothing").status_code == 404


def test_uploads_over_the_limit_empty_or_not_media_are_refused(
        service: str, tmp_path: Path) -> None:
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (UPLOAD_LIMIT + 1))
    assert _verify(service, big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the stream itself is counted
        for _ in range(5):
            yield b"\0" * (1024 * 1024)

    streamed = httpx.post(f"{service}/api/v1/verify", content=chunks(), timeout=60)
    assert streamed.status_code == 413
    empty = httpx.post(f"{service}/api/v1/verify", content=b"")
    assert empty.status_code == 400
    text = tmp_path / "notes.txt"
    text.write_text("not a video at all")
    r = _verify(service, text, name="../../etc/passwd")
    assert r.status_code == 400 and r.json()["detail"]
    assert "likeness-verifier-" not in r.text and "/etc/" not in r.text


def test_the_page_offers_the_upload(service: str) -> None:
    page = httpx.get(f"{service}/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'type="file"' in page.text and "/api/v1/verify" in page.text
    assert "Test Studio" in page.text


def test_each_client_gets_a_fixed_number_of_requests_a_minute() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=3, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(3)] == [None, None, None]
    wait = limiter.allow("a")
    assert wait is not None and 19 < wait <= 20
    assert limiter.allow("b") is None  # another client has its own bucket
    now[0] += 20.0
    assert limiter.allow("a") is None


def test_the_service_answers_429_past_the_rate_limit(published: Published) -> None:
    studio = Studio(load_settings())
    try:
        transport = httpx.ASGITransport(app=create_app(studio, VerifierConfig(
            requests_per_minute=2)))

        async def burst() -> list[int]:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return [(await client.get("/services/supportedAlgorithms")).status_code
                        for _ in range(3)]

        import asyncio

        assert asyncio.run(burst()) == [200, 200, 429]
    finally:
        studio.close()


def test_the_command_refuses_a_busy_port(sqlite_home: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        r = run_cli("verifier", "--port", str(port))
    assert r.code == 2 and r.err.startswith("error: cannot listen")


# --- the page in a real browser ----------------------------------------------------------

RESULTS = Path(__file__).resolve().parents[2] / "test-results"


def _chromium() -> str | None:
    return next((found for name in ("chromium", "chromium-headless-shell", "chromium-browser")
                 if (found := shutil.which(name))), None)


class _Cdp:
    """The few Chrome DevTools Protocol calls the test needs, over one page's websocket."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self.socket = connect(url, max_size=64 * 1024 * 1024, open_timeout=30)
        self.next_id = 0

    def call(self, method: str, **params: object) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str) -> object:
        return self.call("Runtime.evaluate", expression=expression,
                         returnByValue=True)["result"].get("value")


def _wait(predicate: Callable[[], bool], *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_visitor_drops_a_published_file_and_reads_intact(
        service: str, published: Published, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("needs Debian's chromium (make system-deps installs it)")
    port = _free_port()
    process = subprocess.Popen(
        [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--remote-debugging-port={port}", f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1000,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pages: list[dict] = []

        def page_listed() -> bool:
            try:
                listed = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
            except httpx.HTTPError:
                return False
            pages[:] = [t for t in listed if t.get("type") == "page"]
            return bool(pages)

        _wait(page_listed, seconds=60, what="chromium's DevTools endpoint")
        cdp = _Cdp(pages[0]["webSocketDebuggerUrl"])
        cdp.call("Page.enable")
        cdp.call("Page.navigate", url=f"{service}/")
        _wait(lambda: cdp.evaluate("document.readyState === 'complete' && "
                                   "!!document.getElementById('file')") is True,
              seconds=30, what="the page")
        root = cdp.call("DOM.getDocument")["root"]["nodeId"]
        node = cdp.call("DOM.querySelector", nodeId=root, selector="#file")["nodeId"]
        cdp.call("DOM.setFileInputFiles", nodeId=node, files=[str(published.out)])
        status = "document.getElementById('status').textContent"
        _wait(lambda: cdp.evaluate(status) not in ("", "checking…"), seconds=180,
              what="the verdict")
        assert cdp.evaluate(status) == "intact"
        details = str(cdp.evaluate("document.getElementById('details').textContent"))
        assert published.render_id in details and "verified from the file" in details
        RESULTS.mkdir(exist_ok=True)
        shot = cdp.call("Page.captureScreenshot", format="png")["data"]
        screenshot = RESULTS / "verifier-intact.png"
        screenshot.write_bytes(base64.b64decode(shot))
        assert screenshot.stat().st_size > 1000
        cdp.socket.close()
    finally:
        process.terminate()
        process.wait(timeout=20)
