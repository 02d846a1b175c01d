"""Issue 16 C7: what could never be published is refused before the gate takes a render:
an output that is the input (directly or through `..`), an output folder that cannot be
written, a label template with an unknown placeholder or no text (exit 2, nothing
changed, the input untouched)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import run_cli, snapshot_db
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant


@pytest.fixture
def clip(sqlite_home: Path, tmp_path: Path) -> Path:
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava")
    (tmp_path / "sub").mkdir()
    return face_clip(tmp_path / "ava.mp4", seconds=3.0)


def _refused(args: list[str | Path], message: str, clip: Path,
             prepare: Callable[[], None] | None = None,
             after: Callable[[], dict] | None = None) -> None:
    digest = hashlib.sha256(clip.read_bytes()).hexdigest()
    before = snapshot_db()
    if prepare is not None:
        prepare()
    r = run_cli(*args)
    assert r.code == 2, (r.out, r.err)
    assert r.err.startswith("error: ") and message in r.err, r.err
    # not even a decision entry: the gate never ran
    assert (after or snapshot_db)() == before
    assert hashlib.sha256(clip.read_bytes()).hexdigest() == digest


def _stamp(clip: Path, out: Path | str) -> list[str | Path]:
    return ["stamp", clip, "--performer", "ava", "--use", "dubbing", "--out", out]


def test_stamp_out_equal_to_input_is_refused(clip: Path, tmp_path: Path) -> None:
    _refused(_stamp(clip, clip), "would overwrite the input", clip)
    _refused(_stamp(clip, tmp_path / "sub" / ".." / "ava.mp4"), "would overwrite the input",
             clip)


def test_dub_out_equal_to_input_through_dotdot_is_refused(clip: Path, tmp_path: Path) -> None:
    _refused(["dub", clip, "--language", "es", "--performer", "ava", "--out",
              tmp_path / "sub" / ".." / "ava.mp4"], "would overwrite the input video", clip)


def test_unwritable_output_folder_is_refused_before_the_gate(clip: Path) -> None:
    # /proc refuses new files even to root, which ignores directory modes
    _refused(_stamp(clip, Path("/proc/out.mp4")), "is not writable", clip)


@pytest.mark.parametrize("text,message", [
    ("AI-generated {oops}", "unknown placeholder {oops}"),
    ("   ", "label text is empty"),
    ("AI {studio", "not a valid template"),
])
def test_bad_label_template_is_refused_before_the_gate(clip: Path, sqlite_home: Path,
                                                        tmp_path: Path, text: str,
                                                        message: str) -> None:
    cfg = sqlite_home / "config.toml"
    good = cfg.read_text()

    def break_label() -> None:
        cfg.write_text(good + f'\n[label]\ntext = "{text}"\n')

    def snapshot_with_good_config() -> dict:
        cfg.write_text(good)
        return snapshot_db()

    _refused(_stamp(clip, tmp_path / "out.mp4"), message, clip, prepare=break_label,
             after=snapshot_with_good_config)
    assert not (tmp_path / "out.mp4").exists()
