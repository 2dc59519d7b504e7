"""DeepFaceLab aligned faces: JPEGs whose APP15 segment holds a pickled metadata dict.

Layout (``REFERENCE.md`` Part A2): a JPEG is ``FFD8`` then segments ``FF xx`` with a
big-endian 16-bit length (which counts itself) up to start-of-scan ``FFDA``. DFL keeps
its dict in one APP15 (``FFEF``) segment and replaces any earlier one on save; so do we.
A segment is at most 65,533 bytes of payload, which is why DFL keeps ``xseg_mask``
under 50,000 bytes.

:func:`read_meta` parses the dict through :mod:`.safe_pickle` and checks it field by
field into a :class:`DflFace`; :func:`write_jpeg` builds the dict back from one.
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from engine.interop import InteropError
from engine.interop import safe_pickle

APP15: Final = 0xEF
SOS: Final = 0xDA
MAX_SEGMENT: Final = 65533
#: DFL face type names -> ours. The "no align" variants frame the same area without the
#: rotation; the stored matrix keeps that exactly, so they map to their aligned cousin.
DFL_TO_FACE_TYPE: Final = {
    "half_face": "half", "midfull_face": "mid_full", "full_face": "full", "full_face_no_align": "full",
    "whole_face": "whole", "head": "head", "head_no_align": "head",
}
FACE_TYPE_TO_DFL: Final = {"half": "half_face", "mid_full": "midfull_face", "full": "full_face",
                           "whole": "whole_face", "head": "head"}
#: seg_ie_polys types (SegIEPolys): 0 exclude, 1 include.
POLY_EXCLUDE: Final = 0
POLY_INCLUDE: Final = 1


@dataclass(frozen=True, eq=False)
class DflPoly:
    """One XSeg polygon in the face image's pixels; ``kind`` 'include' or 'exclude'."""

    kind: str
    points: npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class DflFace:
    """The metadata of one DFL face image (see ``REFERENCE.md`` Part A2).

    Attributes
    ----------
    face_type : ours (``whole``...); ``dfl_face_type`` keeps DFL's own name.
    landmarks : float64 (68, 2) in the face image's pixels.
    source_landmarks : (68, 2) in frame pixels, or None when absent.
    image_to_face_mat : float64 (2, 3) frame -> face image, or None when absent.
    polys : the XSeg label polygons (face image pixels), include first.
    xseg_mask : the encoded (PNG/JPEG) XSeg prediction, or None.
    """

    face_type: str
    dfl_face_type: str
    landmarks: npt.NDArray[np.float64]
    source_filename: str | None = None
    source_rect: tuple[float, float, float, float] | None = None
    source_landmarks: npt.NDArray[np.float64] | None = None
    image_to_face_mat: npt.NDArray[np.float64] | None = None
    eyebrows_expand_mod: float = 1.0
    polys: tuple[DflPoly, ...] = field(default_factory=tuple)
    xseg_mask: bytes | None = None


# ---------------------------------------------------------------------------- segments
def split_segments(data: bytes, path: Path) -> tuple[list[tuple[int, bytes]], bytes]:
    """``([(marker, payload), ...], rest)``: the header segments and everything from SOS on."""
    if data[:2] != b"\xff\xd8":
        raise InteropError(path, "not a JPEG file (no start-of-image marker)")
    pos, segs = 2, []
    while True:
        while pos < len(data) and data[pos] == 0xFF and pos + 1 < len(data) and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise InteropError(path, f"broken JPEG: no segment marker at byte {pos}")
        marker = data[pos + 1]
        if marker == SOS:
            return segs, data[pos:]
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            segs.append((marker, b""))
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            raise InteropError(path, f"broken JPEG: segment at byte {pos} runs past the end of the file")
        segs.append((marker, data[pos + 4:pos + 2 + length]))
        pos += 2 + length


