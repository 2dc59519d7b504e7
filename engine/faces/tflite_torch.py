"""Run a small TensorFlow Lite model in torch: the MediaPipe face models without TFLite.

Why: the ``mediapipe`` wheel ships the BlazeFace detectors and the 468-point face mesh as
``.tflite`` files (Apache-2.0), but its Python API needs matplotlib, a GUI OpenCV build
and its own graph runtime, and it cannot run on a GPU in batches. These models use only
a dozen plain convolutional operators, so we read the flatbuffer (with the schema module
the same wheel ships, ``mediapipe/tasks/metadata/schema_py_generated.py``, loaded by file
path so that ``mediapipe/__init__`` never runs) and replay the graph with torch ops, in
NCHW, batched, on whatever device the weights are moved to.

Supported operators: CONV_2D, DEPTHWISE_CONV_2D, ADD, RELU, PRELU, MAX_POOL_2D, PAD,
RESHAPE, CONCATENATION, DEQUANTIZE (float16 weights), DENSIFY (block-sparse weights),
RESIZE_BILINEAR, DEPTH_TO_SPACE. Anything else raises :class:`TfliteError` naming the
file and the operator, so a changed model fails loudly instead of silently.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import FacesmithError


class TfliteError(FacesmithError):
    """A .tflite file cannot be read or uses something this interpreter does not run."""


def mediapipe_dir() -> Path | None:
    """The installed ``mediapipe`` package folder, found without importing it."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@functools.cache
def _schema() -> ModuleType:
    root = mediapipe_dir()
    path = root / "tasks" / "metadata" / "schema_py_generated.py" if root else None
    if path is None or not path.is_file():
        raise TfliteError("the TFLite schema module (mediapipe/tasks/metadata/schema_py_generated.py) is "
                          "missing: install the package mediapipe==0.10.14 with --no-deps (see the Makefile)")
    spec = importlib.util.spec_from_file_location("_facesmith_tflite_schema", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_NP_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}


def _activation(x: torch.Tensor, code: int, path: str) -> torch.Tensor:
    if code == 0:
        return x
    if code == 1:
        return F.relu(x)
    if code == 3:
        return F.relu6(x)
    raise TfliteError(f"{path}: fused activation {code} is not supported")


