"""Interop: two C2PA readers nobody here wrote read our outputs.

`@trustnxt/c2pa-ts` (an independent pure-TypeScript implementation) and
`@contentauth/c2pa-wasm` (c2pa-rs as WebAssembly) come from the npm registry into a
cache folder (``LIKENESS_INTEROP_CACHE``, default ``~/.cache/likeness/interop-npm``).
Skipped, with the reason, only when `npm`/`node` are absent.

Found out on the way: c2pa-ts reads ISO BMFF only for the HEIF brands (heic, mif1),
while our MP4s carry the standard ``isom`` brand (isom/iso2/avc1/mp41, as every ffmpeg
MP4); that is the reader's limitation, not our files', so the reader script widens its
brand set and the test says so. c2pa-ts also parses every time-stamp token as an RFC
3161 TimeStampResp, while C2PA 2.x ``sigTst2`` tokens (as c2pa-rs writes them) are bare
TimeStampTokens; the script wraps a bare token for it (``token_shim`` in its output), and
c2pa-ts then verifies the token itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from provenance.c2pa import C2paAction, C2paManifestSpec, sign_media
from provenance.c2pa.certs import CertChainPaths
from tests.support.cache_lock import exclusive
from tests.support.cli import run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant
from tests.support.tsa import LocalTsa, openssl_available, start_tsa

PACKAGES = ("@trustnxt/c2pa-ts@0.9.4", "@contentauth/c2pa-wasm@0.15.0")
SCRIPT = Path(__file__).with_name("read_c2pa.mjs")
NPM_TIMEOUT_SECONDS = 300

pytestmark = pytest.mark.skipif(shutil.which("npm") is None or shutil.which("node") is None,
                                reason="interop needs node and npm (Debian nodejs, npm)")


def _reader_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "likeness"
    cache = Path(os.environ.get("LIKENESS_INTEROP_CACHE", default / "interop-npm"))
    with exclusive(cache):
        _install_readers(cache)
    shutil.copy2(SCRIPT, cache / SCRIPT.name)
    return cache


def _install_readers(cache: Path) -> None:
    manifest = cache / "package.json"
    if not manifest.exists():
        manifest.write_text(json.dumps({"name": "likeness-interop", "private": True,
                                        "type": "module"}))
    installed = all((cache / "node_modules" / p.rsplit("@", 1)[0]).is_dir() for p in PACKAGES)
    if not installed:
        done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error",
                               *PACKAGES], cwd=cache, capture_output=True, text=True,
                              timeout=NPM_TIMEOUT_SECONDS, check=False)
        if done.returncode != 0:
            pytest.fail(f"npm install failed: {done.stderr.strip()[-500:]}")


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[LocalTsa]:
    if not openssl_available():
        pytest.skip("needs the openssl command line for the local RFC 3161 TSA")
    server = start_tsa(tmp_path / "tsa")
    yield server
    server.stop()


def _outputs(home: Path, tmp: Path, tsa: LocalTsa) -> dict[str, Path]:
    """A stamped file, a re-publish of it (the chain), an avatar-kind file, a tampered one."""
    config = home / "config.toml"
    config.write_text(config.read_text() + f'tsa_url = "{tsa.url}"\n')
    key = add_performer(tmp)
    registered_grant(tmp, key, "ava", "--language", "es")
    clip = face_clip(tmp / "ava.mp4", seconds=3.0)
    files = {"stamped": tmp / "stamped.mp4", "republished": tmp / "republished.mp4"}
    for source, out in ((clip, files["stamped"]), (files["stamped"], files["republished"])):
        r = run_cli("stamp", source, "--performer", "ava", "--use", "dubbing", "--use",
                    "lip_sync", "--language", "es", "--out", out)
        assert r.code == 0, r.err
    # avatars are not rendered yet: the avatar kind of manifest, signed by the studio chain
    files["avatar"] = tmp / "avatar.mp4"
    sign_media(source=clip, dest=files["avatar"],
               chain=CertChainPaths.in_directory(home / "c2pa"), tsa_url=tsa.url,
               manifest=C2paManifestSpec(
                   title="avatar.mp4", digital_source_type="trainedAlgorithmicMedia",
                   actions=(C2paAction(action="c2pa.created",
                                       description="new video of the performer from text"),)))
    data = bytearray(files["stamped"].read_bytes())
    data[len(data) // 2] ^= 0xFF
    files["tampered"] = tmp / "tampered.mp4"
    files["tampered"].write_bytes(bytes(data))
    return files


def test_both_readers_validate_our_outputs_with_time_stamp_and_created_actions(
        sqlite_home: Path, tmp_path: Path, tsa: LocalTsa) -> None:
    readers = _reader_dir()
    files = _outputs(sqlite_home, tmp_path, tsa)
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes((sqlite_home / "c2pa" / "root.pem").read_bytes() + b"\n" + tsa.root_pem)
    done = subprocess.run(["node", SCRIPT.name, str(anchors), *map(str, files.values())],
                          cwd=readers, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    print(done.stdout)  # the readers' own words, for the record (pytest -s shows them)
    by = {(r["file"], r["reader"]): r for r in results}

    for kind in ("stamped", "republished", "avatar"):
        name = files[kind].name
        ts, wasm = by[(name, "c2pa-ts")], by[(name, "c2pa-wasm")]
        assert ts["valid"] is True, ts
        assert any(uri.endswith("c2pa.actions.v2") for uri in ts["created_assertions"]), ts
        assert ts["timestamp"] is True, ts
        assert wasm["state"] == "Trusted", wasm
        # the token verifies (timeStamp.validated); c2pa-rs 0.92 in WASM calls our local
        # test TSA untrusted even with its root among the anchors (0.91 in c2pa-python
        # calls it trusted, see test_publish_c2pa.py): recorded, not asserted
        assert wasm["timestamp"] is True and wasm["signed_at"], wasm
        first = "c2pa.created" if kind == "avatar" else "c2pa.opened"
        assert ts["actions"][0] == first and wasm["actions"][0] == first
    assert by[(files["republished"].name, "c2pa-wasm")]["manifests"] >= 2  # the chain

    ts, wasm = by[("tampered.mp4", "c2pa-ts")], by[("tampered.mp4", "c2pa-wasm")]
    assert ts["valid"] is False and wasm["state"] == "Invalid"
