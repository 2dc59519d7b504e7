"""Import a DeepFaceLab aligned face set (a folder of DFLJPG faces).

Every file is read and checked first; broken ones are listed and skipped, and if none
is usable nothing changes. Then, in one transaction:

- **attached** -- when the faces' ``source_filename`` names frames of a clip of the
  project (``--clip``, or a clip whose name is the prefix, e.g. ``interview_00012.png``;
  DFL's own frame names ``00012.png`` are 1-based, as its ``extract video`` writes them;
  for an image clip the file name itself), each face goes onto that frame in frame
  coordinates: the alignment is ``image_to_face_mat``, landmarks and polygons are moved
  to the frame through its inverse, the box is ``source_rect``. The face image is kept
  as the face's crop file (it is exactly that crop).
- **face-set clip** -- otherwise the set becomes a clip of kind ``faceset``: its images
  are copied to ``imports/<clip>/`` inside the project (so the project stays
  self-contained) and each image is a frame whose one face *is* the crop (identity
  alignment, crop file = the image). Training reads these crop files directly
  (:class:`engine.masks.crops.CropReader` uses a face's crop file when face type and size
  fit, which they do for a model of the set's face type).

``seg_ie_polys`` become the face's label mask, ``xseg_mask`` a predicted mask (no
model). All faces of one import get a new person named after the folder.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from engine.faces.align import invert_alignment, transform_points
from engine.interop import InteropError
from engine.interop.common import Broken, ImportSummary, Progress, image_files, jpeg_size, listing, split_frame_name
from engine.interop.dfljpg import DflFace, read_meta
from engine.interop.store_ops import (decode_mask, insert_faces, label_from_polys, landmark_columns, new_person,
                                      next_indices, put_foreign_predictions, put_labels)
from engine.project import layout
from engine.project.faces import crop_path, write_crop
from engine.project.models import Clip, NewClip, NewFace
from engine.project.store import ProjectStore

IMPORTS_DIR: Final = "imports"
MIN_SIDE: Final = 64
MAX_SIDE: Final = 1024
#: frames per second given to a face-set clip (its "frames" are unrelated images).
FACESET_FPS: Final = Fraction(25, 1)


@dataclass(frozen=True, eq=False)
class _Item:
    path: Path
    data: bytes
    meta: DflFace
    side: int


def read_face_set(folder: Path, progress: Progress | None = None) -> tuple[list[_Item], list[Broken]]:
    """Read and check every face image of ``folder`` (nothing is written)."""
    files = image_files(folder)
    if not files:
        raise InteropError(folder, "no JPG or PNG face images in this folder")
    items: list[_Item] = []
    broken: list[Broken] = []
    for i, p in enumerate(files):
        try:
            data = p.read_bytes()
            if data[:8] == b"\x89PNG\r\n\x1a\n":
                raise InteropError(p, "a PNG face without DeepFaceLab 2 metadata (DFLPNG faces of DFL 1.0 "
                                      "are not supported; FaceSwap faces: use 'import faceswap')")
            meta = read_meta(p, data)
            size = jpeg_size(data)
            if size is None:
                raise InteropError(p, "broken JPEG: no image size (SOF segment)")
            if not data.rstrip(b"\0")[-2:] == b"\xff\xd9":
                raise InteropError(p, "truncated JPEG (no end-of-image marker): the image data is cut short")
            w, h = size
            if w != h:
                raise InteropError(p, f"face image is {w}x{h}; aligned faces are square")
            if not MIN_SIDE <= w <= MAX_SIDE:
                raise InteropError(p, f"face image is {w} px; Facesmith crops are {MIN_SIDE}-{MAX_SIDE} px")
            if meta.xseg_mask is not None and decode_mask(meta.xseg_mask) is None:
                raise InteropError(p, "xseg_mask is not a decodable square grey image")
            items.append(_Item(p, data, meta, w))
        except InteropError as exc:
            broken.append(Broken(p, exc.problem))
        except OSError as exc:
            broken.append(Broken(p, f"cannot read ({exc.strerror})"))
        if progress is not None and i % 200 == 0:
            progress(0.6 * i / len(files), f"reading {i}/{len(files)}")
    return items, broken


def _frame_lookup(clip: Clip, store: ProjectStore) -> dict[str, int] | None:
    """For an image clip: file name -> frame; None for a video (frames are numbered)."""
    if clip.kind == "video":
        return None
    rows = store.connection.execute("SELECT frame, path FROM clip_images WHERE clip_id = ?", (clip.id,))
    return {Path(p).name: int(f) for f, p in rows}


def _frame_of(meta: DflFace, clip: Clip, names: dict[str, int] | None, *, prefix_must_match: bool) -> int | None:
    if not meta.source_filename or meta.image_to_face_mat is None:
        return None
    src = Path(meta.source_filename.replace("\\", "/")).name
    if names is not None:
        return names.get(src)
    parts = split_frame_name(src)
    if parts is None:
        return None
    prefix, number = parts
    if prefix_must_match and prefix not in (clip.name, Path(clip.path).stem):
        return None
    frame = number - 1  # DFL's extracted frames are numbered from 1
    return frame if 0 <= frame < clip.frame_count else None


def _auto_clip(store: ProjectStore, items: list[_Item]) -> Clip | None:
    """The clip every face's source frame names, if there is exactly one."""
    for clip in store.clips():
        names = _frame_lookup(clip, store)
        if all(_frame_of(it.meta, clip, names, prefix_must_match=names is None) is not None for it in items):
            return clip
    return None


