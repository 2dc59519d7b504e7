"""FaceSwap's alignments (``.fsa``, and the older ``.json``) and face-PNG headers.

``.fsa`` (``REFERENCE.md`` Part E 1.4) is a zlib-compressed pickle of
``{"__meta__": {"version": 2.4}, "__data__": {frame_name: {"faces": [...], "video_meta":
{...}}}}``; it is read through :mod:`.safe_pickle`, so a hostile file cannot run code.
Files from before version 2 (and the JSON form) keep ``{frame_name: [face, ...]}``.
A face is ``x, y, w, h`` (the detection box), ``landmarks_xy`` (68x2), ``mask`` (name ->
zlib-compressed ``stored_size``² uint8 plus its affine matrix), ``identity`` and a
``thumb`` (both ignored here).

Extracted face PNGs carry one face's copy in an ``iTXt`` chunk with keyword
``faceswap``: ``{"alignments": face, "source": {"source_filename", "face_index", ...}}``,
written as a Python literal; it is read with :func:`ast.literal_eval` (plain literals
only, never code) and, failing that, as JSON.
"""

from __future__ import annotations

import ast
import json
import pickle
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from engine.interop import InteropError
from engine.interop import safe_pickle

FSA_VERSION: Final = 2.4
ITXT_KEYWORD: Final = b"faceswap"
PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True, eq=False)
class FsMask:
    """One stored mask: ``mask`` (S, S) uint8 and the 2x3 matrix FaceSwap keeps with it."""

    name: str
    mask: npt.NDArray[np.uint8]
    affine: npt.NDArray[np.float64]
    centering: str = "face"


@dataclass(frozen=True, eq=False)
class FsFace:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    landmarks: npt.NDArray[np.float64]
    masks: tuple[FsMask, ...] = field(default_factory=tuple)


# ---------------------------------------------------------------------------- parsing
def _face(raw: Any, where: str, path: Path) -> FsFace:
    if not isinstance(raw, dict):
        raise InteropError(path, f"{where}: a face is a {type(raw).__name__}, not a dict")
    try:
        x, y, w, h = (float(raw[k]) for k in ("x", "y", "w", "h"))
    except KeyError as exc:
        raise InteropError(path, f"{where}: the face has no {exc.args[0]!r}") from None
    except (TypeError, ValueError):
        raise InteropError(path, f"{where}: the face box is not numbers") from None
    key = "landmarks_xy" if "landmarks_xy" in raw else "landmarksXY"  # the 1.x JSON files' spelling
    if key not in raw:
        raise InteropError(path, f"{where}: the face has no landmarks_xy")
    try:
        lm = np.asarray(raw[key], dtype=np.float64)
    except (TypeError, ValueError):
        raise InteropError(path, f"{where}: landmarks_xy is not an array of numbers") from None
    if lm.shape != (68, 2):
        raise InteropError(path, f"{where}: landmarks_xy must be 68x2, got shape {'x'.join(map(str, lm.shape))} "
                                 "(only 68-point landmarks are supported)")
    if not np.isfinite(lm).all():
        raise InteropError(path, f"{where}: landmarks_xy holds values that are not finite")
    masks = []
    raw_masks = raw.get("mask") or {}
    if not isinstance(raw_masks, dict):
        raise InteropError(path, f"{where}: 'mask' is not a dict")
    for name, m in raw_masks.items():
        masks.append(_mask(str(name), m, f"{where}: mask {name!r}", path))
    return FsFace((x, y, x + w, y + h), lm, tuple(masks))


def _mask(name: str, raw: Any, where: str, path: Path) -> FsMask:
    if not isinstance(raw, dict):
        raise InteropError(path, f"{where} is not a dict")
    try:
        size = int(raw.get("stored_size", 128))
        data = raw["mask"]
        if isinstance(data, (list, tuple)):
            data = bytes(data)
        if not isinstance(data, bytes):
            raise TypeError
        pixels = zlib.decompress(data)
        affine = np.asarray(raw["affine_matrix"], np.float64)
    except KeyError as exc:
        raise InteropError(path, f"{where} has no {exc.args[0]!r}") from None
    except (TypeError, ValueError):
        raise InteropError(path, f"{where} is not a zlib-compressed mask with an affine matrix") from None
    except zlib.error:
        raise InteropError(path, f"{where}: the mask bytes are not zlib data") from None
    if len(pixels) != size * size or not 8 <= size <= 2048:
        raise InteropError(path, f"{where}: {len(pixels)} bytes do not make a {size}x{size} mask")
    if affine.shape == (3, 3):
        affine = affine[:2]
    if affine.shape != (2, 3) or not np.isfinite(affine).all() or abs(np.linalg.det(affine[:, :2])) < 1e-12:
        raise InteropError(path, f"{where}: affine_matrix is not an invertible 2x3 matrix")
    return FsMask(name, np.frombuffer(pixels, np.uint8).reshape(size, size).copy(), affine,
                  str(raw.get("stored_centering", "face")))


