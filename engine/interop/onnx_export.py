"""A trained swap model out as ONNX, and as a DeepFaceLive ``.dfm``.

Both graphs are traced from the model's src->dst swap path (``SwapNet.swap``) with the
TorchScript-based exporter (``dynamo=False``: the models are plain convolutions, and
this exporter needs no extra packages), opset 17, a dynamic batch axis, fp32.

- **ONNX** (``.onnx``): input ``crop`` ``(N, 3, R, R)`` RGB float in [0, 1], the dst
  face aligned with the model's face type at its resolution; outputs ``swapped``
  ``(N, 3, R, R)`` RGB, ``mask`` ``(N, 1, R, R)`` (the swapped face's learned mask) and
  ``mask_dst`` (the dst face's).
- **DFM** (``REFERENCE.md`` Part C 1.8, what DeepFaceLive's ``DFMModel`` loads): input
  ``in_face:0`` ``(N, R, R, 3)`` NHWC float [0, 1] in **BGR** (DFL and DeepFaceLive
  work in OpenCV's channel order; our models are RGB, so the graph flips channels on
  the way in and out); outputs in this order ``out_face_mask:0`` (dst mask),
  ``out_celeb_face:0`` (swapped face, BGR) and ``out_celeb_face_mask:0`` (src mask),
  all NHWC.

Every export is checked before it is written: onnxruntime runs the graph on a fixed
input and the result must match the torch model within ``PARITY_TOL``.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import torch
from torch import Tensor, nn

from engine.interop import InteropError
from engine.project.store import ProjectStore

PARITY_TOL: Final = 1e-3
OPSET: Final = 17
DFM_INPUT: Final = "in_face:0"
DFM_OUTPUTS: Final = ("out_face_mask:0", "out_celeb_face:0", "out_celeb_face_mask:0")
ONNX_INPUT: Final = "crop"
ONNX_OUTPUTS: Final = ("swapped", "mask", "mask_dst")


class _OnnxSwap(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, crop: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        swapped, mask_dst, mask_src = self.net.swap(crop)
        return swapped.clamp(0.0, 1.0), mask_src.clamp(0.0, 1.0), mask_dst.clamp(0.0, 1.0)


class _DfmSwap(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, face_bgr_nhwc: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = face_bgr_nhwc.permute(0, 3, 1, 2).flip(1)  # NHWC BGR -> NCHW RGB
        swapped, mask_dst, mask_src = self.net.swap(x)
        nhwc = lambda t: t.clamp(0.0, 1.0).permute(0, 2, 3, 1)  # noqa: E731
        return nhwc(mask_dst), nhwc(swapped.flip(1)), nhwc(mask_src)


@dataclass(frozen=True)
class ModelExport:
    path: Path
    format: str
    resolution: int
    face_type: str
    max_abs_diff: float
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def message(self) -> str:
        return (f"exported {self.format} {self.resolution} px {self.face_type} model to {self.path} "
                f"(onnxruntime vs torch max abs diff {self.max_abs_diff:.2e})")


def _graph(fmt: str, net: nn.Module) -> tuple[nn.Module, str, tuple[str, ...]]:
    if fmt == "dfm":
        return _DfmSwap(net), DFM_INPUT, DFM_OUTPUTS
    if fmt == "onnx":
        return _OnnxSwap(net), ONNX_INPUT, ONNX_OUTPUTS
    raise InteropError(Path(fmt), f"unknown model format {fmt!r}; use 'onnx' or 'dfm'")


def export_swap_model(store: ProjectStore, model_id: int, out: str | Path, *, fmt: str = "onnx") -> ModelExport:
    """Export swap model ``model_id`` to ``out`` as ``fmt`` ('onnx' or 'dfm'), parity-checked."""
    from engine.swap.inference import SwapModel

    dest = Path(out).expanduser().resolve()
    model = store.model(model_id)
    if model.kind != "swap":
        raise InteropError(dest, f"model {model_id} is a {model.kind} model, not a swap model")
    loaded = SwapModel.from_project(store, model_id, device="cpu")
    net = loaded.net.float().eval()
    r = loaded.resolution
    wrapper, in_name, out_names = _graph(fmt, net)
    shape = (1, r, r, 3) if fmt == "dfm" else (1, 3, r, r)
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of torch.export, which needs
        # onnxscript; for plain convolutional graphs both give the same ONNX.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(wrapper, (x,), buf, input_names=[in_name], output_names=list(out_names),
                          dynamic_axes={in_name: {0: "batch"}, **{n: {0: "batch"} for n in out_names}},
                          opset_version=OPSET, dynamo=False)
        want = [t.numpy() for t in wrapper(x)]
    data = _with_metadata(buf.getvalue(), {"facesmith_model_id": str(model_id), "resolution": str(r),
                                           "face_type": loaded.face_type, "arch": loaded.config.arch_string,
                                           "iteration": str(loaded.iteration), "format": fmt})
    diff = parity(data, in_name, x.numpy(), want)
    if not diff <= PARITY_TOL:
        raise InteropError(dest, f"the exported graph differs from the torch model by {diff:.2e} "
                                 f"(more than {PARITY_TOL:g}); not written")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return ModelExport(dest, fmt, r, loaded.face_type, diff, (in_name,), out_names)


def _with_metadata(data: bytes, props: dict[str, str]) -> bytes:
    import onnx

    proto = onnx.load_from_string(data)
    for k, v in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.producer_name = "facesmith"
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def parity(data: bytes, in_name: str, x: np.ndarray, want: list[np.ndarray]) -> float:
    """Max abs difference between onnxruntime's outputs of ``data`` on ``x`` and ``want``."""
    import onnxruntime as ort

    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = sess.run(None, {in_name: x.astype(np.float32)})
    return max(float(np.abs(g - w).max()) for g, w in zip(got, want, strict=True))


def describe(path: str | Path) -> dict[str, object]:
    """Inputs, outputs and metadata of an exported file (for the CLI and tests)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    return {"inputs": [(i.name, i.shape) for i in sess.get_inputs()],
            "outputs": [(o.name, o.shape) for o in sess.get_outputs()], "metadata": json.loads(json.dumps(meta))}