def import_dfl(store: ProjectStore, folder: str | Path, *, clip: str | int | None = None, role: str = "src",
               name: str | None = None, progress: Progress | None = None) -> ImportSummary:
    """Import the face set in ``folder`` (see the module docs); returns what was done."""
    src = Path(folder).expanduser().resolve()
    items, broken = read_face_set(src, progress)
    if not items:
        raise InteropError(src, f"no face could be imported; every file is broken:\n{listing(broken)}")
    target = store.find_clip(clip) if clip is not None else _auto_clip(store, items)
    if target is not None:
        names = _frame_lookup(target, store)
        placed: list[tuple[_Item, int]] = []
        for it in items:
            frame = _frame_of(it.meta, target, names, prefix_must_match=False)
            if frame is None:
                broken.append(Broken(it.path, f"source frame {it.meta.source_filename!r} is not a frame of clip "
                                              f"'{target.name}' (faces of a different video?)"))
            else:
                placed.append((it, frame))
        if not placed:
            raise InteropError(src, f"no face's source_filename matches a frame of clip '{target.name}': "
                                    f"these faces come from a different video")
        return _attach(store, src, target, placed, broken, progress)
    if role not in ("src", "dst"):
        raise InteropError(src, f"unknown role {role!r}; use 'src' or 'dst'")
    return _faceset(store, src, items, broken, role, name or src.name, progress)


def _box(points: npt.NDArray[np.float64]) -> tuple[float, float, float, float]:
    lo, hi = points.min(axis=0), points.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def _attach(store: ProjectStore, folder: Path, clip: Clip, placed: list[tuple[_Item, int]], broken: list[Broken],
            progress: Progress | None) -> ImportSummary:
    with store.transaction():
        person = new_person(store, folder.name)
        nxt = next_indices(store, clip.id)
        faces: list[NewFace] = []
        for it, frame in placed:
            m = it.meta
            assert m.image_to_face_mat is not None
            inv = invert_alignment(m.image_to_face_mat)
            lm = transform_points(m.landmarks, inv)
            idx = nxt.get(frame, 0)
            nxt[frame] = idx + 1
            faces.append(NewFace(clip.id, frame, idx, m.source_rect or _box(lm), 1.0, lm.astype(np.float32),
                                 m.face_type, it.side, m.image_to_face_mat, person_id=person,  # type: ignore[arg-type]
                                 **landmark_columns(lm, (clip.width, clip.height))))
        ids = insert_faces(store, faces)
        labels, preds = {}, []
        for k, ((it, _), face_id) in enumerate(zip(placed, ids, strict=True)):
            rel = crop_path(face_id)
            write_crop(store.root, rel, it.data)
            store.connection.execute("UPDATE faces SET crop_path = ? WHERE id = ?", (rel, face_id))
            if it.meta.polys:
                inv = invert_alignment(it.meta.image_to_face_mat)
                labels[face_id] = label_from_polys([(p.kind, p.points) for p in it.meta.polys], inv)
            if it.meta.xseg_mask is not None:
                preds.append((face_id, decode_mask(it.meta.xseg_mask), it.meta.face_type))
            if progress is not None and k % 500 == 0:
                progress(0.6 + 0.4 * k / len(placed), f"storing {k}/{len(placed)}")
        n_labels = put_labels(store, labels)
        n_preds = put_foreign_predictions(store, preds)  # type: ignore[arg-type]
    return ImportSummary(clip.id, clip.name, len(ids), n_labels, n_preds, person, False, tuple(broken))