def app15_payload(data: bytes, path: Path) -> bytes:
    segs, _ = split_segments(data, path)
    for marker, payload in segs:
        if marker == APP15:
            return payload
    raise InteropError(path, "no DeepFaceLab metadata (the JPEG has no APP15 segment)")


def with_app15(jpeg: bytes, payload: bytes, path: Path) -> bytes:
    """``jpeg`` with its APP15 replaced by ``payload`` (after the APP0/APP1 segments)."""
    if len(payload) > MAX_SEGMENT:
        raise InteropError(path, f"metadata is {len(payload)} bytes; a JPEG segment holds at most {MAX_SEGMENT}")
    segs, rest = split_segments(jpeg, path)
    segs = [s for s in segs if s[0] != APP15]
    at = 0
    while at < len(segs) and 0xE0 <= segs[at][0] <= 0xEE:
        at += 1
    segs.insert(at, (APP15, payload))
    out = bytearray(b"\xff\xd8")
    for marker, body in segs:
        out += bytes((0xFF, marker))
        if not (0xD0 <= marker <= 0xD7 or marker == 0x01):
            out += struct.pack(">H", len(body) + 2) + body
    return bytes(out + rest)


# ---------------------------------------------------------------------------- metadata
def _points(value: Any, shape: tuple[int, ...] | None, what: str, path: Path) -> npt.NDArray[np.float64]:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InteropError(path, f"{what} is not an array of numbers") from None
    if shape is not None and arr.shape != shape:
        raise InteropError(path, f"{what} must be {'x'.join(map(str, shape))}, got shape "
                                 f"{'x'.join(map(str, arr.shape)) or 'scalar'}")
    if not np.isfinite(arr).all():
        raise InteropError(path, f"{what} holds values that are not finite")
    return arr


def parse_polys(value: Any, path: Path) -> tuple[DflPoly, ...]:
    """``seg_ie_polys``: ``{'polys': [{'type', 'pts'}]}`` or the old ``[(type, pts)]``."""
    if value is None:
        return ()
    items = value.get("polys", []) if isinstance(value, dict) else value
    if not isinstance(items, (list, tuple)):
        raise InteropError(path, "seg_ie_polys is neither a dict with 'polys' nor a list")
    polys = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            kind, pts = item.get("type"), item.get("pts")
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            kind, pts = item
        else:
            raise InteropError(path, f"seg_ie_polys polygon {i} is not a (type, points) pair")
        if kind not in (POLY_EXCLUDE, POLY_INCLUDE):
            raise InteropError(path, f"seg_ie_polys polygon {i} has type {kind!r} (0 exclude or 1 include)")
        arr = _points(pts, None, f"seg_ie_polys polygon {i}", path)
        if arr.size == 0:
            continue  # DFL keeps empty polygons while drawing; they paint nothing
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise InteropError(path, f"seg_ie_polys polygon {i} points must be Nx2")
        if len(arr) < 3:
            continue
        polys.append(DflPoly("include" if kind == POLY_INCLUDE else "exclude", arr))
    # DFL renders include polygons first, then exclude ones (REFERENCE Part B 2.2).
    return tuple(sorted(polys, key=lambda p: p.kind != "include"))


