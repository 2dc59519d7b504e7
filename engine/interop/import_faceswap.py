"""Import FaceSwap work for a video already in the project.

Sources: a ``.fsa``/``.json`` alignments file, or a folder of FaceSwap face PNGs (each
carries its face in a ``faceswap`` iTXt header). Frame names are
``<video_stem>_<frame:06d>.<ext>`` (1-based); they must name frames of the chosen clip,
otherwise the file is refused as belonging to a different video.

FaceSwap's crops are framed by its own mean face, so the faces are re-aligned here from
their landmarks (face type ``whole`` at 256 px, as our extraction does), and the crops
are cut from the clip's frames. Stored masks are warped from FaceSwap's stored square
into that crop and become predicted masks. FaceSwap keeps the mask's matrix as the
frame -> stored-square transform (it warps with ``WARP_INVERSE_MAP``); REFERENCE.md
words it as stored -> frame, so the direction is taken from the data: the one that puts
the square's centre inside the face box. Identity vectors are ignored (other networks,
other spaces than ours).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from engine.faces.align import alignment_matrix, invert_alignment, transform_points
from engine.interop import InteropError
from engine.interop.common import Broken, ImportSummary, Progress, listing, natural_key, split_frame_name
from engine.interop.faceswap import FsFace, FsMask, parse_alignments, read_alignments, read_png_header
from engine.interop.store_ops import insert_faces, landmark_columns, new_person, next_indices, put_foreign_predictions
from engine.masks.crops import CropReader
from engine.project.faces import crop_path, write_crop
from engine.project.models import Clip, NewFace
from engine.project.store import ProjectStore

FACE_TYPE: Final = "whole"
CROP_SIZE: Final = 256
#: Which of several stored masks to keep: the learned ones before the landmark ones.
MASK_PREFERENCE: Final = ("bisenet-fp_face", "bisenet-fp_head", "vgg-obstructed", "vgg-clear", "unet-dfl",
                          "custom_face", "custom_head", "extended", "components")


def frame_number(name: str, clip: Clip) -> int | None:
    """The 0-based frame of ``clip`` that FaceSwap frame name ``name`` means, or None."""
    parts = split_frame_name(name)
    if parts is None:
        return None
    stem, number = parts
    if stem not in (Path(clip.path).stem, clip.name):
        return None
    frame = number - 1
    return frame if 0 <= frame < clip.frame_count else None


def _read_folder(folder: Path, broken: list[Broken]) -> dict[str, list[FsFace]]:
    frames: dict[str, list[tuple[int, FsFace]]] = {}
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() == ".png"), key=lambda p: natural_key(p.name))
    if not files:
        raise InteropError(folder, "no FaceSwap face PNGs in this folder")
    for p in files:
        try:
            header = read_png_header(p)
            src = header.get("source") or {}
            name = src.get("source_filename") if isinstance(src, dict) else None
            if not isinstance(name, str):
                raise InteropError(p, "the faceswap header has no source_filename")
            index = src.get("face_index", 0)
            face = parse_alignments({name: [header["alignments"]]}, p)[name][0]
            frames.setdefault(name, []).append((int(index) if isinstance(index, int) else 0, face))
        except InteropError as exc:
            broken.append(Broken(p, exc.problem))
        except OSError as exc:
            broken.append(Broken(p, f"cannot read ({exc.strerror})"))
    return {k: [f for _, f in sorted(v, key=lambda t: t[0])] for k, v in frames.items()}


def _pick_mask(masks: tuple[FsMask, ...]) -> FsMask | None:
    if not masks:
        return None
    by_name = {m.name: m for m in masks}
    for name in MASK_PREFERENCE:
        if name in by_name:
            return by_name[name]
    return masks[0]


def mask_to_crop(m: FsMask, box: tuple[float, float, float, float], crop: npt.ArrayLike, size: int) -> npt.NDArray[np.uint8]:
    """A stored FaceSwap mask warped into our crop (frame -> crop matrix ``crop``)."""
    s = m.mask.shape[0]
    centre = np.array([[s / 2.0, s / 2.0]])
    x0, y0, x1, y1 = box
    pad = 0.5 * max(x1 - x0, y1 - y0)
    as_is = transform_points(centre, m.affine)[0]
    inside = x0 - pad <= as_is[0] <= x1 + pad and y0 - pad <= as_is[1] <= y1 + pad
    stored_to_frame = m.affine if inside else invert_alignment(m.affine)
    full = np.vstack([np.asarray(crop, np.float64)[:2], [0, 0, 1]]) @ np.vstack([stored_to_frame, [0, 0, 1]])
    return cv2.warpAffine(m.mask, full[:2], (size, size), flags=cv2.INTER_LINEAR, borderValue=0)


def import_faceswap(store: ProjectStore, source: str | Path, *, clip: str | int,
                    progress: Progress | None = None) -> ImportSummary:
    """Import an alignments file or a face folder onto ``clip``'s frames."""
    src = Path(source).expanduser().resolve()
    target = store.find_clip(clip)
    broken: list[Broken] = []
    if src.is_dir():
        frames = _read_folder(src, broken)
        if not frames:
            raise InteropError(src, f"no face could be imported; every file is broken:\n{listing(broken)}")
    else:
        frames = read_alignments(src)
    if target.kind != "video":
        raise InteropError(src, f"clip '{target.name}' is not a video; FaceSwap alignments belong to a video")
    placed = [(frame_number(name, target), name, faces) for name, faces in frames.items()]
    matched = [(f, faces) for f, name, faces in placed if f is not None and faces]
    unmatched = [name for f, name, _ in placed if f is None]
    if not matched:
        example = next(iter(frames), "(no frames)")
        raise InteropError(src, f"alignments for a different video: frame names like {example!r} do not match "
                                f"clip '{target.name}' ({Path(target.path).name}, {target.frame_count} frames)")
    broken += [Broken(src, f"frame {n!r} is not a frame of clip '{target.name}'") for n in unmatched]
    if progress is not None:
        progress(0.2, f"{sum(len(f) for _, f in matched)} faces on {len(matched)} frames")
    with store.transaction():
        person = new_person(store, f"{target.name} (FaceSwap)")
        nxt = next_indices(store, target.id)
        new: list[NewFace] = []
        masks: list[FsMask | None] = []
        for frame, faces in sorted(matched, key=lambda t: t[0]):
            for face in faces:
                idx = nxt.get(frame, 0)
                nxt[frame] = idx + 1
                mat = alignment_matrix(face.landmarks, FACE_TYPE, CROP_SIZE)
                new.append(NewFace(target.id, frame, idx, face.box, 1.0, face.landmarks.astype(np.float32),
                                   FACE_TYPE, CROP_SIZE, mat, person_id=person,
                                   **landmark_columns(face.landmarks, (target.width, target.height))))
                masks.append(_pick_mask(face.masks))
        ids = insert_faces(store, new)
        stored = store.faces(ids=ids)
        preds = []
        by_id = dict(zip(ids, zip(new, masks, strict=True), strict=True))
        with CropReader(store, FACE_TYPE, CROP_SIZE, use_cached=False) as reader:
            for k, (face, crop) in enumerate(reader.read(stored)):
                ok, jpg = cv2.imencode(".jpg", np.ascontiguousarray(crop[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 95])
                if not ok:
                    raise InteropError(src, f"could not encode the crop of frame {face.frame}")
                rel = crop_path(face.id)
                write_crop(store.root, rel, jpg.tobytes())
                store.connection.execute("UPDATE faces SET crop_path = ? WHERE id = ?", (rel, face.id))
                nf, m = by_id[face.id]
                if m is not None:
                    preds.append((face.id, mask_to_crop(m, nf.box, nf.alignment, CROP_SIZE), FACE_TYPE))
                if progress is not None and k % 100 == 0:
                    progress(0.2 + 0.8 * k / len(ids), f"cropping {k}/{len(ids)}")
        n_preds = put_foreign_predictions(store, preds)
    return ImportSummary(target.id, target.name, len(ids), 0, n_preds, person, False, tuple(broken))
