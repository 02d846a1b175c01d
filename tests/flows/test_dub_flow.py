"""`likeness dub` as a Prefect flow: a real run on a generated face clip, plus the refusals.

Media: a fictional flare-game portrait animated by ffmpeg with espeak-ng English speech
(tests/support/media.py); the Spanish lines are a two-cue SRT written here. Prefect runs
against the test harness's temporary server (started once for the module).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from flows.dub import (
    DubRequest,
    DubReview,
    Engines,
    FittedLine,
    Lines,
    dub_actions,
    dub_uses,
    mix_soundtrack,
    run_dub,
    synthesize_lines,
    translated_lines,
)
from likeness.errors import BadInput, ConsentDenied
from media.audio import AudioTrack, load_audio
from media.probe import probe
from media.subtitles import load_subtitles
from media.timed_text import Cue, PhonemeTiming
from models.tts import Speech
from tests.support.cli import assert_published, run_cli
from tests.support.engines import NO_MODELS_DIR, STUDIO_DEFAULT, engine
from tests.support.media import face_clip
from tests.support.people import add_performer, registered_grant

SPANISH_SRT = """1
00:00:00,300 --> 00:00:01,700
Hola, soy Ava.

2
00:00:02,000 --> 00:00:03,800
Este vídeo está doblado con permiso.
"""
RATE_HZ = 16_000


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return face_clip(tmp_path_factory.mktemp("media") / "ava.mp4", seconds=4.0)


@pytest.fixture
def studio(sqlite_home: Path, tmp_path: Path) -> Iterator[object]:
    """A studio with performer ava and a Spanish dubbing + lip-sync grant."""
    from likeness.settings import load_settings
    from likeness.studio import Studio

    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", "--language", "es", "--max-renders", "5")
    opened = Studio(load_settings())
    yield opened
    opened.close()


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "lines.es.srt"
    path.write_text(SPANISH_SRT, encoding="utf-8")
    return path


def _dub(studio: object, video: Path, out: Path, **options: object) -> object:
    args: dict[str, object] = {"language": "es", "script": None, "performer": "ava",
                               "voice": None, "lipsync": "viseme", "production": None}
    args.update(options)
    return run_dub(studio.render_context,  # type: ignore[attr-defined]
                   DubRequest.build(video=video, out=out, **args))  # type: ignore[arg-type]


def test_dub_publishes_a_verifiable_lip_synced_render(
        prefect_server: None, studio: object, clip: Path, script: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "ava.es.mp4"
    out.parent.mkdir()
    subtitles = out.parent / "ava.es.srt"
    result = _dub(studio, clip, out, script=script, subtitles=subtitles)

    assert out.is_file() and result.out == out.absolute()
    assert [c.index for c in result.cues] == [1, 2]
    assert result.frames_lipsynced is not None
    assert result.frames_lipsynced > result.frames // 2  # the face is on screen throughout
    assert result.translated is False and result.source_language == "und"
    assert {"lipsync:viseme", "tts:kokoro", "face:dlib", "mt:script"} <= set(result.engines)
    assert {"probe", "script", "consent", "tts", "mix", "render+publish"} <= set(result.stages_s)
    assert {"frames_in", "label", "watermark_video", "watermark_audio", "encode", "ledger",
            "c2pa"} <= set(result.publish_stages_s)
    assert all(seconds >= 0 for seconds in result.publish_stages_s.values())
    assert result.stages_s["orchestration"] >= 0
    assert sorted(p.name for p in out.parent.iterdir()) == [  # no temp files
        "ava.es.cues.json", "ava.es.mp4", "ava.es.srt"]
    assert result.mix.loudness_lufs == pytest.approx(-23.0, abs=1.0)
    assert result.mix.true_peak_dbtp <= -1.0 and result.mix.dialogue_regions >= 1
    sidecar = json.loads(result.sidecar.read_text(encoding="utf-8"))
    assert [c["action"] for c in sidecar["cues"]] == [c.action for c in result.cues]
    assert {"speech_s", "slot_s", "ratio", "spoken_start_s"} <= set(sidecar["cues"][0])
    timed = load_subtitles(subtitles, video_duration=None)  # timed to the new speech
    assert [c.start_s for c in timed] == pytest.approx([c.spoken_start_s for c in result.cues],
                                                        abs=1e-3)

    payload = assert_published(out, render_id=result.render_id,
                               decision_id=result.decision_id)
    assert payload["language"] == "es"
    assert "lipsync:viseme" in payload["engines"]

    source, dubbed = probe(clip), probe(out)
    assert abs(dubbed.duration_s - source.duration_s) < 0.15
    assert dubbed.require_video().frame_count == result.frames

    before, rate = load_audio(clip, sample_rate=RATE_HZ, mono=True)
    after, _ = load_audio(out, sample_rate=rate, mono=True)
    n = min(len(before), len(after))
    a, b = before[:n, 0], after[:n, 0]
    correlation = float(np.corrcoef(a, b)[0, 1])
    assert correlation < 0.9, "the dubbed audio should not be the original soundtrack"
    assert float(np.sqrt(np.mean(b ** 2))) > 1e-3  # and it is not silent


def test_review_writes_the_lines_and_stops_before_consent(
        prefect_server: None, studio: object, clip: Path, script: Path, tmp_path: Path) -> None:
    """No grant covers French: a review still runs, since it never asks the gate."""
    out = tmp_path / "ava.fr.mp4"
    review = _dub(studio, clip, out, language="fr", script=script, review=True)
    assert isinstance(review, DubReview) and review.script == out.with_suffix(".srt")
    assert not out.exists()
    assert [c.text for c in load_subtitles(review.script, video_duration=None)] == [
        "Hola, soy Ava.", "Este vídeo está doblado con permiso."]
    assert "consent" not in review.stages_s


def test_review_from_the_cli(prefect_server: None, studio: object, clip: Path, script: Path,
                             tmp_path: Path) -> None:
    out, lines = tmp_path / "ava.es.mp4", tmp_path / "check.es.srt"
    r = run_cli("dub", clip, "--language", "es", "--script", script, "--performer", "ava",
                "--out", out, "--review", "--subtitles", lines, "--json")
    assert r.code == 0, r.err
    assert r.json()["script"] == str(lines) and r.json()["cues"] == 2
    assert lines.is_file() and not out.exists()


def test_denied_language_raises_and_writes_nothing(
        prefect_server: None, studio: object, clip: Path, script: Path, tmp_path: Path) -> None:
    out = tmp_path / "denied.mp4"
    with pytest.raises(ConsentDenied) as denied:
        _dub(studio, clip, out, language="fr", script=script)
    assert denied.value.reasons
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".denied")]


def test_video_without_audio_is_bad_input(
        prefect_server: None, studio: object, script: Path, tmp_path: Path) -> None:
    silent = face_clip(tmp_path / "silent.mp4", seconds=2.0, audio=False)
    out = tmp_path / "silent.es.mp4"
    with pytest.raises(BadInput, match="no audio track"):
        _dub(studio, silent, out, script=script)
    assert not out.exists()


def test_failure_after_the_decision_is_logged_and_writes_nothing(
        prefect_server: None, studio: object, clip: Path, script: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.dub

    def broken_fit(*_args: object, **_kwargs: object) -> object:
        raise BadInput("simulated failure while fitting speech")

    monkeypatch.setattr(flows.dub, "place_lines", broken_fit)
    out = tmp_path / "broken.mp4"
    with pytest.raises(BadInput, match="simulated failure"):
        _dub(studio, clip, out, script=script)
    assert not out.exists()
    last = run_cli("audit", "show", "--json").json()["entries"][-1]
    assert last["kind"] == "render_failed"
    assert last["payload"]["stage"] == "dub:tts" and last["payload"]["output"] == "broken.mp4"


@pytest.mark.slow
def test_without_a_script_speech_is_recognized_and_translated(
        prefect_server: None, studio: object, clip: Path, tmp_path: Path) -> None:
    """faster-whisper (packaged base weights) hears the English clip; apertium en->es."""
    from models.asr import find_model_dir
    from models.mt import installed_pairs

    try:
        settings = studio.settings  # type: ignore[attr-defined]
        find_model_dir("base", models_dir=settings.models_dir, cache_dir=settings.cache_dir)
    except BadInput:
        pytest.skip("multilingual whisper base weights are not installed")
    if "eng-spa" not in installed_pairs():
        pytest.skip("Debian apertium-eng-spa is not installed")
    out = tmp_path / "asr.es.mp4"
    result = _dub(studio, clip, out, lipsync="none")
    assert out.is_file()
    assert result.translated and result.source_language == "en"
    assert {"mt:apertium", "lipsync:none"} <= set(result.engines)
    assert any(w in " ".join(c.text for c in result.cues).lower()
               for w in ("hola", "esto", "prueba", "voz"))
    assert result.frames_lipsynced in (0, None)


@pytest.mark.slow
def test_a_same_language_dub_claims_no_translation(
        prefect_server: None, sqlite_home: Path, clip: Path, tmp_path: Path) -> None:
    """English speech dubbed into English: the manifest must not claim a translation."""
    import json

    from likeness.settings import load_settings
    from likeness.studio import Studio
    from models.asr import find_model_dir
    from provenance.c2pa import read_manifest

    settings = load_settings()
    try:
        find_model_dir("base", models_dir=settings.models_dir, cache_dir=settings.cache_dir)
    except BadInput:
        pytest.skip("multilingual whisper base weights are not installed")
    key = add_performer(tmp_path)
    registered_grant(tmp_path, key, "ava", "--language", "en", "--use", "dubbing")
    studio = Studio(settings)
    out = tmp_path / "ava.en.mp4"
    try:
        result = _dub(studio, clip, out, language="en", lipsync="none")
    finally:
        studio.close()
    assert result.source_language == "en" and result.translated is False
    assert "mt:identity" in result.engines and "mt:apertium" not in result.engines
    assert any(line.startswith("lipsync:none") for line in result.engine_choices)
    assertions = json.dumps(read_manifest(out, trust_anchor_pem=None).assertions)
    assert "c2pa.edited" in assertions and "c2pa.translated" not in assertions


# -- fast checks without Prefect or media --------------------------------------------------


LONG_LINE_SRT = """1
00:00:00,300 --> 00:00:01,300
Buenos días a todos los que nos acompañan.

