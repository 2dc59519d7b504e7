"""Face sets out of a project, and faces deleted for good.

**Export** writes the chosen faces (selected ids, or a person's faces) to a folder as
aligned images (the face crops extraction made, at their face type and size) with one
JSON file of metadata: for every face its source clip and frame, box, landmarks in the
frame and in the aligned image, the alignment matrix, pose and person, so another tool
(or a later import) can use the set without this project. A folder that already holds
files is refused rather than mixed into.

**Delete** removes face rows (and their masks), not only excludes them, as one undoable
change set: the crop files stay on disk while the project is open, so undo brings the
faces back whole; :func:`purge_orphan_crops` removes crops no face row names any more
(the editor runs it for the faces it deleted when the project closes).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import FacesmithError
from engine.project import layout
from engine.project.changes import ChangeSet
from engine.project.store import ProjectStore

__all__ = ["delete_faces", "deleted_crops", "export_faces", "faces_of_person", "purge_orphan_crops"]

METADATA_FILE = "facesmith_faces.json"


def faces_of_person(store: ProjectStore, person_id: int) -> list[int]:
    names = {p.id: p.name for p in store.persons()}
    if person_id not in names:
        raise FacesmithError(f"no person with id {person_id}")
    ids = [int(r[0]) for r in store.query("SELECT id FROM faces WHERE person_id = ? ORDER BY id", (person_id,))]
    if not ids:
        raise FacesmithError(f"person {person_id} ({names[person_id]}) has no faces")
    return ids


def _crop_matrix(face: Any) -> np.ndarray:
    return np.asarray(face.alignment, dtype=np.float64).reshape(2, 3)


def export_faces(store: ProjectStore, face_ids: Iterable[int], folder: str | Path) -> Path:
    """Write the faces' aligned images and :data:`METADATA_FILE` to ``folder``; returns it."""
    ids = sorted({int(i) for i in face_ids})
    if not ids:
        raise FacesmithError("no faces to export: select faces or name a person")
    out = Path(folder).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FacesmithError(f"{out}: {'is a file' if not out.is_dir() else 'is not empty'}; "
                             "export into a new or empty folder")
    faces = store.faces(ids=ids)
    if len(faces) != len(ids):
        missing = sorted(set(ids) - {f.id for f in faces})
        raise FacesmithError(f"no face with id {missing[0]}")
    clips = {c.id: c for c in store.clips()}
    persons = {p.id: p.name for p in store.persons()}
    sources = []
    for f in faces:
        src = layout.inside(store.root, f.crop_path) if f.crop_path else None
        if src is None or not src.is_file():
            raise FacesmithError(f"face {f.id}: its aligned image is missing ({src}); re-extract the clip")
        sources.append(src)
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    records = []
    for f, src in zip(faces, sources, strict=True):
        clip = clips[f.clip_id]
        name = f"{clip.name}_{f.frame:06d}_{f.idx}.jpg"
        shutil.copyfile(src, tmp / name)
        m = _crop_matrix(f)
        lms = np.asarray(f.landmarks, dtype=np.float64)
        aligned = lms @ m[:, :2].T + m[:, 2] if lms.size else lms
        records.append({
            "file": name, "face_id": f.id, "clip": clip.name, "clip_kind": clip.kind, "role": clip.role,
            "source": str(clip.path), "frame": f.frame, "index": f.idx, "box": [float(v) for v in f.box],
            "face_type": f.face_type, "size": f.crop_size, "alignment": m.tolist(),
            "landmarks": lms.tolist(), "aligned_landmarks": np.asarray(aligned).tolist(),
            "yaw": f.yaw, "pitch": f.pitch, "roll": f.roll, "sharpness": f.sharpness,
            "person_id": f.person_id, "person": persons.get(f.person_id) if f.person_id is not None else None,
            "excluded": f.excluded, "swap_excluded": f.swap_excluded,
        })
    (tmp / METADATA_FILE).write_text(json.dumps({"project": store.name, "faces": records}, indent=1),
                                     encoding="utf-8")
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    return out


def delete_faces(store: ProjectStore, face_ids: Iterable[int]) -> ChangeSet:
    """Delete faces (and their masks) as one undoable change set; crop files stay for undo."""
    ids = sorted({int(i) for i in face_ids})
    if not ids:
        raise FacesmithError("select the faces to delete first")
    marks = ", ".join("?" * len(ids))
    found = [int(r[0]) for r in store.query(f"SELECT id FROM faces WHERE id IN ({marks})", ids)]
    if len(found) != len(ids):
        raise FacesmithError(f"no face with id {sorted(set(ids) - set(found))[0]}")
    with store.transaction():
        masks = [int(r[0]) for r in store.query(f"SELECT id FROM masks WHERE face_id IN ({marks})", ids)]
        cs = store.delete_rows("masks", masks).merged(store.delete_rows("faces", ids))
    return ChangeSet(cs.rows, {}, f"Delete {len(ids)} face{'s' if len(ids) != 1 else ''}")


def deleted_crops(changes: ChangeSet) -> set[str]:
    """The crop paths of the faces a :func:`delete_faces` change set deleted."""
    return {str(r.before["crop_path"]) for r in changes.rows
            if r.table == "faces" and r.after is None and r.before and r.before.get("crop_path")}


def purge_orphan_crops(store: ProjectStore, candidates: Iterable[str]) -> int:
    """Remove those of the crop files ``candidates`` (relative paths, from
    :func:`deleted_crops`) that no face row names any more; returns how many.

    Only named candidates are looked at, never the whole ``faces/`` folder: a running
    extraction writes a crop just before its face row, and must not lose it.
    """
    wanted = sorted(set(candidates))
    if not wanted:
        return 0
    marks = ", ".join("?" * len(wanted))
    named = {str(r[0]) for r in store.query(f"SELECT crop_path FROM faces WHERE crop_path IN ({marks})", wanted)}
    removed = 0
    for rel in wanted:
        if rel in named:
            continue
        path = layout.inside(store.root, rel)
        if path.is_file():
            path.unlink()
            removed += 1
    return removed
