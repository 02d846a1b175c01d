"""The Wav2Lip generator (Prajwal et al., ACM MM 2020), written from the published design.

A U-Net over 96x96 faces conditioned on speech:

* the face encoder reads 6 channels (the target crop with its lower half blanked,
  stacked on a reference crop of the same person) and halves the resolution five
  times down to a 1x1x512 code, keeping every stage's output for skip connections;
* the audio encoder turns one 80x16 mel window into a 1x1x512 code;
* the decoder starts from the audio code, and at each scale upsamples, refines, and
  concatenates the matching encoder features; a 1x1 convolution and a sigmoid give
  the 3-channel face in [0, 1].

Every convolution except the last is followed by batch norm and ReLU; "residual"
units add their input before the ReLU. The layout of modules (and therefore the
state-dict names: ``face_encoder_blocks.S.U.conv_block.{0,1}``, ``audio_encoder.U``,
``face_decoder_blocks.S.U``, ``output_block.{0,1}``) matches the official
checkpoints exactly, so they load with ``strict=True``. Channel order is BGR, as in
training.

This module imports torch at the top: import it only where torch is wanted
(`models.lipsync.wav2lip` itself stays torch-free).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

FACE_SIZE_PX = 96
FACE_INPUT_CHANNELS = 6  # masked target (3) + reference (3)
MEL_BANDS = 80
MEL_STEPS = 16
CODE_CHANNELS = 512

Stride = int | tuple[int, int]


@dataclass(frozen=True)
class ConvSpec:
    """One conv + batch-norm unit: channels in/out, kernel, stride, padding, skip."""

    cin: int
    cout: int
    kernel: int = 3
    stride: Stride = 1
    padding: int = 1
    residual: bool = False


class ConvUnit(nn.Module):
    """Conv2d -> BatchNorm2d (-> + input when residual) -> ReLU.

    The conv and norm sit in a Sequential called ``conv_block`` because that is the
    name under which the checkpoints store them.
    """

    def __init__(self, spec: ConvSpec) -> None:
        super().__init__()
        if spec.residual and (spec.cin != spec.cout or spec.stride != 1):
            raise ValueError(f"a residual unit keeps its shape, got {spec}")
        self.conv_block = nn.Sequential(
            nn.Conv2d(spec.cin, spec.cout, spec.kernel, spec.stride, spec.padding),
            nn.BatchNorm2d(spec.cout),
        )
        self.residual = spec.residual
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        if self.residual:
            out = out + x
        return self.act(out)


class UpUnit(nn.Module):
    """ConvTranspose2d -> BatchNorm2d -> ReLU: doubles the resolution (or 1x1 -> 3x3)."""

    def __init__(self, cin: int, cout: int, *, stride: int, padding: int,
                 output_padding: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, 3, stride, padding, output_padding),
            nn.BatchNorm2d(cout),
        )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv_block(x))


def _stage(first: ConvSpec, residual_units: int) -> list[nn.Module]:
    """A strided (or plain) unit followed by `residual_units` same-shape residual units."""
    units: list[nn.Module] = [ConvUnit(first)]
    width = first.cout
    units += [ConvUnit(ConvSpec(width, width, residual=True)) for _ in range(residual_units)]
    return units


# Face encoder: (input width, output width, residual units after the downsampling unit).
# 96 -> 48 -> 24 -> 12 -> 6 -> 3, then a 3x3 valid conv to 1x1.
_FACE_DOWN_STAGES: tuple[tuple[int, int, int], ...] = (
    (16, 32, 2), (32, 64, 3), (64, 128, 2), (128, 256, 2), (256, 512, 1),
)
# Audio encoder: (input width, output width, stride, residual units). 80x16 -> 1x1.
_AUDIO_STAGES: tuple[tuple[int, int, Stride, int], ...] = (
    (1, 32, 1, 2), (32, 64, (3, 1), 2), (64, 128, 3, 2), (128, 256, (3, 2), 1),
)
# Decoder: (input width = previous output + skip, output width, residual units).
# The first upsampling unit goes 1x1 -> 3x3 (stride 1, no padding); the rest double.
_DECODER_STAGES: tuple[tuple[int, int, int], ...] = (
    (1024, 512, 1), (1024, 512, 2), (768, 384, 2), (512, 256, 2), (320, 128, 2), (160, 64, 2),
)
_OUTPUT_HIDDEN = 32


def _to_code(width: int) -> list[nn.Module]:
    """3x3 valid conv to 1x1 then a 1x1 conv: the bottleneck both encoders end with."""
    return [
        ConvUnit(ConvSpec(width, CODE_CHANNELS, kernel=3, padding=0)),
        ConvUnit(ConvSpec(CODE_CHANNELS, CODE_CHANNELS, kernel=1, padding=0)),
    ]


class Wav2Lip(nn.Module):
    """Generator: ``forward(mel (B,1,80,16), faces (B,6,96,96)) -> (B,3,96,96)`` in [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        face_stages: list[nn.Module] = [
            nn.Sequential(ConvUnit(ConvSpec(FACE_INPUT_CHANNELS, 16, kernel=7, padding=3)))
        ]
        for cin, cout, residual in _FACE_DOWN_STAGES:
            face_stages.append(nn.Sequential(*_stage(ConvSpec(cin, cout, stride=2), residual)))
        face_stages.append(nn.Sequential(*_to_code(CODE_CHANNELS)))
        self.face_encoder_blocks = nn.ModuleList(face_stages)

        audio_units: list[nn.Module] = []
        for cin, cout, stride, residual in _AUDIO_STAGES:
            audio_units += _stage(ConvSpec(cin, cout, stride=stride), residual)
        audio_units += _to_code(256)
        self.audio_encoder = nn.Sequential(*audio_units)

        decoder: list[nn.Module] = [
            nn.Sequential(ConvUnit(ConvSpec(CODE_CHANNELS, CODE_CHANNELS, kernel=1, padding=0)))
        ]
        for position, (cin, cout, residual) in enumerate(_DECODER_STAGES):
            first = position == 0
            up = UpUnit(cin, cout, stride=1 if first else 2, padding=0 if first else 1,
                        output_padding=0 if first else 1)
            refine = [ConvUnit(ConvSpec(cout, cout, residual=True)) for _ in range(residual)]
            decoder.append(nn.Sequential(up, *refine))
        self.face_decoder_blocks = nn.ModuleList(decoder)

        self.output_block = nn.Sequential(
            ConvUnit(ConvSpec(64 + 16, _OUTPUT_HIDDEN)),
            nn.Conv2d(_OUTPUT_HIDDEN, 3, kernel_size=1, stride=1, padding=0),
            nn.Sigmoid(),
        )

    def forward(self, mel: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        if mel.dim() != 4 or faces.dim() != 4 or mel.shape[0] != faces.shape[0]:
            raise ValueError(
                f"expected mel (B,1,{MEL_BANDS},{MEL_STEPS}) and faces "
                f"(B,{FACE_INPUT_CHANNELS},{FACE_SIZE_PX},{FACE_SIZE_PX}); "
                f"got {tuple(mel.shape)} and {tuple(faces.shape)}"
            )
        skips: list[torch.Tensor] = []
        x = faces
        for stage in self.face_encoder_blocks:
            x = stage(x)
            skips.append(x)
        x = self.audio_encoder(mel)
        for stage in self.face_decoder_blocks:
            x = torch.cat((stage(x), skips.pop()), dim=1)
        return self.output_block(x)
