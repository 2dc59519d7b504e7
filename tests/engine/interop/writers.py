"""Independent minimal writers of DeepFaceLab and FaceSwap files, for the tests.

Written from the format descriptions (REFERENCE.md Parts A2, B 2.2, E 1.4) and on
purpose sharing no code with :mod:`engine.interop`: a reader tested only against its own
writer could agree with itself on a wrong format.
"""

from __future__ import annotations

import pickle
import struct
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np


def face_jpeg(size: int = 128, seed: int = 0) -> bytes:
    """A plain JPEG (no APP15) of a smooth random picture."""
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
    ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return data.tobytes()


def add_app15(jpeg: bytes, payload: bytes) -> bytes:
    """Insert one APP15 segment right after SOI (DFL's container: FF EF, length, pickle)."""
    assert jpeg[:2] == b"\xff\xd8"
    assert len(payload) <= 65533
    return jpeg[:2] + b"\xff\xef" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def dfl_meta(*, size: int = 128, face_type: str = "whole_face", source: str | None = "00001.png",
             shift: tuple[float, float] = (100.0, 50.0), scale: float = 0.5, polys: list[Any] | None = None,
             xseg: bytes | None = None, seed: int = 0) -> dict[str, Any]:
    """A metadata dict as DFL's extractor writes it, for a face whose frame -> face matrix
    is a scale and shift (so its inverse is easy to check by hand)."""
    rng = np.random.default_rng(seed)
    lm = rng.uniform(0.2 * size, 0.8 * size, (68, 2))
    mat = np.array([[scale, 0.0, -shift[0] * scale], [0.0, scale, -shift[1] * scale]])
    src_lm = (lm - mat[:, 2]) / scale
    meta: dict[str, Any] = {
        "face_type": face_type,
        "landmarks": lm.tolist(),
        "source_filename": source,
        "source_rect": (int(src_lm[:, 0].min()), int(src_lm[:, 1].min()), int(src_lm[:, 0].max()),
                        int(src_lm[:, 1].max())),
        "source_landmarks": src_lm.tolist(),
        "image_to_face_mat": mat,
        "eyebrows_expand_mod": 1.0,
    }
    if polys is not None:
        meta["seg_ie_polys"] = {"polys": polys}
    if xseg is not None:
        meta["xseg_mask"] = xseg
    return meta


def write_dfl_face(path: Path, meta: Any, *, size: int = 128, seed: int = 0, raw_payload: bytes | None = None) -> Path:
    payload = raw_payload if raw_payload is not None else pickle.dumps(meta)
    path.write_bytes(add_app15(face_jpeg(size, seed), payload))
    return path


def xseg_png(size: int = 64) -> bytes:
    m = np.zeros((size, size), np.uint8)
    cv2.circle(m, (size // 2, size // 2), size // 3, 255, -1)
    ok, data = cv2.imencode(".png", m)
    assert ok
    return data.tobytes()


# ---------------------------------------------------------------------------- FaceSwap
def fs_face(x: float, y: float, w: float, h: float, landmarks: np.ndarray,
            mask: np.ndarray | None = None, affine: np.ndarray | None = None) -> dict[str, Any]:
    face: dict[str, Any] = {"x": int(x), "y": int(y), "w": int(w), "h": int(h),
                            "landmarks_xy": np.asarray(landmarks, np.float32), "mask": {},
                            "identity": {"vggface2": np.zeros(512, np.float32)}, "thumb": None}
    if mask is not None:
        assert affine is not None
        face["mask"]["components"] = {"mask": zlib.compress(mask.tobytes()), "affine_matrix": affine,
                                      "interpolator": 1, "stored_size": mask.shape[0], "stored_centering": "face"}
    return face


def write_fsa(path: Path, frames: dict[str, list[dict[str, Any]]]) -> Path:
    obj = {"__meta__": {"version": 2.4},
           "__data__": {k: {"faces": v, "video_meta": {"pts_time": 0, "keyframe": False}} for k, v in frames.items()}}
    path.write_bytes(zlib.compress(pickle.dumps(obj)))
    return path


def png_with_itxt(header: dict[str, Any], size: int = 64) -> bytes:
    """A face PNG with a ``faceswap`` iTXt chunk holding ``str(header)``."""
    ok, data = cv2.imencode(".png", np.full((size, size, 3), 128, np.uint8))
    assert ok
    raw = data.tobytes()
    text = str(header).encode("utf-8")
    body = b"faceswap\x00\x00\x00\x00\x00" + text
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body) & 0xFFFFFFFF)
    at = 8 + 8 + 13 + 4  # after the signature and IHDR
    return raw[:at] + chunk + raw[at:]
