"""Issue 16 C6: a publish that fails or dies leaves nothing false behind. A failed publish
gives its render back to the budget; SIGTERM unwinds like Ctrl-C; the temp files of a
publish killed outright (kill -9) name their owner and are swept by the next publish
into the folder, which also closes the dead render's story in the ledger."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from consent.models import RenderRequest, Use
from likeness.settings import load_settings
from likeness.studio import Studio
from provenance.leftovers import owner_tag
from tests.support.cli import ROOT, run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant


@pytest.fixture
def setup(sqlite_home: Path, tmp_path: Path) -> tuple[Path, str]:
    key = add_performer(tmp_path)
    gid = registered_grant(tmp_path, key, "ava", "--max-renders", "2")
    return face_clip(tmp_path / "ava.mp4", seconds=3.0), gid


@pytest.fixture
def restore_sigterm() -> Iterator[None]:
    saved = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, saved)


def _used() -> int:
    return int(run_cli("consent", "list", "--json").json()["grants"][0]["renders_used"])  # type: ignore[index]


def _stamp(clip: Path, out: Path) -> object:
    return run_cli("stamp", clip, "--performer", "ava", "--use", "dubbing", "--out", out,
                   "--json")


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_failed_publish_gives_the_render_back(setup: tuple[Path, str], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    clip, _ = setup

    def boom(**kwargs: object) -> None:
        raise RuntimeError("injected c2pa failure")

    monkeypatch.setattr("provenance.publish.sign_media", boom)
    r = _stamp(clip, tmp_path / "out.mp4")
    assert r.code == 1  # type: ignore[attr-defined]
    assert _used() == 0
    last = run_cli("audit", "show", "--json").json()["entries"][-1]  # type: ignore[index]
    assert last["kind"] == "render_failed" and last["payload"]["released"] is True
    assert run_cli("audit", "verify").code == 0


def test_sigterm_during_encode_unwinds_like_ctrl_c(setup: tuple[Path, str], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   restore_sigterm: None) -> None:
    import provenance.publish as publish_module

    clip, _ = setup
    real = publish_module.sha256_file

    def terminated(path: Path) -> str:  # the encoded temp file exists at this point
        os.kill(os.getpid(), signal.SIGTERM)
        return real(path)

    monkeypatch.setattr(publish_module, "sha256_file", terminated)
    out = tmp_path / "out.mp4"
    r = _stamp(clip, out)
    assert r.code == 130, r.err  # type: ignore[attr-defined]
    assert "Traceback" not in r.err  # type: ignore[attr-defined]
    assert not out.exists() and _hidden(tmp_path) == []
    assert _used() == 0
    assert run_cli("audit", "verify").code == 0


def test_leftovers_of_a_killed_publish_are_swept(setup: tuple[Path, str],
                                                 tmp_path: Path) -> None:
    clip, _ = setup
    studio = Studio(load_settings())
    dead = studio.authorize(RenderRequest(performer_id="ava", uses=(Use.DUBBING,)))
    studio.close()
    assert dead.allowed and _used() == 1
    folder = tmp_path / "deliveries"
    folder.mkdir()
    # what kill -9 during encode left: a temp file of a process that no longer runs,
    # and one of a publish still running in this very process (kept)
    stale = folder / f".gone.mp4.{dead.render_id}.999999999-12345.encoded.mp4"
    stale.write_bytes(b"partial")
    alive = folder / f".busy.mp4.{'ab' * 8}.{owner_tag()}.encoded.mp4"
    alive.write_bytes(b"in progress")
    r = _stamp(clip, folder / "next.mp4")
    assert r.code == 0, r.err  # type: ignore[attr-defined]
    assert not stale.exists() and alive.exists()
    entries = run_cli("audit", "show", "--render", dead.render_id or "", "--json").json()
    kinds = [(e["kind"], e["payload"].get("stage")) for e in entries["entries"]]  # type: ignore[index]
    assert kinds == [("decision", None), ("render_failed", "interrupted")]
    assert _used() == 1  # the dead render was given back; the new one holds the budget
    assert run_cli("audit", "verify").code == 0


# a fault injection point: the CLI in a child process whose rename is replaced by a
# SIGKILL of itself (after the ledger entry), or follows the real rename
_KILLED_AT_RENAME = """
import os, signal, sys
import provenance.publish as publish
real = publish.commit_file
def killed(signed, out):
    if sys.argv[1] == "after":
        real(signed, out)
    os.kill(os.getpid(), signal.SIGKILL)