2
00:00:02,400 --> 00:00:03,600
Gracias.
"""


def test_fit_video_slows_the_picture_and_keeps_sound_and_picture_together(
        prefect_server: None, studio: object, clip: Path, tmp_path: Path) -> None:
    """A first line far longer than its slot (with the voice a Spanish dub picks: 3.3 s of
    Kokoro for a 1.0 s cue): the picture and the original sound slow
    from its cue to the next (at most 1.25x), the line plays nearer its natural pace,
    and the output's video and audio streams both last the slowed length."""
    script = tmp_path / "long.es.srt"
    script.write_text(LONG_LINE_SRT, encoding="utf-8")
    speech_only = synthesize_lines.fn(
        load_subtitles_lines(script), engine=engine("tts", language="es"), language="es",
        voice=None, sample_rate=RATE_HZ, duration_s=4.0)
    assert speech_only.lines[0].report.ratio > 1.0  # without --fit video it is sped up
    out = tmp_path / "slow.es.mp4"
    result = _dub(studio, clip, out, script=script, fit="video")

    first, second = result.cues
    assert first.picture_stretch == pytest.approx(1.25)  # capped
    assert second.picture_stretch == 1.0
    assert first.ratio < speech_only.lines[0].report.ratio  # less speed-up than speech-only
    extra_s = (2.4 - 0.3) * 0.25  # the slowed span lasts a quarter longer
    assert second.spoken_start_s == pytest.approx(2.4 + extra_s, abs=0.01)  # moved with it
    source, dubbed = probe(clip), probe(out)
    video, audio = dubbed.require_video(), dubbed.require_audio()
    assert video.duration_s == pytest.approx(source.duration_s + extra_s, abs=0.1)
    assert abs(video.duration_s - audio.duration_s) <= 0.04  # no drift between the streams
    assert video.frame_count == result.frames
    assert result.frames_lipsynced is not None and result.frames_lipsynced > result.frames // 2
    payload = assert_published(out, render_id=result.render_id, decision_id=result.decision_id)
    assert payload["language"] == "es"


