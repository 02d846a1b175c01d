"""`performer add`: exactly one real face per reference image, or a clear refusal.

Faces: fictional flare-game portraits (assets/faces, CC-BY-SA-3.0+); the two-face
image is composed in the test from two of them; the no-face image is a gradient.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tests.support.cli import FACES, run_cli, snapshot_db


def _key(tmp_path: Path) -> Path:
    key = tmp_path / "p.key"
    if not key.exists():
        assert run_cli("keys", "new", "--out", key).code == 0
    return key


def _add(tmp_path: Path, *faces: Path, pid: str = "ava") -> object:
    key = _key(tmp_path)
    args: list[str | Path] = ["performer", "add", "--id", pid, "--name", "Ava",
                              "--public-key", f"{key}.pub"]
    for f in faces:
        args += ["--face", f]
    return run_cli(*args)


def test_add_and_list(sqlite_home: Path, tmp_path: Path) -> None:
    r = _add(tmp_path, FACES / "female01.png", FACES / "female01.png")
    assert r.code == 0, r.err
    listed = run_cli("performer", "list", "--json").json()["performers"]
    assert listed[0]["performer_id"] == "ava" and listed[0]["face_count"] == 2


def _refused(tmp_path: Path, image: Path, message: str) -> None:
    before = snapshot_db()
    r = _add(tmp_path, image)
    assert r.code == 2, r.err
    assert r.err.startswith("error: ") and message in r.err
    assert snapshot_db() == before


def test_no_face(sqlite_home: Path, tmp_path: Path) -> None:
    img = np.tile(np.linspace(0, 255, 320, dtype=np.uint8), (240, 1))
    path = tmp_path / "gradient.png"
    cv2.imwrite(str(path), cv2.merge([img, img, img]))
    _refused(tmp_path, path, f"no face found in {path}")


def test_two_faces(sqlite_home: Path, tmp_path: Path) -> None:
    a = cv2.imread(str(FACES / "female01.png"))
    b = cv2.imread(str(FACES / "male01.png"))
    path = tmp_path / "two.png"
    cv2.imwrite(str(path), np.hstack([a, b]))
    _refused(tmp_path, path, "2 faces found")


def test_unreadable_image(sqlite_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is not an image")
    _refused(tmp_path, path, "cannot read image")
    _refused(tmp_path, tmp_path / "missing.png", "cannot read image")


def test_duplicate_performer(sqlite_home: Path, tmp_path: Path) -> None:
    assert _add(tmp_path, FACES / "female01.png").code == 0
    before = snapshot_db()
    key2 = tmp_path / "second"
    tmp_path_2 = tmp_path / "x"
    tmp_path_2.mkdir()
    r = _add(tmp_path_2, FACES / "female02.png")
    assert r.code == 2 and "already exists" in r.err
    assert snapshot_db() == before
    assert not key2.exists()


def test_bad_public_key(sqlite_home: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pub"
    junk.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    r = run_cli("performer", "add", "--id", "ava", "--name", "A", "--face",
                FACES / "female01.png", "--public-key", junk)
    assert r.code == 2 and "not a PEM public key" in r.err


def test_voice_reference(sqlite_home: Path, tmp_path: Path) -> None:
    import subprocess

    wav = tmp_path / "voice.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "A short reference."], check=True)
    key = _key(tmp_path)
    base = ["performer", "add", "--id", "ava", "--name", "Ava", "--face", FACES / "female01.png",
            "--public-key", f"{key}.pub"]
    bad = tmp_path / "voice-bad.wav"
    bad.write_text("not audio")
    before = snapshot_db()
    r = run_cli(*base, "--voice", bad)
    assert r.code == 2 and "cannot read voice file" in r.err
    assert snapshot_db() == before
    r = run_cli(*base, "--voice", wav)
    assert r.code == 0, r.err
    assert run_cli("performer", "list", "--json").json()["performers"][0]["has_voice"] is True
