"""Test helpers: performers with real (fictional) faces and grants through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import FACES, run_cli


def add_performer(tmp: Path, pid: str = "ava", face: str = "female01.png",
                  *extra: str) -> Path:
    key = tmp / f"{pid}.key"
    assert run_cli("keys", "new", "--out", key).code == 0
    r = run_cli("performer", "add", "--id", pid, "--name", pid.title(), "--face", FACES / face,
                "--public-key", f"{key}.pub", *extra)
    assert r.code == 0, r.err
    return key


def draft(tmp: Path, pid: str = "ava", *options: str, name: str = "grant.json") -> Path:
    out = tmp / name
    args = list(options)
    if "--use" not in args:
        args += ["--use", "dubbing", "--use", "lip_sync"]
    if "--valid-until" not in args:
        args += ["--valid-until", "2030-01-01"]
    r = run_cli("consent", "draft", "--performer", pid, "--out", out, "--description",
                "Spanish dub of the spring catalogue video, no endorsements", *args)
    assert r.code == 0, r.err
    return out


def signed_grant(tmp: Path, key: Path, pid: str = "ava", *options: str,
                 name: str = "grant.json") -> Path:
    path = draft(tmp, pid, *options, name=name)
    r = run_cli("consent", "sign", path, "--key", key)
    assert r.code == 0, r.err
    return path


def registered_grant(tmp: Path, key: Path, pid: str = "ava", *options: str,
                     name: str = "grant.json") -> str:
    path = signed_grant(tmp, key, pid, *options, name=name)
    r = run_cli("consent", "register", path, "--json")
    assert r.code == 0, r.err
    return str(r.json()["grant_id"])


def grant_id_of(path: Path) -> str:
    return str(json.loads(path.read_text())["grant"]["grant_id"])