def load_subtitles_lines(script: Path) -> Lines:
    return Lines(cues=tuple(load_subtitles(script, video_duration=4.0)), source_language="und",
                 translated=False, engines=())


@pytest.mark.parametrize(("option", "value", "message"), [
    ("lipsync", "magic", "dub lipsync"),
    ("language", "xx-nope", "dub language"),
    ("out", "out.mov", r"must be an \.mp4 file"),
    ("out", "missing/out.mp4", "folder .* does not exist"),
    ("out", "in.mp4", "would overwrite the input"),
    ("video", "absent.mp4", "cannot read video .*absent.mp4: no such file"),
    ("script", "absent.srt", "cannot read script .*absent.srt: no such file"),
    ("fit", "stretch", "dub fit"),
    ("subtitles", "subs.txt", "must be a .*srt"),
    ("subtitles", "in.mp4", "must be a .*srt"),
    ("subtitles", "missing/subs.srt", "folder .* does not exist"),
])
def test_request_refuses_bad_options(tmp_path: Path, option: str, value: str,
                                     message: str) -> None:
    (tmp_path / "in.mp4").write_bytes(b"")
    options: dict[str, object] = {"video": tmp_path / "in.mp4", "language": "es",
                                  "out": tmp_path / "out.mp4", "performer": "ava"}
    options[option] = value if option in ("lipsync", "language", "fit") else tmp_path / value
    with pytest.raises(BadInput, match=message):
        DubRequest.build(**options)