def _same_pad(size: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def _densify(t: Any, raw: np.ndarray, shape: list[int]) -> np.ndarray:
    """TFLite's sparse tensor (traversal order, block map, dense/CSR dims) as dense."""
    sp = t.Sparsity()
    order = sp.TraversalOrderAsNumpy().tolist()
    block_map = sp.BlockMapAsNumpy().tolist() if sp.BlockMapLength() else []
    n_dims = len(shape)
    meta = [sp.DimMetadata(i) for i in range(sp.DimMetadataLength())]
    # Sizes of the traversal dimensions (dense sizes for dense dims, from the shape
    # otherwise: original dims first, then block dims).
    block_size = {}
    for k, orig in enumerate(block_map):
        block_size[orig] = meta[n_dims + k].DenseSize()
    sizes = []
    for d in order:
        if d < n_dims:
            sizes.append(shape[d] // block_size.get(d, 1))
        else:
            sizes.append(block_size[block_map[d - n_dims]])
    dense = np.zeros(shape, dtype=raw.dtype)
    values = iter(raw.tolist())

    def seg_idx(m: Any) -> tuple[list[int], list[int]]:
        S = _schema()
        out: list[list[int]] = []
        for which, typ in ((m.ArraySegments(), m.ArraySegmentsType()), (m.ArrayIndices(), m.ArrayIndicesType())):
            if typ == S.SparseIndexVector.Int32Vector:
                v = S.Int32Vector()
            elif typ == S.SparseIndexVector.Uint16Vector:
                v = S.Uint16Vector()
            else:
                v = S.Uint8Vector()
            v.Init(which.Bytes, which.Pos)
            out.append(v.ValuesAsNumpy().tolist())
        return out[0], out[1]

    levels = [None if m.Format() == 0 else seg_idx(m) for m in meta]

    coord = [0] * len(order)

    def place() -> None:
        idx = [0] * n_dims
        for level, d in enumerate(order):
            if d < n_dims:
                idx[d] += coord[level] * block_size.get(d, 1)
            else:
                idx[block_map[d - n_dims]] += coord[level]
        dense[tuple(idx)] = next(values)

    def walk(level: int, prev: int) -> None:
        if level == len(order):
            place()
            return
        if levels[level] is None:
            for i in range(sizes[level]):
                coord[level] = i
                walk(level + 1, prev * sizes[level] + i)
        else:
            segs, idxs = levels[level]
            for j in range(segs[prev], segs[prev + 1]):
                coord[level] = idxs[j]
                walk(level + 1, j)

    walk(0, 0)
    return dense


class TfliteModel:
    """A .tflite graph replayed in torch. ``model(x)`` takes NHWC float input(s) as
    torch tensors and returns the graph's outputs as torch tensors in TFLite layout."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            buf = Path(path).read_bytes()
        except OSError as exc:
            raise TfliteError(f"{path}: cannot read the model file ({exc.strerror})") from exc
        S = _schema()
        try:
            model = S.Model.GetRootAsModel(buf, 0)
            graph = model.Subgraphs(0)
            self._load(S, model, graph)
        except TfliteError:
            raise
        except Exception as exc:  # a truncated or foreign file fails inside flatbuffers
            raise TfliteError(f"{path}: not a readable TFLite model ({type(exc).__name__}: {exc})") from exc

    def _load(self, S: ModuleType, model: Any, graph: Any) -> None:
        names = {v: k for k, v in vars(S.BuiltinOperator).items() if not k.startswith("_")}
        self.shapes: dict[int, list[int]] = {}
        self.consts: dict[int, torch.Tensor] = {}
        raw_consts: dict[int, np.ndarray] = {}
        for i in range(graph.TensorsLength()):
            t = graph.Tensors(i)
            self.shapes[i] = t.ShapeAsNumpy().tolist() if t.ShapeLength() else []
            buffer = model.Buffers(t.Buffer())
            if buffer is not None and buffer.DataLength() > 0:
                dtype = _NP_TYPES.get(t.Type())
                if dtype is None:
                    raise TfliteError(f"{self.path}: tensor type {t.Type()} is not supported")
                raw = np.frombuffer(buffer.DataAsNumpy().tobytes(), dtype=dtype)
                if t.Sparsity() is not None:
                    raw_consts[i] = _densify(t, raw, self.shapes[i])
                else:
                    raw_consts[i] = raw.reshape(self.shapes[i]) if self.shapes[i] else raw
        self.inputs = [graph.Inputs(i) for i in range(graph.InputsLength())]
        self.outputs = [graph.Outputs(i) for i in range(graph.OutputsLength())]
        self.ops: list[tuple[str, list[int], list[int], Any]] = []
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            code_obj = model.OperatorCodes(op.OpcodeIndex())
            code = max(code_obj.BuiltinCode(), code_obj.DeprecatedBuiltinCode())
            name = names.get(code, str(code))
            ins = op.InputsAsNumpy().tolist() if op.InputsLength() else []
            outs = op.OutputsAsNumpy().tolist()
            opts = self._options(S, name, op)
            if name in ("DEQUANTIZE", "DENSIFY") and ins[0] in raw_consts:
                raw_consts[outs[0]] = raw_consts[ins[0]].astype(np.float32)
                continue
            self.ops.append((name, ins, outs, opts))
        for i, arr in raw_consts.items():
            self.consts[i] = torch.from_numpy(np.ascontiguousarray(arr).astype(
                np.float32 if arr.dtype.kind == "f" else np.int64))
        self._prepare_weights()

    def _options(self, S: ModuleType, name: str, op: Any) -> Any:
        table = op.BuiltinOptions()
        classes = {
            "CONV_2D": S.Conv2DOptions, "DEPTHWISE_CONV_2D": S.DepthwiseConv2DOptions,
            "ADD": S.AddOptions, "MAX_POOL_2D": S.Pool2DOptions, "CONCATENATION": S.ConcatenationOptions,
            "RESIZE_BILINEAR": S.ResizeBilinearOptions, "DEPTH_TO_SPACE": S.DepthToSpaceOptions,
        }
        supported = set(classes) | {"RELU", "PRELU", "PAD", "RESHAPE", "DEQUANTIZE", "DENSIFY"}
        if name not in supported:
            raise TfliteError(f"{self.path}: operator {name} is not supported by engine.faces.tflite_torch")
        if name not in classes or table is None:
            return None
        opts = classes[name]()
        opts.Init(table.Bytes, table.Pos)
        return opts

    def _prepare_weights(self) -> None:
        """Convolution weights to torch's OIHW layout once, at load."""
        self.conv_w: dict[int, torch.Tensor] = {}
        for name, ins, _outs, _opts in self.ops:
            w = self.consts.get(ins[1]) if len(ins) > 1 else None
            if w is None or ins[1] in self.conv_w:
                continue
            if name == "CONV_2D":
                self.conv_w[ins[1]] = w.permute(0, 3, 1, 2).contiguous()
            elif name == "DEPTHWISE_CONV_2D":
                self.conv_w[ins[1]] = w.permute(3, 0, 1, 2).contiguous()
            elif name == "PRELU":
                self.conv_w[ins[1]] = w.reshape(-1)

    def to(self, device: torch.device | str) -> TfliteModel:
        """Move the weights (e.g. to a GPU); returns self."""
        self.consts = {k: v.to(device) for k, v in self.consts.items()}
        self.conv_w = {k: v.to(device) for k, v in self.conv_w.items()}
        return self

    @torch.inference_mode()
    def __call__(self, *inputs: torch.Tensor) -> list[torch.Tensor]:
        # Activations of rank 4 are kept NCHW; ``nhwc`` converts one back where TFLite's
        # layout matters (reshape, concatenation of the head outputs, the graph outputs).
        env: dict[int, torch.Tensor] = {}
        for idx, x in zip(self.inputs, inputs, strict=True):
            env[idx] = x.permute(0, 3, 1, 2).contiguous() if x.dim() == 4 else x

        def get(i: int) -> torch.Tensor:
            return env[i] if i in env else self.consts[i]

        for name, ins, outs, o in self.ops:
            env[outs[0]] = self._run(name, ins, outs[0], o, get)
        result = []
        for idx in self.outputs:
            x = env[idx]
            result.append(x.permute(0, 2, 3, 1) if x.dim() == 4 else x)
        return result

    def _run(self, name: str, ins: list[int], out: int, o: Any, get: Any) -> torch.Tensor:
        x = get(ins[0])
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            w = self.conv_w[ins[1]]
            b = get(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
            sh, sw = o.StrideH(), o.StrideW()
            dh, dw = o.DilationHFactor(), o.DilationWFactor()
            kh, kw = w.shape[2], w.shape[3]
            if o.Padding() == 0:  # SAME
                ph, pw = _same_pad(x.shape[2], kh, sh, dh), _same_pad(x.shape[3], kw, sw, dw)
                x = F.pad(x, (pw[0], pw[1], ph[0], ph[1]))
            groups = x.shape[1] if name == "DEPTHWISE_CONV_2D" else 1
            y = F.conv2d(x, w, b, (sh, sw), 0, (dh, dw), groups)
            return _activation(y, o.FusedActivationFunction(), self.path)
        if name == "ADD":
            y = x + get(ins[1])
            return _activation(y, o.FusedActivationFunction(), self.path)
        if name == "RELU":
            return F.relu(x)
        if name == "PRELU":
            return torch.where(x >= 0, x, x * self.conv_w[ins[1]].view(1, -1, 1, 1))
        if name == "MAX_POOL_2D":
            kh, kw, sh, sw = o.FilterHeight(), o.FilterWidth(), o.StrideH(), o.StrideW()
            if o.Padding() == 0:
                ph, pw = _same_pad(x.shape[2], kh, sh), _same_pad(x.shape[3], kw, sw)
                x = F.pad(x, (pw[0], pw[1], ph[0], ph[1]), value=float("-inf"))
            return _activation(F.max_pool2d(x, (kh, kw), (sh, sw)), o.FusedActivationFunction(), self.path)
        if name == "PAD":
            pads = self.consts[ins[1]].tolist()  # NHWC rows of (before, after)
            if x.dim() != 4:
                raise TfliteError(f"{self.path}: PAD of a rank-{x.dim()} tensor is not supported")
            (n0, n1), (h0, h1), (w0, w1), (c0, c1) = pads
            return F.pad(x, (int(w0), int(w1), int(h0), int(h1), int(c0), int(c1), int(n0), int(n1)))
        if name == "RESHAPE":
            if x.dim() == 4:
                x = x.permute(0, 2, 3, 1)
            target = [int(v) for v in self.shapes[out]]
            target[0] = x.shape[0]  # batch stays free
            y = x.reshape(target)
            return y.permute(0, 3, 1, 2) if y.dim() == 4 else y
        if name == "CONCATENATION":
            parts = [get(i) for i in ins]
            axis = o.Axis()
            if parts[0].dim() == 4:
                axis = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1}[axis]
            return _activation(torch.cat(parts, dim=axis), o.FusedActivationFunction(), self.path)
        if name == "RESIZE_BILINEAR":
            size = [int(v) for v in self.consts[ins[1]].tolist()]
            if o.AlignCorners():
                return F.interpolate(x, size=size, mode="bilinear", align_corners=True)
            if o.HalfPixelCenters():
                return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            return _legacy_resize(x, size)
        if name == "DEPTH_TO_SPACE":
            bs = o.BlockSize()
            n, c, h, w = x.shape
            y = x.permute(0, 2, 3, 1).reshape(n, h, w, bs, bs, c // (bs * bs))
            y = y.permute(0, 1, 3, 2, 4, 5).reshape(n, h * bs, w * bs, c // (bs * bs))
            return y.permute(0, 3, 1, 2).contiguous()
        raise TfliteError(f"{self.path}: operator {name} is not supported")


def _legacy_resize(x: torch.Tensor, size: list[int]) -> torch.Tensor:
    """TF1 bilinear resize without half-pixel centres: source = dest * in / out."""
    n, c, h, w = x.shape
    oh, ow = size
    ys = torch.arange(oh, device=x.device, dtype=x.dtype) * (h / oh)
    xs = torch.arange(ow, device=x.device, dtype=x.dtype) * (w / ow)
    y0 = ys.floor().long().clamp(max=h - 1)
    x0 = xs.floor().long().clamp(max=w - 1)
    y1 = (y0 + 1).clamp(max=h - 1)
    x1 = (x0 + 1).clamp(max=w - 1)
    fy = (ys - y0.to(x.dtype)).view(1, 1, -1, 1)
    fx = (xs - x0.to(x.dtype)).view(1, 1, 1, -1)
    top = x[:, :, y0][:, :, :, x0] * (1 - fx) + x[:, :, y0][:, :, :, x1] * fx
    bot = x[:, :, y1][:, :, :, x0] * (1 - fx) + x[:, :, y1][:, :, :, x1] * fx
    return top * (1 - fy) + bot * fy
