"""`likeness reenact` as a Prefect flow: a real run on generated media, plus the refusals.

Target: the fictional flare-game portrait of performer ava placed on a plain frame
(numpy + OpenCV). Driver: another fictional face (male01) animated by ffmpeg with
espeak-ng speech (tests/support/media.py). Prefect runs against the test harness's
temporary server (started once for the module).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from flows.reenact import ReenactRequest, run_reenact
from likeness.errors import BadInput, ConsentDenied
from media.probe import probe
from tests.support.cli import FACES, assert_published, run_cli
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant

FRAME_SIZE = (480, 360)  # (width, height), even for H.264
FACE_PX = 220
DRIVER_SECONDS = 3.0  # the audio watermark needs >= 2.82 s of sound


def _portrait(path: Path, face: str | None) -> Path:
    """A face (or none) centred on a plain frame, written as PNG."""
    width, height = FRAME_SIZE
    frame = np.full((height, width, 3), (80, 96, 112), dtype=np.uint8)
    if face is not None:
        portrait = cv2.resize(cv2.imread(str(FACES / face)), (FACE_PX, FACE_PX))
        top, left = (height - FACE_PX) // 2, (width - FACE_PX) // 2
        frame[top:top + FACE_PX, left:left + FACE_PX] = portrait
    assert cv2.imwrite(str(path), frame)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("reenact-media")
    return {
        "target": _portrait(folder / "ava.png", "female01.png"),
        "blank": _portrait(folder / "blank.png", None),
        "driver": face_clip(folder / "driver.mp4", face="male01.png", seconds=DRIVER_SECONDS,
                            size=FRAME_SIZE),
    }


def _studio(tmp_path: Path, *uses: str) -> object:
    from likeness.settings import load_settings
    from likeness.studio import Studio

    key = add_performer(tmp_path)
    use_args = [arg for use in uses for arg in ("--use", use)]
    registered_grant(tmp_path, key, "ava", *use_args, "--max-renders", "5")
    return Studio(load_settings())


@pytest.fixture
def studio(sqlite_home: Path, tmp_path: Path) -> Iterator[object]:
    """A studio with performer ava and a reenactment grant."""
    opened = _studio(tmp_path, "reenactment")
    yield opened
    opened.close()  # type: ignore[attr-defined]


def test_image_target_publishes_a_verifiable_reenactment(
        prefect_server: None, studio: object, media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out" / "ava.reenact.mp4"
    out.parent.mkdir()
    result = run_reenact(studio.render_context, target=media["target"], driver=media["driver"],  # type: ignore[attr-defined]
                         performer="ava", out=out)

    assert out.is_file() and result.out == out.absolute()
    assert sorted(p.name for p in out.parent.iterdir()) == ["ava.reenact.mp4"]  # no temp files
    driver = probe(media["driver"]).require_video()
    rendered = probe(out)
    assert rendered.require_video().frame_count == result.frames
    assert abs(result.frames - driver.frame_count) <= 1  # one frame per driver frame
    assert abs(rendered.require_video().avg_fps - driver.avg_fps) < 0.01
    assert rendered.audio is not None  # the driver's speech
    assert result.frames_changed is not None and result.frames_changed > result.frames // 2
    assert {"face:dlib", "reenact:landmark"} <= set(result.engines)
    assert {"target", "driver", "consent", "render+publish"} <= set(result.stages_s)

    payload = assert_published(out, render_id=result.render_id,
                               decision_id=result.decision_id)
    assert payload["uses"] == ["reenactment"]
    assert payload["source_type"] == "compositeWithTrainedAlgorithmicMedia"


def test_without_a_reenactment_grant_consent_is_denied(
        prefect_server: None, sqlite_home: Path, media: dict[str, Path],
        tmp_path: Path) -> None:
    studio = _studio(tmp_path, "dubbing", "lip_sync")
    out = tmp_path / "denied.mp4"
    try:
        with pytest.raises(ConsentDenied) as denied:
            run_reenact(studio.render_context, target=media["target"], driver=media["driver"],  # type: ignore[attr-defined]
                        performer="ava", out=out)
    finally:
        studio.close()  # type: ignore[attr-defined]
    assert denied.value.reasons
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".denied")]


def test_target_without_a_face_is_bad_input(
        prefect_server: None, studio: object, media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "blank.mp4"
    with pytest.raises(BadInput, match="no face found in the target"):
        run_reenact(studio.render_context, target=media["blank"], driver=media["driver"],  # type: ignore[attr-defined]
                    performer="ava", out=out)
    assert not out.exists()
    kinds = [e["kind"] for e in run_cli("audit", "show", "--json").json()["entries"]]
    assert "decision" not in kinds and "render_published" not in kinds  # refused before consent


# -- fast checks without Prefect or media --------------------------------------------------


@pytest.mark.parametrize(("option", "value", "message"), [
    ("out", "out.mov", r"must be an \.mp4 file"),
    ("out", "missing/out.mp4", "folder .* does not exist"),
    ("out", "driver.mp4", "would overwrite the driver"),
    ("target", "absent.png", "cannot read target .*absent.png: no such file"),
    ("driver", "absent.mp4", "cannot read driver .*absent.mp4: no such file"),
    ("performer", "", "reenact performer"),
])
def test_request_refuses_bad_options(tmp_path: Path, option: str, value: str,
                                     message: str) -> None:
    (tmp_path / "target.png").write_bytes(b"")
    (tmp_path / "driver.mp4").write_bytes(b"")
    options: dict[str, object] = {"target": tmp_path / "target.png",
                                  "driver": tmp_path / "driver.mp4",
                                  "out": tmp_path / "out.mp4", "performer": "ava"}
    options[option] = value if option == "performer" else tmp_path / value
    with pytest.raises(BadInput, match=message):
        ReenactRequest.build(**options)


def test_request_tells_image_targets_from_video_targets(tmp_path: Path) -> None:
    for name in ("t.PNG", "t.mp4", "d.mp4"):
        (tmp_path / name).write_bytes(b"")
    base = {"driver": tmp_path / "d.mp4", "out": tmp_path / "o.mp4", "performer": "ava"}
    assert ReenactRequest.build(target=tmp_path / "t.PNG", **base).target_kind == "image"
    assert ReenactRequest.build(target=tmp_path / "t.mp4", **base).target_kind == "video"
