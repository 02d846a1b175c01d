"""`likeness performer remove`: a performer's likeness data is erased, the ledger keeps
hashes only and still verifies, and no render is possible afterwards (issue 12 §3)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from consent.models import RenderRequest, Use
from consent.registry import FaceRow
from likeness.settings import load_settings
from likeness.studio import Studio
from tests.support.cli import FACES, run_cli
from tests.support.people import add_performer, registered_grant


def _embeddings(performer_id: str) -> list[bytes]:
    studio = Studio(load_settings())
    try:
        with studio.session() as session:
            return list(session.scalars(
                select(FaceRow.embedding).where(FaceRow.performer_id == performer_id)))
    finally:
        studio.close()


def _files_holding(home: Path, needles: list[bytes]) -> list[str]:
    """Every file under the studio home that contains any of the byte strings."""
    found = []
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if any(n in data for n in needles):
            found.append(path.name)
    return found


def _entries(kind: str) -> list[dict]:
    entries = run_cli("audit", "show", "--json").json()["entries"]
    return [e for e in entries if e["kind"] == kind]


def test_removal_leaves_no_embedding_in_the_studio_home(sqlite_home: Path,
                                                        tmp_path: Path) -> None:
    key = add_performer(tmp_path, "ava", "female01.png", "--face", FACES / "female02.png")
    registered_grant(tmp_path, key)
    stored = _embeddings("ava")
    assert len(stored) == 2
    reel = sqlite_home / "performers" / "ava" / "reel.mp4"
    reel.parent.mkdir(parents=True)
    reel.write_bytes(b"derived footage of ava")
    # the scan finds them before removal: it is a real test of the files
    needles = [e[:64] for e in stored] + [b"derived footage of ava"]
    before = _files_holding(sqlite_home, needles)
    assert "reel.mp4" in before and any(name.startswith("registry.db") for name in before)

    r = run_cli("performer", "remove", "ava", "--key", key, "--json")
    assert r.code == 0, r.err
    report = r.json()
    assert report["embeddings_erased"] == 2 and report["files_erased"] == 1
    assert report["removed_by"] == "performer" and len(report["grants_revoked"]) == 1

    assert _files_holding(sqlite_home, needles) == []
    assert not (sqlite_home / "performers" / "ava").exists()
    assert _embeddings("ava") == []
    removed = _entries("performer_removed")
    assert len(removed) == 1
    payload = removed[0]["payload"]
    assert payload["embeddings_sha256"] == sorted(hashlib.sha256(e).hexdigest() for e in stored)
    assert len(payload["face_image_sha256"]) == 2 and payload["removed_by"] == "performer"
    assert run_cli("audit", "verify").code == 0
    listed = run_cli("performer", "list", "--json").json()["performers"]
    assert [(p["name"], p["face_count"]) for p in listed] == [("(removed)", 0)]


def test_no_render_after_removal(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path, "ava")
    registered_grant(tmp_path, key)
    assert run_cli("consent", "check", "--performer", "ava", "--use", "dubbing").code == 0
    r = run_cli("performer", "remove", "ava", "--studio")
    assert r.code == 0, r.err and "removed (by studio)" in r.out
    check = run_cli("consent", "check", "--performer", "ava", "--use", "dubbing", "--json")
    assert check.code == 3 and "revoked" in check.out
    studio = Studio(load_settings())
    try:
        d = studio.authorize(RenderRequest(performer_id="ava", uses=(Use.AVATAR,)))
        assert not d.allowed
    finally:
        studio.close()
    again = run_cli("performer", "add", "--id", "ava", "--name", "Ava", "--face",
                    FACES / "female01.png", "--public-key", f"{key}.pub")
    assert again.code == 2 and "already exists" in again.err
    assert run_cli("audit", "verify").code == 0


def test_remove_refuses_bad_requests(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path, "ava")
    other = tmp_path / "other.key"
    assert run_cli("keys", "new", "--out", other).code == 0
    assert run_cli("performer", "remove", "ava").code == 2
    assert run_cli("performer", "remove", "ava", "--key", key, "--studio").code == 2
    assert run_cli("performer", "remove", "nobody", "--studio").code == 2
    wrong = run_cli("performer", "remove", "ava", "--key", other)
    assert wrong.code == 4 and wrong.err.startswith("error:")
    assert len(_embeddings("ava")) == 1  # a refused removal erases nothing
    assert run_cli("performer", "remove", "ava", "--key", key).code == 0
    twice = run_cli("performer", "remove", "ava", "--key", key)
    assert twice.code == 2 and "already removed" in twice.err


def _bank(performer: str) -> Path:
    """A cached mouth bank as the footage engine leaves it (the content does not matter
    to the retention rule; tests/models/lipsync covers building real ones)."""
    from models.lipsync.footage.store import bank_path

    path = bank_path(load_settings().cache_dir, performer, "ab" * 32)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"mouths of " + performer.encode())
    return path


def test_banks_go_when_the_last_grant_is_revoked(sqlite_home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path, "ava", "female01.png")
    first = registered_grant(tmp_path, key, name="one.json")
    second = registered_grant(tmp_path, key, name="two.json")
    bank = _bank("ava")
    assert run_cli("consent", "revoke", first, "--key", key, "--reason", "one of two").code == 0
    assert bank.is_file()  # another grant still needs it
    assert run_cli("consent", "revoke", second, "--key", key, "--reason", "the last").code == 0
    assert not bank.exists() and not bank.parent.exists()
    [entry] = _entries("performer_banks_deleted")
    assert entry["payload"] == {"performer_id": "ava", "footage_sha256": ["ab" * 32],
                                "reason": "no live grant"}
    assert run_cli("audit", "verify").code == 0


def test_banks_of_a_performer_whose_grants_expired_go_at_the_next_render(
        sqlite_home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path, "ava", "female01.png")
    registered_grant(tmp_path, key, "ava", "--valid-until", "2035-01-01")
    live = _bank("ava")
    other = add_performer(tmp_path, "bob", "male01.png")
    registered_grant(tmp_path, other, "bob", "--valid-until", "2030-01-01", name="bob.json")
    stale = _bank("bob")
    studio = Studio(load_settings())
    try:
        assert studio.render_context is not None  # a render today: both grants live
        assert live.is_file() and stale.is_file()
        # in 2031 bob's only grant has run out; the signed document says so, not a row
        assert studio.forget_unneeded_banks(now=datetime(2031, 1, 1, tzinfo=UTC)) == ["bob"]
    finally:
        studio.close()
    assert live.is_file() and not stale.exists()
    assert [e["payload"]["performer_id"] for e in _entries("performer_banks_deleted")
            ] == ["bob"]