def test_uses_follow_the_lipsync_engine(tmp_path: Path) -> None:
    (tmp_path / "in.mp4").write_bytes(b"")
    base = {"video": tmp_path / "in.mp4", "language": "ES", "out": tmp_path / "o.mp4",
            "performer": "ava"}
    assert [u.value for u in dub_uses(engine("lipsync", "viseme"))] == ["dubbing", "lip_sync"]
    assert [u.value for u in dub_uses(engine("lipsync", "none"))] == ["dubbing"]
    assert DubRequest.build(**base).language == "es"


class _FakeTTS:
    """One second of tone per line, with two phonemes: enough to check the placement."""

    name = "fake"

    def synthesize(self, text: str, *, language: str, voice: str | None = None) -> Speech:
        seconds = 1.0 if "short" in text else 3.0
        t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
        samples = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
        return Speech(samples=samples, sample_rate=RATE_HZ, phonemes=(
            PhonemeTiming("a", 0.0, seconds / 2), PhonemeTiming("m", seconds / 2, seconds)))


def test_lines_are_placed_whole_and_mixed_without_the_original_voice() -> None:
    """A line too long even at the cap keeps every word: it moves earlier into free time
    (the video ends right after it) instead of being cut or sped beyond the cap."""
    lines = Lines(cues=(Cue(1, 0.5, 2.0, "short"), Cue(2, 2.0, 3.0, "far too long")),
                  source_language="und", translated=False, engines=())
    fitted: tuple[FittedLine, ...] = synthesize_lines.fn(
        lines, engine=_FakeTTS(), language="es", voice=None, sample_rate=RATE_HZ,
        duration_s=4.0).lines
    first, second = fitted
    assert first.report.fits and first.report.ratio == 1.0 and first.report.action == "fits"
    assert first.start_sample == int(0.5 * RATE_HZ)
    assert first.phonemes[0].start_s == pytest.approx(0.5)  # offset by the cue's start
    assert second.report.action == "shifted" and not second.report.fits
    assert second.report.ratio == pytest.approx(1.35)  # the cap, not beyond
    assert len(second.samples) == pytest.approx(3.0 / 1.35 * RATE_HZ, abs=2)  # nothing cut
    assert second.report.spoken_end_s == pytest.approx(4.0, abs=1e-3)
    assert second.report.spoken_start_s > first.report.spoken_end_s  # no overlap
    assert second.phonemes[-1].end_s <= 4.0 + 1e-3

    t = np.arange(4 * RATE_HZ) / RATE_HZ
    hum = (0.05 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
    original = AudioTrack(np.stack([hum, hum], axis=1), RATE_HZ)
    soundtrack = mix_soundtrack.fn(original, fitted)
    assert soundtrack.mixed.samples.shape == original.samples.shape  # stereo, same length
    assert soundtrack.report.channels == 2 and soundtrack.report.sample_rate == RATE_HZ
    assert soundtrack.report.loudness_lufs == pytest.approx(-23.0, abs=1.0)
    assert soundtrack.report.true_peak_dbtp <= -1.0
    assert len(soundtrack.timings) == len(first.phonemes) + len(second.phonemes)
    silent_head = soundtrack.speech[: int(0.4 * RATE_HZ)]
    assert float(np.abs(silent_head).max()) == 0.0  # nothing spoken before the first cue
    assert float(np.abs(soundtrack.speech[RATE_HZ:2 * RATE_HZ]).max()) > 0.01


def test_a_script_longer_than_the_video_is_cut_at_its_end_and_says_so() -> None:
    lines = Lines(cues=(Cue(1, 0.5, 1.0, "far too long"),), source_language="und",
                  translated=False, engines=())
    (line,) = synthesize_lines.fn(lines, engine=_FakeTTS(), language="es", voice=None,
                                  sample_rate=RATE_HZ, duration_s=1.5).lines
    assert line.report.action == "cut" and line.report.ratio == pytest.approx(1.35)
    assert line.report.cut_s == pytest.approx(0.5 + 3.0 / 1.35 - 1.5, abs=1e-3)
    assert line.report.spoken_end_s == pytest.approx(1.5)
    assert len(line.samples) == RATE_HZ  # 0.5 s .. 1.5 s, the video's end
    assert abs(float(line.samples[-1])) < 1e-3  # faded, not clicked off
    assert all(p.end_s <= 1.5 + 1e-9 for p in line.phonemes)


def test_words_the_recognizer_heard_are_removed_too() -> None:
    """A hum has nothing VAD calls speech; the recognizer's word timings still mark it."""
    t = np.arange(3 * RATE_HZ) / RATE_HZ
    hum = (0.05 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)[:, np.newaxis]
    original = AudioTrack(hum, RATE_HZ)
    soundtrack = mix_soundtrack.fn(original, (), heard_words=((1.0, 1.4), (1.5, 2.0)))
    assert soundtrack.report.dialogue_detection == "vad:silero-v6+asr-words"
    assert soundtrack.report.dialogue_regions == 1  # two close words: one region
    assert soundtrack.regions[0].start_s == pytest.approx(0.9)
    assert soundtrack.regions[0].end_s == pytest.approx(2.1)


class _ShoutingTranslator:
    """Stands in for apertium: every line changes, so a translation did happen."""

    name = "shouting"

    def translate(self, segments: list[str], *, source: str, target: str) -> list[str]:
        return [segment.upper() for segment in segments]


def _heard() -> tuple[Cue, ...]:
    return (Cue(index=1, start_s=0.3, end_s=1.6, text=" Hello, I am Ava. "),
            Cue(index=2, start_s=2.0, end_s=3.7, text="This video is dubbed."))


def test_a_same_language_transcript_claims_no_translation(tmp_path: Path) -> None:
    """English speech dubbed into English: the identity translator ran, nothing was
    translated, and the manifest must not say otherwise (no c2pa.translated)."""
    identity = engine("mt", source="en", target="en-US")
    lines = translated_lines(_heard(), source="en", target="en-US", translator=identity,
                             video_duration_s=4.0, recognized_by="asr:whisper-base",
                             video=tmp_path / "ava.mp4")
    assert lines.translated is False
    assert lines.engines == ("asr:whisper-base", "mt:identity")
    assert "mt:apertium" not in lines.engines
    assert [c.text for c in lines.cues] == ["Hello, I am Ava.", "This video is dubbed."]
    engines = Engines(face=engine("face", "dlib"), tts=_FakeTTS(),  # type: ignore[arg-type]
                      lipsync=engine("lipsync", "viseme"))
    actions = dub_actions(lines, language="en-US", engines=engines)
    assert [a.action for a in actions] == ["c2pa.edited"]
    assert "mouth lip-synced by the viseme engine" in str(actions[0].description)


def test_a_translated_transcript_says_so(tmp_path: Path) -> None:
    lines = translated_lines(_heard(), source="en", target="es",
                             translator=_ShoutingTranslator(), video_duration_s=4.0,
                             recognized_by="asr:whisper-base", video=tmp_path / "ava.mp4")
    assert lines.translated is True and lines.engines[-1] == "mt:shouting"
    engines = Engines(face=engine("face", "dlib"), tts=_FakeTTS(),  # type: ignore[arg-type]
                      lipsync=engine("lipsync", "none"))
    translated, edited = dub_actions(lines, language="es", engines=engines)
    assert translated.action == "c2pa.translated"
    assert translated.parameters == {"sourceLanguage": "en", "targetLanguage": "es"}
    assert "the mouth left untouched" in str(edited.description)
    script = Lines(cues=lines.cues, source_language="und", translated=False,
                   engines=("mt:script",))
    assert [a.action for a in dub_actions(script, language="es", engines=engines)] == [
        "c2pa.translated", "c2pa.edited"]  # a human translation from an unknown language


class _CountingRecognizer:
    """Hears the same two English lines every time, and counts how often it was asked."""

    name = "counting"
    model_id = "tiny-test"

    def __init__(self) -> None:
        self.calls = 0

    def transcribe(self, audio: object, **_options: object) -> object:
        from models.asr import Transcript

        self.calls += 1
        return Transcript(language="en", language_probability=1.0, duration_s=4.0,
                          cues=_heard(), model=self.model_id)


def test_recognize_and_translate_is_cached_by_footage_language_and_model(
        prefect_server: None, tmp_path: Path) -> None:
    """A re-run on the same footage (by SHA-256), target language and ASR model reuses
    the persisted lines: the recognizer is not asked again. Another model is."""
    from flows.dub import recognize_and_translate
    from flows.prefect_env import flow

    recognizer = _CountingRecognizer()
    video = tmp_path / "ava.mp4"
    video.write_bytes(b"not decoded: the fake recognizer never reads it")
    digest = uuid.uuid4().hex  # a fresh key: no earlier test run can have filled it

    @flow(name="asr-cache-check", persist_result=False)
    def twice(model: str) -> tuple[object, ...]:
        return tuple(recognize_and_translate(
            video, video_sha256=digest, asr_model=model, recognizer=recognizer,
            language="en", video_duration_s=4.0, models_dir=NO_MODELS_DIR,
            policy=STUDIO_DEFAULT) for _ in range(2))

    first, again = twice("tiny-test")
    assert recognizer.calls == 1
    assert again == first and [c.text for c in first.cues] == [  # type: ignore[attr-defined]
        "Hello, I am Ava.", "This video is dubbed."]
    twice("another-model")
    assert recognizer.calls == 2


def test_a_dub_of_a_stamped_file_keeps_its_provenance_chain(
        prefect_server: None, studio: object, clip: Path, script: Path, tmp_path: Path) -> None:
    """Issue 13 §3: stamp -> dub; `verify` of the dub shows both renders, and the stamped
    file's manifest is kept as the dub's parent ingredient, never stripped."""
    stamped = tmp_path / "stamped.mp4"
    r = run_cli("stamp", clip, "--performer", "ava", "--use", "dubbing", "--use", "lip_sync",
                "--language", "es", "--out", stamped, "--json")
    assert r.code == 0, r.err
    first = r.json()["render_id"]
    dubbed = tmp_path / "stamped.es.mp4"
    result = _dub(studio, stamped, dubbed, script=script)
    v = run_cli("verify", dubbed, "--json")
    assert v.code == 0, v.out
    report = v.json()
    assert report["status"] == "intact" and report["render_id"] == result.render_id
    chain = report["chain"]
    assert [link["render_id"] for link in chain] == [result.render_id, first]
    assert chain[0]["source_watermark_ids"] == [first]  # the stamp's mark was found in it
    assert chain[1]["ingredient_failures"] == []  # and its manifest still validates


def test_a_job_file_takes_the_fit_mode(tmp_path: Path) -> None:
    from flows.jobs import BadJobFile, load_job_file

    (tmp_path / "in.mp4").write_bytes(b"")
    job = ("jobs:\n  - name: slow\n    kind: dub\n    input: in.mp4\n    language: es\n"
           "    performer: ava\n    out: out.mp4\n    fit: {fit}\n")
    path = tmp_path / "jobs.yaml"
    path.write_text(job.format(fit="both"), encoding="utf-8")
    (loaded,) = load_job_file(path).jobs
    assert loaded.fit == "both"  # type: ignore[union-attr]
    path.write_text(job.format(fit="stretch"), encoding="utf-8")
    with pytest.raises(BadJobFile, match="fit"):
        load_job_file(path)


def test_only_frames_near_speech_are_tracked_and_lip_synced() -> None:
    """Issue 15: a cue's slot and where its line is spoken, widened by the margin."""
    from flows.dub import CueReport, FittedLine, speech_frames

    def line(start: float, end: float, spoken_start: float, spoken_end: float) -> FittedLine:
        report = CueReport(index=1, start_s=start, end_s=end, text="hola", speech_s=1.0,
                           slot_s=end - start, ratio=1.0, action="fits",
                           spoken_start_s=spoken_start, spoken_end_s=spoken_end, fits=True,
                           overflow_s=0.0)
        return FittedLine(report=report, start_sample=0, samples=np.zeros(1, np.float32),
                          phonemes=())

    near = speech_frames([line(1.0, 2.0, 1.0, 2.4), line(5.0, 6.0, 5.2, 5.8)], fps=25.0,
                         margin_s=0.2)
    assert [near(i) for i in (19, 20, 35, 65, 66)] == [False, True, True, True, False]
    assert not near(100) and near(120) and near(155) and not near(156) and not near(0)
