"""The Wav2Lip network reproduces the official checkpoints' parameter names and shapes."""

from __future__ import annotations

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from models.lipsync.wav2lip.model import Wav2Lip  # noqa: E402

# Read off the published architecture (Rudrabha/Wav2Lip models/wav2lip.py + conv.py).
KNOWN_SHAPES = {
    "face_encoder_blocks.0.0.conv_block.0.weight": (16, 6, 7, 7),
    "face_encoder_blocks.0.0.conv_block.1.running_var": (16,),
    "face_encoder_blocks.2.3.conv_block.0.weight": (64, 64, 3, 3),
    "face_encoder_blocks.5.1.conv_block.0.bias": (512,),
    "face_encoder_blocks.6.1.conv_block.0.weight": (512, 512, 1, 1),
    "audio_encoder.0.conv_block.0.weight": (32, 1, 3, 3),
    "audio_encoder.9.conv_block.0.weight": (256, 128, 3, 3),
    "audio_encoder.12.conv_block.0.weight": (512, 512, 1, 1),
    "face_decoder_blocks.0.0.conv_block.0.weight": (512, 512, 1, 1),
    # ConvTranspose2d stores (in, out, k, k)
    "face_decoder_blocks.1.0.conv_block.0.weight": (1024, 512, 3, 3),
    "face_decoder_blocks.3.0.conv_block.0.weight": (768, 384, 3, 3),
    "face_decoder_blocks.6.0.conv_block.0.weight": (160, 64, 3, 3),
    "face_decoder_blocks.6.2.conv_block.1.weight": (64,),
    "output_block.0.conv_block.0.weight": (32, 80, 3, 3),
    "output_block.1.weight": (3, 32, 1, 1),
    "output_block.1.bias": (3,),
}
PARAMETER_COUNT = 36_298_035
STATE_ENTRIES = 352  # 50 conv units x (weight, bias, 4 BN tensors, num_batches_tracked) + 2
UNITS_PER_BLOCK = {"face_encoder_blocks": [1, 3, 4, 3, 3, 2, 2],
                   "face_decoder_blocks": [1, 2, 3, 3, 3, 3, 3]}


@pytest.fixture(scope="module")
def network() -> Wav2Lip:
    torch.manual_seed(0)
    return Wav2Lip().eval()


def test_known_names_and_shapes(network: Wav2Lip) -> None:
    state = network.state_dict()
    for name, shape in KNOWN_SHAPES.items():
        assert tuple(state[name].shape) == shape, name


def test_parameter_and_state_counts(network: Wav2Lip) -> None:
    assert sum(p.numel() for p in network.parameters()) == PARAMETER_COUNT
    state = network.state_dict()
    assert len(state) == STATE_ENTRIES
    assert sum(k.endswith("num_batches_tracked") for k in state) == 50
    assert not any(k.startswith("module.") for k in state)


def test_block_structure(network: Wav2Lip) -> None:
    for block, units in UNITS_PER_BLOCK.items():
        assert [len(stage) for stage in getattr(network, block)] == units
    assert len(network.audio_encoder) == 13
    assert isinstance(network.output_block[2], torch.nn.Sigmoid)


def test_forward_shape_and_range(network: Wav2Lip) -> None:
    with torch.inference_mode():
        out = network(torch.randn(3, 1, 80, 16), torch.rand(3, 6, 96, 96))
    assert out.shape == (3, 3, 96, 96)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_forward_refuses_wrong_ranks(network: Wav2Lip) -> None:
    with pytest.raises(ValueError, match="expected mel"):
        network(torch.randn(2, 80, 16), torch.rand(2, 6, 96, 96))


def test_package_import_does_not_load_torch() -> None:
    code = ("import sys, models.lipsync.wav2lip as w; "
            "assert w.WEIGHTS; print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"
