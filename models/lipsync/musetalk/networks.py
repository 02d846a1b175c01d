"""The MuseTalk 1.5 generator: VAE in, one UNet step, VAE out, driven by whisper features.

Per 256x256 face crop (RGB, scaled to [-1, 1]):

1. the VAE encodes the crop twice: once with its lower half blacked out (the mouth
   the network must paint) and once whole (the identity reference); the two 4x32x32
   latents (posterior means, x 0.18215) are stacked to the UNet's 8 input channels;
2. the audio prompt (50 x 384 whisper features for the frame) gets a fixed sinusoidal
   positional encoding added (the "audio adapter": no weights, nothing in the
   checkpoint) and feeds every cross-attention layer;
3. one UNet evaluation at timestep 0 gives the new latent; MuseTalk is an inpainter,
   not a diffusion sampler, so there is no loop and no noise;
4. the VAE decodes it back to 256x256 RGB.

The official inference samples the VAE posterior; we take its mean, which makes a
render reproducible (the posterior's spread at this VAE is a few 1/1000 of a latent).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from models.lipsync.musetalk.checkpoint import (
    check_state_dict,
    vae_names,
    whisper_encoder_names,
)
from models.lipsync.musetalk.config import (
    FACE_SIZE_PX,
    PUBLISHED,
    VAE_SCALING_FACTOR,
    Architecture,
)
from models.lipsync.musetalk.whisper import WhisperCheckpointRoot, WhisperEncoder

MAX_AUDIO_TOKENS = 5000
_PIXEL_MAX = 255.0


class AudioAdapter(nn.Module):
    """Adds the transformer's sinusoidal position code to each audio token (no weights)."""

    def __init__(self, width: int, *, max_tokens: int = MAX_AUDIO_TOKENS) -> None:
        super().__init__()
        position = torch.arange(max_tokens, dtype=torch.float32)[:, None]
        rate = torch.exp(torch.arange(0, width, 2, dtype=torch.float32)
                         * (-math.log(10000.0) / width))
        table = torch.zeros(max_tokens, width)
        table[:, 0::2] = torch.sin(position * rate)
        table[:, 1::2] = torch.cos(position * rate)
        self.register_buffer("table", table, persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens + self.table[: tokens.shape[1]].to(tokens.dtype)


def build_unet(architecture: Architecture = PUBLISHED) -> nn.Module:
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(**{key: list(value) if isinstance(value, tuple) else value
                                   for key, value in architecture.unet.items()})


def build_vae(architecture: Architecture = PUBLISHED) -> nn.Module:
    from diffusers import AutoencoderKL

    return AutoencoderKL(**{key: list(value) if isinstance(value, tuple) else value
                            for key, value in architecture.vae.items()})


class MuseTalkNetworks(nn.Module):
    """The UNet, the VAE, whisper's encoder and the audio adapter, as one module."""

    def __init__(self, architecture: Architecture = PUBLISHED) -> None:
        super().__init__()
        self.architecture = architecture
        self.unet = build_unet(architecture)
        self.vae = build_vae(architecture)
        self.whisper = WhisperCheckpointRoot(architecture.whisper)
        self.adapter = AudioAdapter(int(architecture.unet["cross_attention_dim"]))

    @classmethod
    def on_meta(cls, architecture: Architecture = PUBLISHED) -> MuseTalkNetworks:
        """Every tensor shape-only (no memory): to compare checkpoints or count parameters."""
        with torch.device("meta"):
            return cls(architecture)

    @property
    def encoder(self) -> WhisperEncoder:
        return self.whisper.encoder

    # -- loading --------------------------------------------------------------------------

    def load_checkpoints(self, *, unet: Mapping[str, Any], vae: Mapping[str, Any],
                         whisper: Mapping[str, Any], sources: Mapping[str, str]) -> None:
        """Load the three official state dicts strictly (names normalised, then exact)."""
        parts: tuple[tuple[str, nn.Module, Mapping[str, Any]], ...] = (
            ("unet", self.unet, dict(unet)),
            ("vae", self.vae, vae_names(vae)),
            ("whisper", self.whisper,
             whisper_encoder_names(whisper, source=sources.get("whisper", "whisper"))),
        )
        for what, module, state in parts:
            check_state_dict(state, expected=module.state_dict(), source=sources.get(what, what),
                             what=what)
        for _what, module, state in parts:
            module.load_state_dict(state, strict=True, assign=True)

    # -- inference ------------------------------------------------------------------------

    def speech_features(self, mel_segments: torch.Tensor) -> torch.Tensor:
        """(steps, states, width) whisper features for (segments, 80, 3000) log-mel."""
        stacked = self.encoder(mel_segments)  # (segments, 1500, states, width)
        return stacked.reshape(-1, stacked.shape[2], stacked.shape[3])

    def encode_faces(self, faces: torch.Tensor) -> torch.Tensor:
        """(B, 8, 32, 32) UNet input for (B, 3, 256, 256) faces in [-1, 1]."""
        masked = faces.clone()
        masked[:, :, FACE_SIZE_PX // 2:] = -1.0  # black lower half, as MuseTalk masks
        moments = self.vae.encode(torch.cat((masked, faces))).latent_dist.mean
        latents = moments * VAE_SCALING_FACTOR
        count = faces.shape[0]
        return torch.cat((latents[:count], latents[count:]), dim=1)

    def inpaint(self, latents: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """One UNet step at timestep 0: the new (B, 4, 32, 32) face latent."""
        timestep = torch.zeros((), device=latents.device, dtype=torch.long)
        return self.unet(latents, timestep, encoder_hidden_states=self.adapter(audio)).sample

    def decode_faces(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, 3, 256, 256) faces in [0, 1] from UNet latents."""
        return (self.vae.decode(latents / VAE_SCALING_FACTOR).sample / 2 + 0.5).clamp(0, 1)

    def forward(self, faces_uint8: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """(B, 256, 256, 3) uint8 RGB crops and (B, 50, 384) prompts -> new crops, same layout."""
        dtype = next(self.unet.parameters()).dtype
        faces = faces_uint8.permute(0, 3, 1, 2).to(dtype) / (_PIXEL_MAX / 2) - 1.0
        generated = self.decode_faces(self.inpaint(self.encode_faces(faces), audio.to(dtype)))
        generated = generated.nan_to_num(0.5)  # an fp16 overflow must not become garbage bytes
        return (generated * _PIXEL_MAX).round().to(torch.uint8).permute(0, 2, 3, 1)
