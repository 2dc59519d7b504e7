"""Export faces as a DeepFaceLab aligned face set, and a clip as a FaceSwap ``.fsa``.

DFL face set: one JPEG per face, the face's own crop (its face type and size), with the
metadata DFL's trainer and XSeg editor read (``REFERENCE.md`` Part A2): ``face_type``,
``landmarks`` in crop pixels, ``source_filename``/``source_rect``/``source_landmarks``
in frame pixels, ``image_to_face_mat`` (frame -> crop), label polygons as
``seg_ie_polys`` and the latest XSeg prediction as ``xseg_mask`` (256 px PNG; JPEG of
falling quality when the PNG would not fit DFL's 50,000-byte budget). Brush strokes
have no DFL equivalent and are left out (counted in the result).

Frame names follow DFL's ``extract video`` numbering (1-based, 5 digits) prefixed with
the clip's name, ``<clip>_00012.png``, so importing the set into a project with that
clip puts every face back on its frame. Faces of a face-set clip name their image.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import cv2
import numpy as np

from engine.faces.align import transform_points
from engine.interop import InteropError
from engine.interop.common import Progress
from engine.interop.dfljpg import FACE_TYPE_TO_DFL, DflFace, DflPoly, write_jpeg
from engine.interop.faceswap import FsFace, FsMask, write_alignments
from engine.masks.crops import CropReader
from engine.masks.raster import warp_mask
from engine.masks.repo import crop_matrix, get_labels, get_prediction
from engine.project.models import Clip, Face
from engine.project.store import ProjectStore

XSEG_SIZE: Final = 256
XSEG_MAX_BYTES: Final = 50_000
FS_MASK_SIZE: Final = 128
JPEG_QUALITY: Final = 95


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    faces: int
    polygons: int = 0
    strokes_left_out: int = 0
    masks: int = 0

    def message(self) -> str:
        text = f"exported {self.faces} faces to {self.path} ({self.polygons} polygons, {self.masks} masks)"
        if self.strokes_left_out:
            text += f"; {self.strokes_left_out} brush strokes left out (DFL has only polygons)"
        return text


def _frame_names(store: ProjectStore, clips: dict[int, Clip]) -> dict[int, dict[int, str]]:
    out: dict[int, dict[int, str]] = {}
    for clip in clips.values():
        if clip.kind != "video":
            rows = store.connection.execute("SELECT frame, path FROM clip_images WHERE clip_id = ?", (clip.id,))
            out[clip.id] = {int(f): Path(p).name for f, p in rows}
    return out


def source_name(clip: Clip, frame: int, names: dict[int, dict[int, str]]) -> str:
    if clip.id in names and frame in names[clip.id]:
        return names[clip.id][frame]
    return f"{clip.name}_{frame + 1:05d}.png"


def _xseg_bytes(mask: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", mask)
    if ok and len(data) <= XSEG_MAX_BYTES:
        return data.tobytes()
    for q in range(95, 10, -10):
        ok, data = cv2.imencode(".jpg", mask, [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok and len(data) <= XSEG_MAX_BYTES:
            return data.tobytes()
    raise RuntimeError("xseg mask does not fit 50,000 bytes even as a low-quality JPEG")


def select_export_faces(store: ProjectStore, *, person: int | None = None, face_ids: Sequence[int] | None = None,
                        clip: str | int | None = None, include_excluded: bool = False) -> list[Face]:
    if face_ids:
        return store.faces(ids=face_ids)
    clip_id = store.find_clip(clip).id if clip is not None else None
    faces = store.faces(clip_id=clip_id, include_excluded=include_excluded)
    if person is not None:
        faces = [f for f in faces if f.person_id == person]
    return faces


def export_dfl(store: ProjectStore, faces: Sequence[Face], out: str | Path,
               progress: Progress | None = None) -> ExportSummary:
    """Write ``faces`` as DFLJPG files into the folder ``out`` (created; must be empty)."""
    dest = Path(out).expanduser().resolve()
    if not faces:
        raise InteropError(dest, "no faces to export (check --person / the selection)")
    if dest.exists() and any(dest.iterdir()):
        raise InteropError(dest, "the folder is not empty; export into a new or empty folder")
    dest.mkdir(parents=True, exist_ok=True)
    clips = {c.id: c for c in store.clips()}
    names = _frame_names(store, clips)
    labels = get_labels(store, [f.id for f in faces])
    groups: dict[tuple[str, int], list[Face]] = defaultdict(list)
    for f in faces:
        groups[(f.face_type, f.crop_size)].append(f)
    done = polys_n = strokes = masks_n = 0
    used: set[str] = set()
    for (face_type, size), group in groups.items():
        with CropReader(store, face_type, size) as reader:
            for face, crop in reader.read(group):
                clip = clips[face.clip_id]
                src_name = source_name(clip, face.frame, names)
                stem = f"{Path(src_name).stem}_{face.idx}"
                if stem in used:
                    stem = f"{clip.name}_{stem}"
                used.add(stem)
                mat = crop_matrix(face)
                polys = []
                label = labels.get(face.id)
                if label is not None:
                    for s in label.shapes:
                        if s.type != "polygon":
                            strokes += 1
                            continue
                        polys.append(DflPoly(s.kind, transform_points(s.points, mat)))
                polys_n += len(polys)
                xseg = None
                pred = get_prediction(store, face.id)
                if pred is not None:
                    m = warp_mask(pred.mask, crop_matrix(face, pred.face_type, pred.resolution),
                                  crop_matrix(face, face_type, XSEG_SIZE), XSEG_SIZE)
                    xseg = _xseg_bytes(m)
                    masks_n += 1
                meta = DflFace(face_type, FACE_TYPE_TO_DFL[face_type], transform_points(face.landmarks, mat),
                               src_name, face.box, np.asarray(face.landmarks, np.float64), mat, 1.0,
                               tuple(polys), xseg)
                ok, jpg = cv2.imencode(".jpg", np.ascontiguousarray(crop[..., ::-1]),
                                       [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                if not ok:
                    raise InteropError(dest, f"could not encode the crop of face {face.id}")
                write_jpeg(dest / f"{stem}.jpg", jpg.tobytes(), meta)
                done += 1
                if progress is not None and done % 100 == 0:
                    progress(done / len(faces), f"{done}/{len(faces)} faces")
    return ExportSummary(dest, done, polys_n, strokes, masks_n)


def fs_frame_name(clip: Clip, frame: int) -> str:
    """FaceSwap 2.4's key of a video frame: ``<stem>_<frame:06d><ext>``, 1-based."""
    p = Path(clip.path)
    return f"{p.stem}_{frame + 1:06d}{p.suffix}"


