"""The official checkpoint layout, checked by shape; strict loading of generated checkpoints.

The full-size networks are built on torch's meta device (shapes only, no memory) and
compared with facts about the published files. Loading is exercised on checkpoints
this test writes in the official layout and naming (old sd-vae-ft-mse attention
names, whisper's ``model.`` prefix and decoder): random values, reduced widths.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from likeness.errors import IntegrityFailure  # noqa: E402
from models.lipsync.musetalk.config import UNET_CONFIG, Architecture  # noqa: E402
from models.lipsync.musetalk.layout import require_placement  # noqa: E402
from models.lipsync.musetalk.loading import check_unet_config, load_networks  # noqa: E402
from models.lipsync.musetalk.networks import MuseTalkNetworks  # noqa: E402

# Facts about the published checkpoints. unet.pth is 3.4 GB of float32 (849.9 M values),
# sd-vae-ft-mse's diffusion_pytorch_model.bin 335 MB (83.65 M); the official loader calls
# UNet2DConditionModel(**musetalk.json).load_state_dict(torch.load("unet.pth")) strictly,
# so the file's names are exactly that network's.
OFFICIAL_UNET_SHAPES = {
    "conv_in.weight": (320, 8, 3, 3),  # 8 = masked-reference latent + reference latent
    "time_embedding.linear_1.weight": (1280, 320),
    "down_blocks.0.attentions.0.proj_in.weight": (320, 320, 1, 1),
    "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight": (320, 384),
    "down_blocks.2.attentions.1.transformer_blocks.0.attn2.to_v.weight": (1280, 384),
    "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight": (1280, 384),
    "up_blocks.3.attentions.2.proj_out.weight": (320, 320, 1, 1),
    "conv_out.weight": (4, 320, 3, 3),
}
OFFICIAL_VAE_SHAPES = {  # the 2022 file's own attention names
    "encoder.conv_in.weight": (128, 3, 3, 3),
    "encoder.mid_block.attentions.0.query.weight": (512, 512),
    "decoder.mid_block.attentions.0.proj_attn.weight": (512, 512),
    "quant_conv.weight": (8, 8, 1, 1),
    "decoder.conv_out.weight": (3, 128, 3, 3),
}
OFFICIAL_WHISPER_SHAPES = {  # openai/whisper-tiny pytorch_model.bin
    "model.encoder.conv1.weight": (384, 80, 3),
    "model.encoder.conv2.weight": (384, 384, 3),
    "model.encoder.embed_positions.weight": (1500, 384),
    "model.encoder.layers.3.self_attn.q_proj.bias": (384,),
    "model.encoder.layers.0.fc1.weight": (1536, 384),
    "model.encoder.layer_norm.weight": (384,),
}
OLD_VAE_NAMES = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}


@pytest.fixture(scope="module")
def full_size() -> MuseTalkNetworks:
    return MuseTalkNetworks.on_meta()


def test_full_size_networks_have_the_published_shapes(full_size: MuseTalkNetworks) -> None:
    unet = full_size.unet.state_dict()
    assert len(unet) == 686
    assert sum(t.numel() for t in unet.values()) == 849_947_844  # x 4 bytes = unet.pth's 3.4 GB
    for name, shape in OFFICIAL_UNET_SHAPES.items():
        assert tuple(unet[name].shape) == shape, name
    vae = full_size.vae.state_dict()
    assert sum(t.numel() for t in vae.values()) == 83_653_863  # x 4 bytes = 335 MB
    from models.lipsync.musetalk.checkpoint import vae_names, whisper_encoder_names

    renamed = vae_names({name: torch.empty(shape, device="meta")
                         for name, shape in OFFICIAL_VAE_SHAPES.items()})
    for name, tensor in renamed.items():
        assert tuple(vae[name].shape) == tuple(tensor.shape), name
    whisper = full_size.whisper.state_dict()
    assert len(whisper) == 67 and sum(t.numel() for t in whisper.values()) == 8_208_384
    kept = whisper_encoder_names({name: torch.empty(shape, device="meta")
                                  for name, shape in OFFICIAL_WHISPER_SHAPES.items()}, source="t")
    for name, tensor in kept.items():
        assert tuple(whisper[name].shape) == tuple(tensor.shape), name
    assert full_size.architecture.audio_tokens == 50  # 10 feature steps x 5 hidden states


def write_official_layout(models_dir: Path, networks: MuseTalkNetworks, *,
                          safetensors: bool = False) -> Path:
    """The three files as MuseTalk's models/ folder holds them, with their own names."""
    root = models_dir / "musetalk"
    for folder in ("musetalkV15", "sd-vae", "whisper"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    vae = {}
    for name, tensor in networks.vae.state_dict().items():
        for new, old in OLD_VAE_NAMES.items():
            name = name.replace(f".attentions.0.{new}.", f".attentions.0.{old}.")
        vae[name] = tensor.clone()
    whisper = {"model." + name: t.clone() for name, t in networks.whisper.state_dict().items()}
    whisper["model.decoder.embed_tokens.weight"] = torch.zeros(8, 384)  # unused half
    whisper["proj_out.weight"] = torch.zeros(8, 384)
    unet = {name: t.clone() for name, t in networks.unet.state_dict().items()}
    if safetensors:
        from safetensors.torch import save_file

        save_file(unet, str(root / "musetalkV15" / "unet.safetensors"))
        save_file(vae, str(root / "sd-vae" / "diffusion_pytorch_model.safetensors"))
        save_file(whisper, str(root / "whisper" / "model.safetensors"))
    else:
        torch.save(unet, root / "musetalkV15" / "unet.pth")
        torch.save(vae, root / "sd-vae" / "diffusion_pytorch_model.bin")
        torch.save(whisper, root / "whisper" / "pytorch_model.bin")
    return root


@pytest.fixture(scope="module")
def reduced() -> MuseTalkNetworks:
    torch.manual_seed(11)
    return MuseTalkNetworks(Architecture.reduced()).eval()


@pytest.mark.parametrize("safetensors", [False, True])
def test_generated_checkpoints_in_the_official_layout_load_strictly(
        tmp_path: Path, reduced: MuseTalkNetworks, safetensors: bool) -> None:
    write_official_layout(tmp_path, reduced, safetensors=safetensors)
    loaded, record = load_networks(require_placement(tmp_path),
                                   architecture=Architecture.reduced())
    for part in ("unet", "vae", "whisper"):
        mine, theirs = getattr(loaded, part).state_dict(), getattr(reduced, part).state_dict()
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[k], theirs[k]) for k in mine), part
    assert not any(t.is_meta for t in loaded.parameters())
    assert loaded.adapter.table.device.type == "cpu"
    assert len(record.digests) == 3 and all(len(d) == 64 for d in record.digests.values())


