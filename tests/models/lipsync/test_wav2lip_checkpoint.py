"""Loading official-format checkpoints strictly, and refusing anything else clearly."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from likeness.errors import BadInput, IntegrityFailure, MissingWeights  # noqa: E402
from models.lipsync.wav2lip import WEIGHTS, find_checkpoint  # noqa: E402
from models.lipsync.wav2lip.checkpoint import load_generator, read_state_dict  # noqa: E402
from models.lipsync.wav2lip.model import Wav2Lip  # noqa: E402


def random_state(seed: int = 1) -> dict[str, torch.Tensor]:
    """Same keys and shapes as the official generator, random values (BN stats too)."""
    return dict(_random_state(seed))


@functools.cache
def _random_state(seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in Wav2Lip().state_dict().items():
        if value.is_floating_point():
            state[key] = torch.rand(value.shape, generator=generator) + 0.1
        else:
            state[key] = torch.full_like(value, 1234)
    return state


def save_checkpoint(path: Path, state: dict[str, torch.Tensor], *, prefix: str = "") -> Path:
    payload = {"state_dict": {prefix + k: v for k, v in state.items()},
               "global_step": 1, "global_epoch": 1}
    torch.save(payload, path)
    return path


@pytest.mark.parametrize("prefix", ["", "module."])
def test_loads_strictly_with_and_without_dataparallel_prefix(tmp_path: Path, prefix: str) -> None:
    state = random_state()
    path = save_checkpoint(tmp_path / "wav2lip.pth", state, prefix=prefix)
    model = load_generator(path)
    loaded = model.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key
    assert not model.training


def test_read_state_dict_strips_prefix(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "w.pth", random_state(), prefix="module.")
    keys = read_state_dict(path)
    assert "output_block.1.weight" in keys and not any(k.startswith("module.") for k in keys)


def test_missing_and_unexpected_keys_are_listed(tmp_path: Path) -> None:
    state = random_state()
    del state["output_block.1.weight"]
    state["extra.layer.weight"] = torch.zeros(3)
    path = save_checkpoint(tmp_path / "bad.pth", state)
    with pytest.raises(IntegrityFailure) as caught:
        load_generator(path)
    message = caught.value.message
    assert "1 missing key(s): output_block.1.weight" in message
    assert "1 unexpected key(s): extra.layer.weight" in message
    assert caught.value.exit_code == 4


def test_shape_mismatch_is_listed(tmp_path: Path) -> None:
    state = random_state()
    state["audio_encoder.0.conv_block.0.weight"] = torch.zeros(32, 2, 3, 3)
    path = save_checkpoint(tmp_path / "bad.pth", state)
    with pytest.raises(IntegrityFailure, match=r"audio_encoder.0.conv_block.0.weight "
                       r"\(32, 2, 3, 3\) != \(32, 1, 3, 3\)"):
        load_generator(path)


def test_garbage_file_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "wav2lip.pth"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(BadInput, match="cannot read checkpoint"):
        load_generator(path)


def test_checkpoint_without_state_dict_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "wav2lip.pth"
    torch.save({"state_dict": "nope"}, path)
    with pytest.raises(BadInput, match="no state dict"):
        load_generator(path)


def test_missing_file_names_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(MissingWeights) as caught:
        find_checkpoint(models_dir=tmp_path)
    assert "wav2lip.pth" in caught.value.message
    assert str(tmp_path / "wav2lip") in (caught.value.hint or "")
    assert "$LIKENESS_HOME/models/wav2lip/" in (caught.value.hint or "")
    with pytest.raises(MissingWeights, match="wav2lip_gan.pth"):
        find_checkpoint(gan=True, models_dir=tmp_path)


def test_models_dir_from_the_settings_reaches_the_engine(tmp_path: Path) -> None:
    """LIKENESS_MODELS_DIR is read by the settings, once; the registry passes it on."""
    from likeness.settings import load_settings
    from models import registry
    from models.registry import EnginePolicy

    models = tmp_path / "models"
    (models / "wav2lip").mkdir(parents=True)
    save_checkpoint(models / "wav2lip" / "wav2lip_gan.pth", random_state())
    settings = load_settings({"LIKENESS_HOME": str(tmp_path / "home"),
                              "LIKENESS_MODELS_DIR": str(models)})
    assert find_checkpoint(gan=True, models_dir=settings.models_dir) == (
        models / "wav2lip" / "wav2lip_gan.pth")
    engine = registry.get("lipsync", "wav2lip", models_dir=settings.models_dir,
                          policy=EnginePolicy(commercial=False))
    assert engine.name == "wav2lip" and engine.checkpoint == models / "wav2lip" / "wav2lip_gan.pth"
    assert engine.needs_track and engine.alters_mouth


def test_weights_declaration() -> None:
    names = {w.name: w for w in WEIGHTS}
    assert set(names) == {"wav2lip.pth", "wav2lip_gan.pth"}
    for weight in WEIGHTS:
        assert weight.engine == "wav2lip"
        assert weight.sha256 == ""
        assert weight.commercial_use is False
        assert "non-commercial" in weight.license
        assert weight.source == f"user:wav2lip/{weight.name}"


def test_model_store_lists_placed_checkpoint(tmp_path: Path) -> None:
    from models.store import list_models

    folder = tmp_path / "wav2lip"
    folder.mkdir()
    save_checkpoint(folder / "wav2lip.pth", random_state())
    rows = {r.name: r for r in list_models(models_dir=tmp_path) if r.engine == "wav2lip"}
    assert rows["wav2lip.pth"].installed and not rows["wav2lip_gan.pth"].installed