def face_from_dict(meta: Any, path: Path) -> DflFace:
    """Check a metadata dict into a :class:`DflFace` (errors name ``path`` and the key)."""
    if not isinstance(meta, dict):
        raise InteropError(path, f"DeepFaceLab metadata is a {type(meta).__name__}, not a dict")
    dfl_type = meta.get("face_type", "full_face")
    if not isinstance(dfl_type, str) or dfl_type not in DFL_TO_FACE_TYPE:
        raise InteropError(path, f"face type {dfl_type!r} is not supported "
                                 f"(known: {', '.join(DFL_TO_FACE_TYPE)})")
    if "landmarks" not in meta:
        raise InteropError(path, "DeepFaceLab metadata has no landmarks")
    landmarks = _points(meta["landmarks"], (68, 2), "landmarks", path)
    src_lm = meta.get("source_landmarks")
    source_landmarks = None if src_lm is None else _points(src_lm, (68, 2), "source_landmarks", path)
    mat = meta.get("image_to_face_mat")
    image_to_face_mat = None if mat is None else _points(mat, (2, 3), "image_to_face_mat", path)
    if image_to_face_mat is not None and abs(np.linalg.det(image_to_face_mat[:, :2])) < 1e-12:
        raise InteropError(path, "image_to_face_mat is not invertible")
    rect = meta.get("source_rect")
    source_rect = None if rect is None else tuple(float(v) for v in _points(rect, (4,), "source_rect", path))
    name = meta.get("source_filename")
    if name is not None and not isinstance(name, str):
        raise InteropError(path, "source_filename is not a string")
    mod = meta.get("eyebrows_expand_mod", 1.0)
    if mod is None:
        mod = 1.0
    if isinstance(mod, (bool, str, bytes)) or not np.isfinite(float(mod)):
        raise InteropError(path, "eyebrows_expand_mod is not a number")
    xseg = meta.get("xseg_mask")
    if xseg is not None and not isinstance(xseg, bytes):
        raise InteropError(path, "xseg_mask is not encoded image bytes")
    return DflFace(DFL_TO_FACE_TYPE[dfl_type], dfl_type, landmarks, name or None, source_rect,  # type: ignore[arg-type]
                   source_landmarks, image_to_face_mat, float(mod), parse_polys(meta.get("seg_ie_polys"), path),
                   xseg or None)


def read_meta(path: str | Path, data: bytes | None = None) -> DflFace:
    """The DFL metadata of a face JPEG, checked; :class:`InteropError` names the file."""
    p = Path(path)
    if data is None:
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise InteropError(p, f"cannot read ({exc.strerror})") from None
    payload = app15_payload(data, p)
    try:
        meta = safe_pickle.loads(payload)
    except safe_pickle.UnsafePickleError as exc:
        raise InteropError(p, f"unsafe DeepFaceLab metadata: {exc}") from None
    except pickle.UnpicklingError as exc:
        raise InteropError(p, f"the APP15 segment is not DeepFaceLab metadata: {exc}") from None
    return face_from_dict(meta, p)


def to_dict(face: DflFace) -> dict[str, Any]:
    """The metadata dict DFL's trainer and XSeg editor read (plain types and arrays)."""
    meta: dict[str, Any] = {
        "face_type": face.dfl_face_type,
        "landmarks": np.asarray(face.landmarks, np.float32),
        "eyebrows_expand_mod": float(face.eyebrows_expand_mod),
    }
    if face.source_filename is not None:
        meta["source_filename"] = face.source_filename
    if face.source_rect is not None:
        meta["source_rect"] = tuple(int(round(v)) for v in face.source_rect)
    if face.source_landmarks is not None:
        meta["source_landmarks"] = np.asarray(face.source_landmarks, np.float32)
    if face.image_to_face_mat is not None:
        meta["image_to_face_mat"] = np.asarray(face.image_to_face_mat, np.float64)
    if face.polys:
        meta["seg_ie_polys"] = {"polys": [
            {"type": POLY_INCLUDE if p.kind == "include" else POLY_EXCLUDE,
             "pts": [[float(x), float(y)] for x, y in p.points]} for p in face.polys]}
    if face.xseg_mask is not None:
        meta["xseg_mask"] = face.xseg_mask
    return meta


def write_jpeg(path: str | Path, jpeg: bytes, face: DflFace) -> bytes:
    """``jpeg`` (an encoded face image) with ``face``'s metadata; written to ``path``."""
    p = Path(path)
    data = with_app15(jpeg, safe_pickle.dumps(to_dict(face)), p)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(p)
    return data


def polys_from_points(polys: Sequence[tuple[str, npt.ArrayLike]]) -> tuple[DflPoly, ...]:
    return tuple(DflPoly(kind, np.asarray(pts, np.float64)) for kind, pts in polys)
