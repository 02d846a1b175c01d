"""`likeness avatar` as a Prefect flow: from a registered reel and from a still, plus refusals.

Media made here: the reel is the flare-game portrait clip of tests/support/media.py
(2.4 s of a sway that repeats every 1.2 s, shorter than the speech, so it must loop);
the still is the same portrait. The speech is the studio's English TTS (piper or
espeak-ng). Checked on the published file: it verifies intact, its manifest says
``trainedAlgorithmicMedia`` with ``c2pa.created`` first, and the mouth (re-measured
with dlib on the output) opens and closes with the speech envelope (r >= 0.5).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from flows.avatar import AvatarRequest, AvatarResult, run_avatar
from likeness.errors import BadInput, ConsentDenied, IntegrityFailure
from media.audio import load_audio
from media.decode import iter_frames
from media.probe import probe
from tests.support.cli import FACES, assert_published, run_cli
from tests.support.lipsync_media import engine, frame_loudness
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant
from tests.support.synthetic_faces import mouth_opening

TEXT = "Hello, I am Ava. This avatar speaks with my permission, and it says so."
REEL_SECONDS = 2.4  # shorter than the speech: the reel has to loop
REEL_SWAY_PERIOD_S = 1.2  # the performer's idle sway repeats, as a loopable reel does
MIN_MOUTH_SPEECH_R = 0.5  # issue 10: the lip region moves with the speech
RATE_HZ = 16_000
MEASURE_WIDTH_PX = 640  # the mouth is re-measured on frames scaled to this width


@pytest.fixture(scope="module")
def reel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return face_clip(tmp_path_factory.mktemp("reel") / "ava-reel.mp4", seconds=REEL_SECONDS,
                     audio=False, sway_period_s=REEL_SWAY_PERIOD_S)


@pytest.fixture
def studio(sqlite_home: Path, tmp_path: Path, reel: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Performer ava with her reel registered and an English avatar grant."""
    import likeness.reels
    from likeness.settings import load_settings
    from likeness.studio import Studio

    monkeypatch.setattr(likeness.reels, "REEL_MIN_SECONDS", 1.0)  # tiny test media
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", "--use", "avatar", "--language", "en",
                     "--max-renders", "5")
    opened = Studio(load_settings())
    opened.add_reel("ava", reel)
    yield opened
    opened.close()


def _avatar(studio: object, out: Path, **options: object) -> AvatarResult:
    args: dict[str, object] = {"performer": "ava", "language": "en", "text": TEXT,
                               "lipsync": "viseme"}
    args.update(options)
    return run_avatar(studio.render_context,  # type: ignore[attr-defined]
                      AvatarRequest.build(out=out, **args))


def mouth_follows_speech(out: Path, frames: int) -> float:
    """r between the re-measured mouth opening and the speech envelope, per frame."""
    info = probe(out)
    width, height = info.require_video().display_size
    size = (MEASURE_WIDTH_PX, round(height * MEASURE_WIDTH_PX / width / 2) * 2)
    dlib = engine()
    openings = []
    for frame in iter_frames(out, info=info, size=size):
        faces = dlib.detect(frame.rgb)
        openings.append(mouth_opening(faces[0].landmarks) if faces else np.nan)
    samples, rate = load_audio(out, sample_rate=RATE_HZ, mono=True)
    loud = frame_loudness(samples[:, 0], rate, len(openings), 25.0)
    opening = np.asarray(openings)
    found = ~np.isnan(opening)
    assert found.mean() > 0.9, "the face should be found on (nearly) every frame"
    assert len(openings) == frames
    return float(np.corrcoef(opening[found], loud[found])[0, 1])


def _manifest(studio: object, out: Path) -> object:
    from provenance.c2pa import read_manifest
    from provenance.c2pa.certs import ROOT_CERT_NAME

    anchor = (studio.c2pa_dir / ROOT_CERT_NAME).read_bytes()  # type: ignore[attr-defined]
    return read_manifest(out, trust_anchor_pem=anchor)


def _check_published(studio: object, out: Path, result: AvatarResult) -> None:
    from provenance.c2pa.manifest import digital_source_type_url

    payload = assert_published(out, render_id=result.render_id,
                               decision_id=result.decision_id)
    assert payload["source_type"] == "trainedAlgorithmicMedia"
    assert payload["uses"] == ["avatar"]
    report = _manifest(studio, out)
    assert report.actions[0]["action"] == "c2pa.created"  # type: ignore[attr-defined]
    assert report.actions[0]["digitalSourceType"] == digital_source_type_url(  # type: ignore[attr-defined]
        "trainedAlgorithmicMedia")
    assert report.ingredient_titles == []  # type: ignore[attr-defined]  # no biometric ingredient
    video = probe(out).require_video()
    assert round(video.avg_fps) == 25
    assert video.frame_count == result.frames
    assert abs(result.frames / 25 - result.duration_s) < 0.05