publish.commit_file = killed
from likeness.cli import main
main(sys.argv[2:])
"""


def _stamp_killed_at_rename(clip: Path, out: Path, when: str) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", _KILLED_AT_RENAME, when, "stamp", str(clip),
                           "--performer", "ava", "--use", "dubbing", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    return proc.returncode


def _story(render_id: str) -> list[tuple[str, str | None]]:
    entries = run_cli("audit", "show", "--render", render_id, "--json").json()
    return [(e["kind"], e["payload"].get("stage"))
            for e in entries["entries"]]  # type: ignore[index]


def _published_render() -> str:
    entries = run_cli("audit", "show", "--json").json()["entries"]  # type: ignore[index]
    return next(e["payload"]["render_id"] for e in reversed(entries)
                if e["kind"] == "render_published")


def test_c6_kill_between_ledger_entry_and_rename_is_settled_at_the_next_publish(
        setup: tuple[Path, str], tmp_path: Path) -> None:
    clip, _ = setup
    out = tmp_path / "out.mp4"
    assert _stamp_killed_at_rename(clip, out, "before") == -signal.SIGKILL
    dead = _published_render()
    assert not out.exists() and _hidden(tmp_path)  # the ledger claims it, for now
    assert _used() == 1
    elsewhere = tmp_path / "elsewhere"  # the next publish goes to another folder
    elsewhere.mkdir()
    r = _stamp(clip, elsewhere / "next.mp4")
    assert r.code == 0, r.err  # type: ignore[attr-defined]
    assert _story(dead) == [("decision", None), ("render_published", None),
                            ("render_failed", "interrupted")]
    assert _hidden(tmp_path) == [] and not out.exists()  # the temp copies are gone
    assert _used() == 1  # the dead render was given back, the new one holds the budget
    assert run_cli("audit", "verify").code == 0


def test_c6_kill_after_the_rename_leaves_the_delivered_render_published(
        setup: tuple[Path, str], tmp_path: Path) -> None:
    clip, _ = setup
    out = tmp_path / "out.mp4"
    assert _stamp_killed_at_rename(clip, out, "after") == -signal.SIGKILL
    done = _published_render()
    assert out.exists()
    r = _stamp(clip, tmp_path / "next.mp4")
    assert r.code == 0, r.err  # type: ignore[attr-defined]
    assert _story(done) == [("decision", None), ("render_published", None)]
    assert _hidden(tmp_path) == []
    assert _used() == 2
    assert run_cli("verify", out).code == 0


def test_c6_failure_after_the_rename_does_not_call_the_delivered_file_failed(
        setup: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import provenance.publish as publish_module

    clip, _ = setup
    real = publish_module.os.fsync

    def folder_fsync_fails(fd: int) -> None:  # the last step of the rename
        if os.readlink(f"/proc/self/fd/{fd}") == str(tmp_path):
            raise OSError(5, "injected folder fsync failure")
        real(fd)

    monkeypatch.setattr(publish_module.os, "fsync", folder_fsync_fails)
    out = tmp_path / "out.mp4"
    r = _stamp(clip, out)
    assert r.code == 1 and r.err.startswith("error: ")  # type: ignore[attr-defined]
    monkeypatch.setattr(publish_module.os, "fsync", real)
    assert out.exists()
    rid = _published_render()
    assert _story(rid) == [("decision", None), ("render_published", None)]
    assert _used() == 1
    assert run_cli("verify", out).code == 0