def export_faceswap(store: ProjectStore, clip: str | int, out: str | Path,
                    progress: Progress | None = None) -> ExportSummary:
    """Write the faces of a video clip as a FaceSwap 2.4 alignments file."""
    target = store.find_clip(clip)
    dest = Path(out).expanduser().resolve()
    if target.kind != "video":
        raise InteropError(dest, f"clip '{target.name}' is not a video; FaceSwap alignments describe a video")
    faces = store.faces(clip_id=target.id)
    if not faces:
        raise InteropError(dest, f"clip '{target.name}' has no faces to export")
    frames: dict[str, list[FsFace]] = {}
    masks_n = 0
    for k, face in enumerate(faces):
        masks: tuple[FsMask, ...] = ()
        pred = get_prediction(store, face.id)
        if pred is not None:
            # FaceSwap keeps frame -> stored square; the square is the face's own crop at 128 px.
            stored = crop_matrix(face, pred.face_type, FS_MASK_SIZE)
            m = warp_mask(pred.mask, crop_matrix(face, pred.face_type, pred.resolution), stored, FS_MASK_SIZE)
            masks = (FsMask("facesmith", m, stored, "face"),)
            masks_n += 1
        frames.setdefault(fs_frame_name(target, face.frame), []).append(
            FsFace(face.box, np.asarray(face.landmarks, np.float64), masks))
        if progress is not None and k % 500 == 0:
            progress(k / len(faces), f"{k}/{len(faces)} faces")
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_alignments(dest, frames)
    return ExportSummary(dest, len(faces), 0, 0, masks_n)