def test_a_checkpoint_that_does_not_fit_is_refused_with_a_listing(
        tmp_path: Path, reduced: MuseTalkNetworks) -> None:
    root = write_official_layout(tmp_path, reduced)
    unet = torch.load(root / "musetalkV15" / "unet.pth", weights_only=True)
    del unet["conv_out.bias"]
    unet["extra.weight"] = torch.zeros(1)
    unet["conv_in.weight"] = torch.zeros(unet["conv_in.weight"].shape[0], 4, 3, 3)  # SD's 4 ch
    torch.save(unet, root / "musetalkV15" / "unet.pth")
    with pytest.raises(IntegrityFailure) as caught:
        load_networks(require_placement(tmp_path), architecture=Architecture.reduced())
    message = caught.value.message
    assert "not a MuseTalk 1.5 unet checkpoint" in message
    assert "1 missing tensor(s): conv_out.bias" in message
    assert "1 unexpected tensor(s): extra.weight" in message
    assert "conv_in.weight (16, 4, 3, 3) != (16, 8, 3, 3)" in message


def test_whisper_without_an_encoder_is_refused(tmp_path: Path, reduced: MuseTalkNetworks) -> None:
    root = write_official_layout(tmp_path, reduced)
    torch.save({"model.decoder.embed_tokens.weight": torch.zeros(2, 2)},
               root / "whisper" / "pytorch_model.bin")
    with pytest.raises(IntegrityFailure, match="holds no whisper encoder"):
        load_networks(require_placement(tmp_path), architecture=Architecture.reduced())


def test_a_placed_musetalk_json_must_be_the_published_one(tmp_path: Path) -> None:
    published = {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.6.0.dev0",
                 **{k: list(v) if isinstance(v, tuple) else v for k, v in UNET_CONFIG.items()}}
    path = tmp_path / "musetalk.json"
    path.write_text(json.dumps(published), encoding="utf-8")
    check_unet_config(path)  # the file MuseTalk ships passes
    path.write_text(json.dumps({**published, "in_channels": 4, "cross_attention_dim": 768}),
                    encoding="utf-8")
    with pytest.raises(IntegrityFailure, match="cross_attention_dim, in_channels"):
        check_unet_config(path)