def _unique_clip_name(store: ProjectStore, stem: str) -> str:
    taken = {c.name for c in store.clips()}
    name, n = stem, 1
    while name in taken or (store.root / IMPORTS_DIR / name).exists():
        n += 1
        name = f"{stem}_{n}"
    return name


def _faceset(store: ProjectStore, folder: Path, items: list[_Item], broken: list[Broken], role: str, stem: str,
             progress: Progress | None) -> ImportSummary:
    name = _unique_clip_name(store, stem)
    rel_dir = f"{IMPORTS_DIR}/{name}"
    dest = layout.inside(store.root, rel_dir)
    dest.mkdir(parents=True)
    try:
        rels = []
        for k, it in enumerate(items):
            rel = f"{rel_dir}/{it.path.name}"  # a plain file name (from iterdir): stays in dest
            (dest / it.path.name).write_bytes(it.data)
            rels.append(rel)
            if progress is not None and k % 500 == 0:
                progress(0.6 + 0.2 * k / len(items), f"copying {k}/{len(items)}")
        digest = hashlib.sha1()
        for it in items:
            digest.update(it.path.name.encode() + b"\0" + hashlib.sha1(it.data).digest())
        side = max(it.side for it in items)
        n = len(items)
        new = NewClip(name, role, dest, sum(len(it.data) for it in items), "faceset:" + digest.hexdigest(),  # type: ignore[arg-type]
                      side, side, FACESET_FPS, n, n / float(FACESET_FPS), 0, "dfl-faceset", 0, None, kind="faceset")
        with store.transaction() as c:
            (clip,), _ = store.insert_clips([new])
            c.executemany("INSERT INTO clip_images (clip_id, frame, path, width, height, size_bytes, orientation) "
                          "VALUES (?, ?, ?, ?, ?, ?, 1)",
                          [(clip.id, i, rel, it.side, it.side, len(it.data)) for i, (it, rel) in enumerate(zip(items, rels))])
            person = new_person(store, stem)
            identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
            faces = [NewFace(clip.id, i, 0, _box(it.meta.landmarks), 1.0, it.meta.landmarks.astype(np.float32),
                             it.meta.face_type, it.side, identity, person_id=person, crop_path=rel,  # type: ignore[arg-type]
                             **landmark_columns(it.meta.landmarks, (it.side, it.side)))
                     for i, (it, rel) in enumerate(zip(items, rels))]
            ids = insert_faces(store, faces)
            labels = {fid: label_from_polys([(p.kind, p.points) for p in it.meta.polys])
                      for it, fid in zip(items, ids) if it.meta.polys}
            preds = [(fid, decode_mask(it.meta.xseg_mask), it.meta.face_type)
                     for it, fid in zip(items, ids) if it.meta.xseg_mask is not None]
            n_labels = put_labels(store, labels)
            n_preds = put_foreign_predictions(store, preds)  # type: ignore[arg-type]
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return ImportSummary(clip.id, name, len(ids), n_labels, n_preds, person, True, tuple(broken))
