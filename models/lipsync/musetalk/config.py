"""MuseTalk 1.5's published architecture, as numbers: the three networks' configurations.

The official checkpoints load only into networks of exactly these shapes, so the
numbers are facts copied from the published configuration files (MuseTalk's
``musetalk.json``, sd-vae-ft-mse's ``config.json``, whisper-tiny's ``config.json``),
not tunables. `Architecture.reduced` keeps every structural choice (block types,
8-channel input, 384-wide cross-attention, four VAE stages: 256 px -> 32x32 latents)
and only narrows the layers, so tests and CPU runs can exercise the real code path
with random weights in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

FACE_SIZE_PX = 256  # the crop MuseTalk was trained on
LATENT_SIZE = FACE_SIZE_PX // 8  # the VAE downsamples 8x: 32x32 latents
LATENT_CHANNELS = 4
VAE_SCALING_FACTOR = 0.18215  # Stable Diffusion 1.x latent scale (diffusers' default)
WHISPER_FEATURES_PER_SECOND = 50  # whisper's encoder emits one vector per 20 ms
WHISPER_SAMPLE_RATE_HZ = 16_000
WHISPER_SEGMENT_S = 30  # the encoder always sees 30 s of (padded) audio
AUDIO_CONTEXT_LEFT = 2  # video frames of audio before the frame (MuseTalk 1.5 default)
AUDIO_CONTEXT_RIGHT = 2  # and after it
FEATURES_PER_VIDEO_FRAME = 2  # 50 features/s over 25 fps, the rate MuseTalk was trained at
TRAINED_FPS = 25.0


def _frozen(values: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType({key: tuple(value) if isinstance(value, list) else value
                             for key, value in values.items()})


# MuseTalk 1.5 musetalk.json (diffusers UNet2DConditionModel arguments).
UNET_CONFIG: Mapping[str, Any] = _frozen({
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 384,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                         "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 8,  # masked-reference latent (4) + reference latent (4)
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                       "CrossAttnUpBlock2D"],
})

# stabilityai/sd-vae-ft-mse config.json (diffusers AutoencoderKL arguments).
VAE_CONFIG: Mapping[str, Any] = _frozen({
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": LATENT_CHANNELS,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": FACE_SIZE_PX,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
})


@dataclass(frozen=True)
class WhisperDims:
    """whisper-tiny's encoder: 80 mel bins in, 384-wide vectors out, 4 layers of 6 heads."""

    n_mels: int = 80
    d_model: int = 384
    layers: int = 4
    heads: int = 6
    ffn: int = 1536
    max_positions: int = 1500  # 30 s at 50 vectors/s

    @property
    def hidden_states(self) -> int:
        """What MuseTalk stacks per time step: the embeddings plus every layer's output."""
        return self.layers + 1


WHISPER_TINY = WhisperDims()


@dataclass(frozen=True)
class Architecture:
    """The three networks' configurations; `PUBLISHED` loads the official checkpoints."""

    unet: Mapping[str, Any] = field(default_factory=lambda: UNET_CONFIG)
    vae: Mapping[str, Any] = field(default_factory=lambda: VAE_CONFIG)
    whisper: WhisperDims = WHISPER_TINY

    @property
    def audio_tokens(self) -> int:
        """Cross-attention sequence length per frame: 10 feature steps x 5 hidden states."""
        steps = FEATURES_PER_VIDEO_FRAME * (AUDIO_CONTEXT_LEFT + AUDIO_CONTEXT_RIGHT + 1)
        return steps * self.whisper.hidden_states

    @classmethod
    def reduced(cls) -> Architecture:
        """Same structure, narrow layers: for tests and CPU smoke runs with random weights."""
        unet = dict(UNET_CONFIG, block_out_channels=(16, 32, 32, 32), layers_per_block=1,
                    attention_head_dim=2, norm_num_groups=8, sample_size=LATENT_SIZE)
        vae = dict(VAE_CONFIG, block_out_channels=(16, 16, 32, 32), layers_per_block=1,
                   norm_num_groups=8)
        return cls(unet=_frozen(unet), vae=_frozen(vae), whisper=WHISPER_TINY)


PUBLISHED = Architecture()
