"""The XSeg network: a U-Net that segments the face in an aligned crop.

Why this layout (and how it differs from DeepFaceLab's XSeg, REFERENCE.md B 2.3):

- **Depth from resolution.** The encoder halves the image until it is 8 px wide (4
  stages at 128, 5 at 256), so the receptive field covers the whole crop at either
  resolution without DeepFaceLab's dense 4x4 bottleneck, whose 8 M parameters mostly
  memorise faces.
- **Cheap full-resolution stage.** Most of a U-Net's time goes to its widest feature maps,
  while a mask's outline needs little capacity there: the first and last stages use
  ``width/2`` channels and one conv each. At 128 px and width 32 a forward pass is about
  1.4 GFLOP (DeepFaceLab's XSeg at 256 is about 27), which is what lets ``apply`` run at
  tens of faces per second on two CPU cores.
- **GroupNorm, not BatchNorm.** Batches are small (4-8) and inference runs on single
  faces; GroupNorm behaves the same in both (DeepFaceLab uses FRN for the same reason).
- **Bilinear upsampling + conv** instead of transposed convs: no checkerboard edges in the
  mask outline that merging would then have to blur away.
- The network takes float RGB in [0, 1] and returns **logits**; callers apply the sigmoid
  (training uses ``BCEWithLogits`` for its numerical stability).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Final

import torch
import torch.nn.functional as F
from torch import nn

from engine.faces.align import FaceType, as_face_type

RESOLUTIONS: Final = (128, 256)
#: The smallest feature map the encoder goes down to.
BOTTOM_SIZE: Final = 8
ARCH: Final = "unet-v1"


@dataclass(frozen=True)
class XSegConfig:
    """What defines an XSeg model; stored in the ``models`` row and in every checkpoint.

    Parameters
    ----------
    resolution : crop side the model sees and predicts (128 or 256).
    face_type : framing of the crops it works on (``whole`` covers the forehead).
    width : channels of the second stage; the first uses half, deeper ones double up to
        ``8 * width``.
    """

    resolution: int = 256
    face_type: str = "whole"
    width: int = 32

    def __post_init__(self) -> None:
        if self.resolution not in RESOLUTIONS:
            raise ValueError(f"XSeg resolution must be one of {RESOLUTIONS}, got {self.resolution}")
        object.__setattr__(self, "face_type", as_face_type(self.face_type).value)
        if not 4 <= self.width <= 128 or self.width % 4:
            raise ValueError(f"XSeg width must be a multiple of 4 in 4..128, got {self.width}")

    @property
    def depth(self) -> int:
        """Number of downsamplings (resolution / 2**depth == BOTTOM_SIZE)."""
        return int(math.log2(self.resolution // BOTTOM_SIZE))

    def channels(self) -> list[int]:
        """Channels per stage, full resolution first."""
        out = [max(self.width // 2, 4)]
        for i in range(self.depth):
            out.append(self.width * min(2**i, 8))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"arch": ARCH, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> XSegConfig:
        arch = data.get("arch", ARCH)
        if arch != ARCH:
            raise ValueError(f"unknown XSeg architecture {arch!r} (this Facesmith knows {ARCH!r})")
        return cls(resolution=int(data["resolution"]), face_type=str(data["face_type"]), width=int(data["width"]))

    @property
    def face_type_enum(self) -> FaceType:
        return as_face_type(self.face_type)


def _groups(ch: int) -> int:
    for g in (8, 4, 2):
        if ch % g == 0 and ch // g >= 2:
            return g
    return 1


class _ConvBlock(nn.Sequential):
    """Conv 3x3 -> GroupNorm -> SiLU, ``n`` times."""

    def __init__(self, cin: int, cout: int, n: int) -> None:
        layers: list[nn.Module] = []
        for i in range(n):
            layers += [
                nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=False),
                nn.GroupNorm(_groups(cout), cout),
                nn.SiLU(inplace=True),
            ]
        super().__init__(*layers)


class XSegNet(nn.Module):
    """U-Net: ``(B, 3, S, S)`` float RGB in [0, 1] -> ``(B, 1, S, S)`` mask logits."""

    def __init__(self, config: XSegConfig) -> None:
        super().__init__()
        self.config = config
        ch = config.channels()
        self.register_buffer("mean", torch.tensor([0.5, 0.45, 0.4]).view(1, 3, 1, 1), persistent=False)
        self.stem = _ConvBlock(3, ch[0], 1)
        self.down = nn.ModuleList(_ConvBlock(ch[i], ch[i + 1], 2) for i in range(config.depth))
        ups: list[nn.Module] = []
        for i in reversed(range(config.depth)):
            n = 1 if i == 0 else 2
            ups.append(_ConvBlock(ch[i + 1] + ch[i], ch[i], n))
        self.up = nn.ModuleList(ups)
        self.head = nn.Conv2d(ch[0], 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem((x - self.mean) * 4.0)
        skips = [h]
        for block in self.down:
            h = block(F.avg_pool2d(h, 2))
            skips.append(h)
        skips.pop()
        for block in self.up:
            skip = skips.pop()
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = block(torch.cat([h, skip], dim=1))
        return self.head(h)


def build(config: XSegConfig, *, seed: int | None = None) -> XSegNet:
    """A freshly initialised network (deterministic for a given ``seed``)."""
    if seed is None:
        return XSegNet(config)
    fork = torch.random.fork_rng(devices=[])
    with fork:
        torch.manual_seed(seed)
        return XSegNet(config)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