def test_avatar_from_the_reel_loops_its_footage_and_lip_syncs_it(
        prefect_server: None, studio: object, reel: Path, tmp_path: Path) -> None:
    out = tmp_path / "ava.avatar.mp4"
    result = _avatar(studio, out, subtitles=True)

    assert result.likeness == "reel"
    assert (result.width, result.height) == (640, 360)  # the reel's resolution
    assert result.duration_s > REEL_SECONDS and result.loop_cuts >= 1
    assert result.max_cut_jump is not None and result.max_cut_jump < 1.5
    assert result.frames_lipsynced > 0.9 * result.frames
    face, tts, mouth = result.engines
    assert (face, mouth) == ("face:dlib", "lipsync:viseme") and tts.startswith("tts:")
    assert [c.index for c in result.cues] == [1, 2]
    _check_published(studio, out, result)
    r = mouth_follows_speech(out, result.frames)
    print(f"avatar from reel: r(mouth opening, speech envelope) = {r:.3f}")
    assert r >= MIN_MOUTH_SPEECH_R
    assert result.subtitles == out.with_suffix(".srt")
    assert "This avatar speaks with my permission" in out.with_suffix(".srt").read_text()


def _stripes(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A backdrop nothing like the reel's wall: orange and teal stripes (RGB; written BGR)."""
    import cv2

    width, height = size
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = (230, 120, 30)
    for left in range(0, width, 80):
        image[:, left:left + 40] = (20, 160, 150)
    cv2.imwrite(str(path), image[:, :, ::-1])
    return image


def test_avatar_from_the_reel_over_a_new_background(
        prefect_server: None, studio: object, reel: Path, tmp_path: Path) -> None:
    backdrop = _stripes(tmp_path / "stripes.png", (640, 360))
    out = tmp_path / "ava.backdrop.mp4"
    result = _avatar(studio, out, background=tmp_path / "stripes.png")

    assert result.likeness == "reel" and (result.width, result.height) == (640, 360)
    assert result.background_seen is not None and result.background_seen > 0.5
    _check_published(studio, out, result)
    report = _manifest(studio, out)
    assert "new background" in report.actions[0]["description"]  # type: ignore[attr-defined]
    wall = np.array((0x40, 0x50, 0x60))  # the reel's own background (tests/support/media.py)
    assert np.abs(backdrop.astype(int) - wall).max(axis=2).min() >= 60
    band = (slice(70, 220), slice(0, 76))  # beside the performer, away from the label
    for frame in iter_frames(out):
        shown = frame.rgb[band].astype(int)
        assert np.abs(shown - backdrop[band]).mean() < 20  # the new background shows
    r = mouth_follows_speech(out, result.frames)  # the face is found on nearly every frame
    print(f"avatar from reel over stripes: background seen {result.background_seen}, "
          f"r(mouth opening, speech envelope) = {r:.3f}")
    assert r >= MIN_MOUTH_SPEECH_R


def test_avatar_from_a_still_blinks_sways_and_lip_syncs_at_720p(
        prefect_server: None, studio: object, tmp_path: Path) -> None:
    out = tmp_path / "ava.still.mp4"
    result = _avatar(studio, out, still=FACES / "female01.png")

    assert result.likeness == "still" and result.loop_cuts == 0
    assert (result.width, result.height) == (1280, 720)
    assert result.frames_lipsynced > 0.9 * result.frames
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    _check_published(studio, out, result)
    r = mouth_follows_speech(out, result.frames)
    print(f"avatar from still: r(mouth opening, speech envelope) = {r:.3f}")
    assert r >= MIN_MOUTH_SPEECH_R


def test_a_language_outside_the_grant_is_denied_and_writes_nothing(
        prefect_server: None, studio: object, tmp_path: Path) -> None:
    out = tmp_path / "denied.mp4"
    with pytest.raises(ConsentDenied):
        _avatar(studio, out, language="fr", text="Bonjour.")
    assert not out.exists()


def test_a_reel_changed_since_registration_is_refused_before_consent(
        prefect_server: None, studio: object, tmp_path: Path) -> None:
    stored = studio.reel("ava")  # type: ignore[attr-defined]
    stored.path.write_bytes(stored.path.read_bytes() + b"\0")
    before = len(run_cli("audit", "show", "--json").json()["entries"])
    out = tmp_path / "swapped.mp4"
    with pytest.raises(IntegrityFailure, match="changed since it was registered"):
        _avatar(studio, out)
    assert not out.exists()
    # refused before the gate: no decision taken, no render budget used
    assert len(run_cli("audit", "show", "--json").json()["entries"]) == before


def test_the_sidecar_never_overwrites_the_script(tmp_path: Path) -> None:
    script = tmp_path / "hello.srt"
    script.write_text("1\n00:00:00,000 --> 00:00:01,000\nHi.\n", encoding="utf-8")
    with pytest.raises(BadInput, match="overwrite the script"):
        AvatarRequest.build(performer="ava", language="en", script=script, subtitles=True,
                            out=tmp_path / "hello.mp4")


@pytest.mark.parametrize(("options", "message"), [
    ({"text": None}, "--text TEXT or --script"),
    ({"script": FACES / "ATTRIBUTION.md"}, "--text TEXT or --script"),
    ({"background": FACES / "ATTRIBUTION.md"}, "neither an image nor a video"),
    ({"text": "   "}, "empty"),
])
def test_bad_options_are_refused_before_anything_runs(
        options: dict[str, object], message: str, tmp_path: Path) -> None:
    args: dict[str, object] = {"performer": "ava", "language": "en", "text": TEXT,
                               "out": tmp_path / "x.mp4"}
    args.update(options)
    with pytest.raises(BadInput, match=message):
        AvatarRequest.build(**args)


# -- the steps on their own (no Prefect run) ------------------------------------------------


def _tts() -> object:
    from tests.support.engines import engine as registry_engine

    return registry_engine("tts", "espeak-ng")


def test_text_is_spoken_sentence_after_sentence() -> None:
    from flows.avatar import LEAD_IN_S, SENTENCE_GAP_S, SPEECH_RATE_HZ, Lines, speak_lines

    spoken = speak_lines.fn(Lines(texts=("Hello there.", "I am an avatar."), slots=None),
                            engine=_tts(), language="en", voice=None)
    first, second = spoken.cues
    assert first.start_s == pytest.approx(LEAD_IN_S)
    assert second.start_s == pytest.approx(first.end_s + SENTENCE_GAP_S, abs=1e-3)
    assert spoken.duration_s > second.end_s
    assert spoken.timings and min(p.start_s for p in spoken.timings) >= LEAD_IN_S - 1e-6
    silent = spoken.speech[:int(0.8 * LEAD_IN_S * SPEECH_RATE_HZ)]
    assert float(np.abs(silent).max()) < 1e-3 < float(np.abs(spoken.speech).max())


def test_a_script_keeps_its_cue_times(tmp_path: Path) -> None:
    from flows.avatar import Lines, speak_lines
    from media.timed_text import Cue

    slots = (Cue(index=1, start_s=0.5, end_s=2.5, text="Hello there."),
             Cue(index=2, start_s=3.0, end_s=3.4, text="This line is much too long to fit."))
    spoken = speak_lines.fn(Lines(texts=tuple(c.text for c in slots), slots=slots),
                            engine=_tts(), language="en", voice=None)
    assert [(c.start_s, c.end_s) for c in spoken.cues] == [(0.5, 2.5), (3.0, 3.4)]
    assert spoken.reports[0].fits and not spoken.reports[1].fits


def test_a_still_stands_on_its_background_at_720p() -> None:
    from flows.avatar import STILL_SIZE, compose_still
    from media.compose import fit_cover, load_image

    background = FACES / "male01.png"
    picture = compose_still.fn(FACES / "female01.png", background=background,
                               engine=engine(), duration_s=2.0)
    assert picture.still is not None and picture.landmarks is not None
    assert picture.still.shape == (720, 1280, 3) and picture.frames == 50
    expected = fit_cover(load_image(background), size=STILL_SIZE)
    assert np.array_equal(picture.still[:, :100], expected[:, :100])  # beside the portrait


def test_an_avatar_is_new_media_and_asks_for_voice_clone_only_for_a_cloned_voice() -> None:
    from consent.models import Use
    from flows.avatar import Likeness, avatar_actions, avatar_uses
    from flows.dub import Engines

    class Named:
        def __init__(self, name: str, alters_mouth: bool = True) -> None:
            self.name, self.alters_mouth = name, alters_mouth

    engines = Engines(face=Named("dlib"), tts=Named("piper"),  # type: ignore[arg-type]
                      lipsync=Named("viseme"))  # type: ignore[arg-type]
    actions = avatar_actions(Likeness(kind="reel", path=Path("r.mp4"), sha256="0" * 64),
                             language="en", engines=engines)
    assert [a.action for a in actions] == ["c2pa.created"]
    assert "reel" in str(actions[0].description)
    assert avatar_uses(voice_modelled_on_performer=False) == (Use.AVATAR,)
    assert avatar_uses(voice_modelled_on_performer=True) == (Use.AVATAR, Use.VOICE_CLONE)
