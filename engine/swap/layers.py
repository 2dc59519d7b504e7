"""Building blocks of the swap autoencoders (the SAEHD layer set, in PyTorch).

Shapes and activations follow DeepFaceLab's leras layers (``REFERENCE.md`` Part C 1.2) so
the model capacity users know carries over; the code is our own. Two deliberate
differences, neither visible in what the model can learn:

- ``Upscale`` uses PyTorch's ``pixel_shuffle`` (channel-major order) instead of TF's
  ``depth_to_space`` order: a fixed permutation of a learned conv's output channels.
- The ``d`` output head is one 3x3 conv to 12 channels + pixel shuffle instead of four
  convs (one 1x1, three 3x3) concatenated: a superset of the same function in one kernel.

Weights start glorot-uniform with zero biases, as TF/leras do by default; PyTorch's own
default (kaiming-uniform with a = sqrt(5)) gives these deep sigmoid-output decoders a
noticeably slower start.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def init_glorot(module: nn.Module) -> None:
    """Glorot-uniform weights, zero biases, for every conv and dense layer below ``module``."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
    """A conv with symmetric 'same' zero padding (leras pads ``(k-1)//2`` each side)."""
    return nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2)


def pixel_norm(x: Tensor, eps: float = 1e-6) -> Tensor:
    """``x / rms(x)`` per sample over the feature axis (SAEHD's ``u`` option)."""
    return x * torch.rsqrt(x.float().square().mean(dim=1, keepdim=True) + eps).to(x.dtype)


class Downscale(nn.Module):
    """Stride-2 conv (k5) and leaky ReLU 0.1: halves the side."""

    def __init__(self, cin: int, cout: int, k: int = 5) -> None:
        super().__init__()
        self.conv = conv(cin, cout, k, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(self.conv(x), 0.1)


class Upscale(nn.Module):
    """Conv (k3) to 4x channels, leaky ReLU 0.1, pixel shuffle: doubles the side."""

    def __init__(self, cin: int, cout: int, k: int = 3) -> None:
        super().__init__()
        self.conv = conv(cin, cout * 4, k)

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_shuffle(F.leaky_relu(self.conv(x), 0.1), 2)


class ResidualBlock(nn.Module):
    """Two k3 convs with a skip; leaky ReLU 0.2 after the first conv and after the sum."""

    def __init__(self, ch: int, k: int = 3) -> None:
        super().__init__()
        self.conv1 = conv(ch, ch, k)
        self.conv2 = conv(ch, ch, k)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv2(F.leaky_relu(self.conv1(x), 0.2))
        return F.leaky_relu(x + y, 0.2)


class Encoder(nn.Module):
    """Image -> flat code. Four stride-2 stages (``e, 2e, 4e, 8e``) down to res/16, or
    with ``t`` five stages plus residual blocks down to res/32; ``u`` pixel-normalises."""

    def __init__(self, e_dims: int, *, deep: bool, pixel_norm: bool) -> None:
        super().__init__()
        e = e_dims
        if deep:
            self.body = nn.Sequential(
                Downscale(3, e), ResidualBlock(e), Downscale(e, 2 * e), Downscale(2 * e, 4 * e),
                Downscale(4 * e, 8 * e), Downscale(8 * e, 8 * e), ResidualBlock(8 * e),
            )
        else:
            self.body = nn.Sequential(Downscale(3, e), Downscale(e, 2 * e), Downscale(2 * e, 4 * e),
                                      Downscale(4 * e, 8 * e))
        self.use_pixel_norm = pixel_norm
        self.out_ch = 8 * e
        self.stride = 32 if deep else 16

    def forward(self, x: Tensor) -> Tensor:
        z = self.body(x).flatten(1)
        return pixel_norm(z) if self.use_pixel_norm else z


class Inter(nn.Module):
    """Flat code -> spatial code: Dense to ``ae_dims``, Dense to ``L*L*ae_out`` (no
    activation between them, as SAEHD), reshape, and (without ``t``) one Upscale."""

    def __init__(self, in_features: int, ae_dims: int, ae_out: int, side: int, *, deep: bool) -> None:
        super().__init__()
        self.dense1 = nn.Linear(in_features, ae_dims)
        self.dense2 = nn.Linear(ae_dims, side * side * ae_out)
        self.up = None if deep else Upscale(ae_out, ae_out)
        self.ae_out = ae_out
        self.side = side

    def forward(self, z: Tensor) -> Tensor:
        x = self.dense2(self.dense1(z)).view(-1, self.ae_out, self.side, self.side)
        return x if self.up is None else self.up(x)


class Decoder(nn.Module):
    """Spatial code -> (image in [0,1], mask in [0,1]).

    The image branch upscales with residual blocks; the mask branch, fed from the same
    code, has plain upscales (it learns the face's outline, not texture). With ``d``
    both end at half resolution and a depth-to-space head doubles them.
    """

    def __init__(self, in_ch: int, d_dims: int, m_dims: int, *, deep: bool, double: bool) -> None:
        super().__init__()
        d, m = d_dims, m_dims
        if deep:
            chans, mchans = [8 * d, 8 * d, 4 * d, 2 * d], [8 * m, 8 * m, 4 * m, 2 * m]
        else:
            chans, mchans = [8 * d, 4 * d, 2 * d], [8 * m, 4 * m, 2 * m]
        layers: list[nn.Module] = []
        c = in_ch
        for out in chans:
            layers += [Upscale(c, out), ResidualBlock(out)]
            c = out
        self.image = nn.Sequential(*layers)
        mlayers: list[nn.Module] = []
        c = in_ch
        for out in mchans + ([m] if double else []):
            mlayers.append(Upscale(c, out))
            c = out
        self.mask = nn.Sequential(*mlayers)
        self.double = double
        # 'd': one 3x3 conv to 4x3 channels, then depth-to-space (see the module docstring).
        self.out = conv(2 * d, 12, 3) if double else conv(2 * d, 3, 1)
        self.out_mask = conv(m if double else 2 * m, 1, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        img = self.out(self.image(x))
        if self.double:
            img = F.pixel_shuffle(img, 2)
        return torch.sigmoid(img), torch.sigmoid(self.out_mask(self.mask(x)))