def parse_alignments(obj: Any, path: Path) -> dict[str, list[FsFace]]:
    """frame name -> faces, from a decoded alignments object of any known version."""
    if not isinstance(obj, dict):
        raise InteropError(path, f"not a FaceSwap alignments file (top level is a {type(obj).__name__})")
    data = obj.get("__data__", obj) if "__meta__" in obj or "__data__" in obj else obj
    if not isinstance(data, dict):
        raise InteropError(path, "not a FaceSwap alignments file ('__data__' is not a dict)")
    out: dict[str, list[FsFace]] = {}
    for frame, entry in data.items():
        if not isinstance(frame, str):
            raise InteropError(path, f"frame name {frame!r} is not a string")
        faces = entry.get("faces", []) if isinstance(entry, dict) else entry
        if not isinstance(faces, (list, tuple)):
            raise InteropError(path, f"frame {frame}: 'faces' is not a list")
        out[frame] = [_face(f, f"frame {frame} face {i}", path) for i, f in enumerate(faces)]
    return out


def read_alignments(path: str | Path) -> dict[str, list[FsFace]]:
    """Read a ``.fsa`` (zlib + pickle) or ``.json`` alignments file, checked."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InteropError(p, f"cannot read ({exc.strerror})") from None
    if raw.lstrip()[:1] == b"{":
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InteropError(p, f"not a FaceSwap JSON alignments file ({exc})") from None
        return parse_alignments(obj, p)
    try:
        payload = zlib.decompress(raw)
    except zlib.error as exc:
        problem = "truncated" if "incomplete" in str(exc) or "truncated" in str(exc) else "not zlib data"
        raise InteropError(p, f"not a readable FaceSwap alignments file ({problem}: {exc})") from None
    try:
        obj = safe_pickle.loads(payload)
    except safe_pickle.UnsafePickleError as exc:
        raise InteropError(p, f"unsafe alignments file: {exc}") from None
    except pickle.UnpicklingError as exc:
        raise InteropError(p, f"not a FaceSwap alignments file: {exc}") from None
    return parse_alignments(obj, p)


def face_dict(face: FsFace) -> dict[str, Any]:
    x0, y0, x1, y1 = face.box
    out: dict[str, Any] = {
        "x": int(round(x0)), "y": int(round(y0)), "w": int(round(x1 - x0)), "h": int(round(y1 - y0)),
        "landmarks_xy": [[float(a), float(b)] for a, b in face.landmarks],
        "mask": {m.name: {"mask": zlib.compress(np.ascontiguousarray(m.mask, np.uint8).tobytes()),
                          "affine_matrix": [[float(v) for v in row] for row in m.affine],
                          "interpolator": 1, "stored_size": int(m.mask.shape[0]),
                          "stored_centering": m.centering} for m in face.masks},
        "identity": {},
        "thumb": None,
    }
    return out


def write_alignments(path: str | Path, frames: dict[str, list[FsFace]]) -> None:
    """Write a version-2.4 ``.fsa`` (atomically: a temporary file, then a rename)."""
    p = Path(path)
    obj = {"__meta__": {"version": FSA_VERSION},
           "__data__": {name: {"faces": [face_dict(f) for f in faces], "video_meta": {}}
                        for name, faces in frames.items()}}
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_bytes(zlib.compress(safe_pickle.dumps(obj)))
    tmp.replace(p)


# ---------------------------------------------------------------------------- PNG header
def png_chunks(data: bytes, path: Path) -> list[tuple[bytes, bytes]]:
    if data[:8] != PNG_MAGIC:
        raise InteropError(path, "not a PNG file")
    pos, out = 8, []
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        if pos + 12 + length > len(data):
            raise InteropError(path, f"broken PNG: chunk {kind!r} runs past the end of the file")
        out.append((kind, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
        if kind == b"IEND":
            break
    return out


def read_png_header(path: str | Path, data: bytes | None = None) -> dict[str, Any]:
    """The ``faceswap`` iTXt header of a face PNG as a dict (plain literals only)."""
    p = Path(path)
    if data is None:
        data = p.read_bytes()
    for kind, body in png_chunks(data, p):
        if kind != b"iTXt":
            continue
        keyword, _, rest = body.partition(b"\0")
        if keyword != ITXT_KEYWORD or len(rest) < 2:
            continue
        compressed = rest[0] == 1
        _lang, _, rest2 = rest[2:].partition(b"\0")
        _translated, _, text = rest2.partition(b"\0")
        try:
            raw = zlib.decompress(text) if compressed else text
            s = raw.decode("utf-8")
        except (zlib.error, UnicodeDecodeError):
            raise InteropError(p, "the faceswap header is not readable text") from None
        try:
            value = ast.literal_eval(s)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            try:
                value = json.loads(s)
            except json.JSONDecodeError:
                raise InteropError(p, "the faceswap header is neither a Python literal nor JSON") from None
        if not isinstance(value, dict) or "alignments" not in value:
            raise InteropError(p, "the faceswap header has no 'alignments'")
        return value
    raise InteropError(p, "no FaceSwap header (the PNG has no 'faceswap' iTXt chunk)")


def write_png_header(png: bytes, header: dict[str, Any], path: Path) -> bytes:
    """``png`` with a ``faceswap`` iTXt chunk holding ``header`` (written after IHDR)."""
    chunks = [(k, b) for k, b in png_chunks(png, path) if not (k == b"iTXt" and b.startswith(ITXT_KEYWORD + b"\0"))]
    body = ITXT_KEYWORD + b"\0\0\0\0\0" + repr(header).encode("utf-8")
    chunks.insert(1, (b"iTXt", body))
    out = bytearray(PNG_MAGIC)
    for kind, b in chunks:
        out += struct.pack(">I", len(b)) + kind + b + struct.pack(">I", zlib.crc32(kind + b) & 0xFFFFFFFF)
    return bytes(out)
