"""Issue 16 D8 (the part left after markup escaping): terminal controls in user data --
ANSI/OSC escapes, bidi controls -- never reach the terminal; Rich markup in names, paths
and reasons prints as typed, including in `audit show`."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import run_cli
from tests.support.people import add_performer, registered_grant


def test_escape_sequences_in_paths_are_shown_not_sent(tmp_path: Path) -> None:
    key = tmp_path / "k\x1b]0;owned\x07[/bold]\u202e.pem"
    r = run_cli("keys", "new", "--out", key)
    assert r.code == 0, r.err
    assert "\x1b" not in r.out and "\x07" not in r.out and "\u202e" not in r.out
    assert "\\x1b]0;owned\\x07[/bold]\\u202e.pem" in r.out.replace("\n", "")  # wrapped


def test_markup_in_reasons_prints_in_audit_show(home: Path, tmp_path: Path) -> None:
    key = add_performer(tmp_path)
    gid = registered_grant(tmp_path, key)
    assert run_cli("consent", "revoke", gid, "--studio", "--reason", "[/bold] [/x] bye").code == 0
    r = run_cli("audit", "show")
    assert r.code == 0, r.err
    assert "[/bold] [/x] bye" in r.out


def test_error_lines_show_controls_escaped(tmp_path: Path) -> None:
    r = run_cli("consent", "sign", tmp_path / "no\x1b[2Jsuch.json", "--key", tmp_path / "k")
    assert r.code == 2
    assert "\x1b" not in r.err and "no\\x1b[2Jsuch.json" in r.err
