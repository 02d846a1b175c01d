"""whisper-tiny's audio encoder, written so the published checkpoint's tensors load by name.

MuseTalk hears speech through the hidden states of whisper's encoder, never through
text: two 1-D convolutions (the second halves the rate to 50 vectors/s), learned
positions, then pre-norm transformer layers. The parameter names follow the Hugging
Face checkpoint (``encoder.conv1``, ``encoder.layers.N.self_attn.k_proj`` without a
bias, ``fc1``/``fc2``, ``encoder.layer_norm``), so the official ``pytorch_model.bin``
loads strictly once its ``model.`` prefix and the unused decoder are set aside.

`forward` returns what MuseTalk stacks: the embeddings and every layer's output, the
last one after the final layer norm, (batch, time, 5, 384).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.lipsync.musetalk.config import WHISPER_TINY, WhisperDims


class WhisperAttention(nn.Module):
    """Multi-head self-attention; whisper's key projection has no bias."""

    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, width = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, steps, self.heads, width // self.heads).transpose(1, 2)

        attended = F.scaled_dot_product_attention(split(self.q_proj(x)), split(self.k_proj(x)),
                                                  split(self.v_proj(x)))
        return self.out_proj(attended.transpose(1, 2).reshape(batch, steps, width))


class WhisperEncoderLayer(nn.Module):
    """Pre-norm block: x + attn(norm(x)), then x + mlp(norm(x)) with an exact GELU."""

    def __init__(self, dims: WhisperDims) -> None:
        super().__init__()
        self.self_attn = WhisperAttention(dims.d_model, dims.heads)
        self.self_attn_layer_norm = nn.LayerNorm(dims.d_model)
        self.fc1 = nn.Linear(dims.d_model, dims.ffn)
        self.fc2 = nn.Linear(dims.ffn, dims.d_model)
        self.final_layer_norm = nn.LayerNorm(dims.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.self_attn_layer_norm(x))
        return x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))


class WhisperEncoder(nn.Module):
    """The encoder half of whisper; input (batch, 80, 3000) log-mel, 30 s per row."""

    def __init__(self, dims: WhisperDims = WHISPER_TINY) -> None:
        super().__init__()
        self.dims = dims
        self.conv1 = nn.Conv1d(dims.n_mels, dims.d_model, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(dims.d_model, dims.d_model, kernel_size=3, stride=2, padding=1)
        self.embed_positions = nn.Embedding(dims.max_positions, dims.d_model)
        self.layers = nn.ModuleList(WhisperEncoderLayer(dims) for _ in range(dims.layers))
        self.layer_norm = nn.LayerNorm(dims.d_model)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """(batch, steps, layers + 1, d_model): every hidden state MuseTalk listens to."""
        x = F.gelu(self.conv2(F.gelu(self.conv1(mel)))).transpose(1, 2)
        x = x + self.embed_positions.weight[: x.shape[1]]
        states = [x]
        for index, layer in enumerate(self.layers):
            x = layer(x)
            states.append(self.layer_norm(x) if index == len(self.layers) - 1 else x)
        return torch.stack(states, dim=2)


class WhisperCheckpointRoot(nn.Module):
    """Only so the state dict's names read ``encoder.*``, as in the checkpoint."""

    def __init__(self, dims: WhisperDims = WHISPER_TINY) -> None:
        super().__init__()
        self.encoder = WhisperEncoder(dims)
