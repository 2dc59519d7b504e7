"""dlib's face-descriptor ResNet, read from its own ``.dat`` file and run in torch.

dlib's wheel is built without BLAS, so its convolutions run at about 10 GFLOP/s: one
descriptor takes ~60 ms on a core. The same network in torch (oneDNN) takes a fraction
of that and runs batched, without holding the GIL. The weights are the ones
``face-recognition-models`` ships (``dlib_face_recognition_resnet_model_v1.dat``),
parsed here from dlib's serialisation; nothing is converted ahead or downloaded. The
output equals dlib's ``compute_face_descriptor`` (``tests/engine/faces`` checks it to
1e-4 on the bundled stills), so embeddings stored by either are interchangeable.

dlib's layout (its published face-recognition example, a ResNet-29 of 150x150 input):
a 7x7/2 convolution to 32 channels, 3x3/2 max pool, then residual blocks of two 3x3
convolutions each followed by a per-channel affine (folded batch norm), ReLU between
and after the sum: three of 32 channels, then "down" blocks (first convolution of
stride 2, the shortcut a 2x2/2 average pool, channels zero-filled) opening stages of 64
(4 blocks), 128 (3), 256 (3) and a last 256 (1), a global average and a 256x128 matrix.
Strides, paddings and filter shapes are read from the file, not assumed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from engine.faces.errors import BackendUnavailable

CHIP_SIZE = 150
_NAME = re.compile(rb"\x01([\x03-\x20])([a-z_]+[0-9]?)")
_LAYERS = frozenset({"loss_metric_2", "input_rgb_image_sized", "con_4", "affine_", "relu_", "add_prev_",
                     "avg_pool_2", "max_pool_2", "fc_2"})


class _Reader:
    """dlib's serialisation: packed integers (a size byte with the sign in bit 7, then
    little-endian bytes), floats as (mantissa, exponent) integers, tensors as a header
    and raw little-endian float32."""

    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def int(self) -> int:
        head = self.data[self.pos]
        size, negative = head & 0x7F, bool(head & 0x80)
        value = int.from_bytes(self.data[self.pos + 1:self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if negative else value

    def float(self) -> float:
        mantissa = self.int()
        return float(mantissa) * 2.0 ** self.int()

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            raise ValueError("unsupported tensor version")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        out = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos).reshape(shape)
        self.pos += 4 * count
        return out

    def alias(self) -> tuple[int, int, int, int]:
        if self.int() != 1:
            raise ValueError("unsupported alias tensor version")
        n, k, nr, nc = (self.int() for _ in range(4))
        return n, k, nr, nc


@dataclass
class _Layer:
    kind: str
    weight: torch.Tensor | None = None
    bias: torch.Tensor | None = None
    window: tuple[int, int] = (0, 0)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    extra: dict[str, Any] = field(default_factory=dict)


def _parse(path: Path) -> tuple[np.ndarray, list[_Layer]]:
    data = path.read_bytes()
    means: np.ndarray | None = None
    layers: list[_Layer] = []
    for m in _NAME.finditer(data):
        size, name = m.group(1)[0], m.group(2)[: m.group(1)[0]].decode("ascii", "replace")
        if len(m.group(2)) < size or name not in _LAYERS:
            continue
        r = _Reader(data, m.start() + 2 + size)
        if name == "input_rgb_image_sized":
            means = np.array([r.float(), r.float(), r.float()], np.float32)
        elif name == "con_4":
            params = r.tensor().reshape(-1)
            _filters, kh, kw, sy, sx, py, px = (r.int() for _ in range(7))
            n, k, nr, nc = r.alias()
            weight = params[: n * k * nr * nc].reshape(n, k, nr, nc)
            layers.append(_Layer("conv", torch.from_numpy(weight.copy()),
                                 torch.from_numpy(params[n * k * nr * nc:].copy()), (kh, kw), (sy, sx), (py, px)))
        elif name == "affine_":
            params = r.tensor().reshape(-1)
            c = params.size // 2
            layers.append(_Layer("affine", torch.from_numpy(params[:c].copy()), torch.from_numpy(params[c:].copy())))
        elif name in ("max_pool_2", "avg_pool_2"):
            kh, kw, sy, sx, py, px = (r.int() for _ in range(6))
            layers.append(_Layer(name[:3] + "pool", window=(kh, kw), stride=(sy, sx), padding=(py, px)))
        elif name == "relu_":
            layers.append(_Layer("relu"))
        elif name == "add_prev_":
            layers.append(_Layer("add"))
        elif name == "fc_2":
            outputs, inputs = r.int(), r.int()
            layers.append(_Layer("fc", torch.from_numpy(r.tensor().reshape(inputs, outputs).copy())))
    if means is None or sum(la.kind == "conv" for la in layers) != 29 or layers[-1].kind != "fc":
        raise ValueError("not dlib's 29-layer face descriptor network")
    return means, layers


class DlibResNet(torch.nn.Module):
    """The descriptor network: ``forward`` takes (N, 150, 150, 3) uint8 RGB chips."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        try:
            means, self._layers = _parse(path)
        except (OSError, ValueError, IndexError) as exc:
            raise BackendUnavailable("dlib", f"cannot read the face descriptor network {path} ({exc}); "
                                             "reinstall face-recognition-models") from exc
        self.register_buffer("means", torch.from_numpy(means).view(1, 3, 1, 1))

    @torch.inference_mode()
    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        x = (chips.permute(0, 3, 1, 2).float() - self.means) / 256.0
        it = iter(self._layers)
        x = self._conv(next(it), x)
        x = self._affine(next(it), x).relu_()
        next(it)  # that ReLU
        pool = next(it)
        x = F.max_pool2d(x, pool.window, pool.stride, pool.padding)
        layers = list(it)
        i = 0
        while layers[i].kind == "conv":
            conv1, aff1, _relu, conv2, aff2 = layers[i:i + 5]
            y = self._affine(aff1, self._conv(conv1, x)).relu_()
            y = self._affine(aff2, self._conv(conv2, y))
            if layers[i + 5].kind == "avgpool":  # a down block: the shortcut is pooled
                b = layers[i + 5]
                short = F.avg_pool2d(x, b.window, b.stride, b.padding)
                i += 8  # conv affine relu conv affine avgpool add relu
            else:
                short = x
                i += 7  # conv affine relu conv affine add relu
            x = _add(y, short).relu_()
        x = x.mean(dim=(2, 3))  # dlib's avg_pool_everything
        return x @ layers[-1].weight

    @staticmethod
    def _conv(layer: _Layer, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, layer.weight, layer.bias, layer.stride, layer.padding)

    @staticmethod
    def _affine(layer: _Layer, x: torch.Tensor) -> torch.Tensor:
        assert layer.weight is not None and layer.bias is not None
        return x * layer.weight.view(1, -1, 1, 1) + layer.bias.view(1, -1, 1, 1)


def _add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: tensors of different sizes add where they overlap; the rest
    of the larger one (channels, rows, columns) stays as it is (the smaller counts as 0)."""
    if a.shape == b.shape:
        return a + b
    shape = [max(p, q) for p, q in zip(a.shape, b.shape, strict=True)]
    out = a.new_zeros(shape)
    out[:, : a.shape[1], : a.shape[2], : a.shape[3]] += a
    out[:, : b.shape[1], : b.shape[2], : b.shape[3]] += b
    return out
