"""Person management as undoable edits: merge, split, keep one person, best faces.

Each function returns one ChangeSet with the rows before and after (faces' person and
excluded flags, persons inserted or deleted), so the editor's undo restores everything,
including a deleted person's name.
"""

from __future__ import annotations

import time
from collections.abc import Iterable


from engine.errors import FacesmithError
from engine.project.changes import ChangeSet
from engine.project.store import ProjectStore


def _faces_of(store: ProjectStore, person_ids: Iterable[int]) -> list[int]:
    ids = list(person_ids)
    if not ids:
        return []
    return [r[0] for r in store.query(f"SELECT id FROM faces WHERE person_id IN ({', '.join('?' * len(ids))})", ids)]


def merge_persons(store: ProjectStore, sources: Iterable[int], target: int) -> ChangeSet:
    """Move the faces of ``sources`` to ``target`` and delete the emptied persons."""
    sources = [p for p in dict.fromkeys(sources) if p != target]
    names = {p.id: p.name for p in store.persons()}
    missing = [p for p in [*sources, target] if p not in names]
    if missing:
        raise FacesmithError(f"no person with id {missing[0]}")
    if not sources:
        return ChangeSet()
    with store.transaction():
        moved = store.update_rows("faces", {f: {"person_id": target} for f in _faces_of(store, sources)})
        deleted = store.delete_rows("persons", sources)
    label = f"Merge {', '.join(names[s] for s in sources)} into {names[target]}"
    return moved.merged(deleted, label=label)


def split_faces(store: ProjectStore, face_ids: Iterable[int], name: str) -> tuple[int, ChangeSet]:
    """Give the selected faces a new person named ``name``."""
    faces = sorted(set(face_ids))
    if not faces:
        raise FacesmithError("select the faces to split off first")
    with store.transaction():
        person_id, created = store.insert_row("persons", {"name": name, "wanted": 0, "created_at": time.time()})
        moved = store.update_rows("faces", {f: {"person_id": person_id} for f in faces})
    return person_id, created.merged(moved, label=f"Split {len(faces)} faces into {name}")


def keep_person(store: ProjectStore, person_id: int, *, role: str | None = None) -> ChangeSet:
    """Mark ``person_id`` as the wanted one and exclude every face of other persons
    (and faces with no person) — of clips of ``role`` when given."""
    persons = store.persons()
    if person_id not in {p.id for p in persons}:
        raise FacesmithError(f"no person with id {person_id}")
    sql = ("SELECT f.id FROM faces f JOIN clips c ON c.id = f.clip_id WHERE f.excluded = 0 "
           "AND (f.person_id IS NULL OR f.person_id != ?)" + (" AND c.role = ?" if role else ""))
    others = [r[0] for r in store.query(sql, (person_id, role) if role else (person_id,))]
    name = next(p.name for p in persons if p.id == person_id)
    with store.transaction():
        flags = store.update_rows("persons", {p.id: {"wanted": int(p.id == person_id)} for p in persons})
        excluded = store.update_rows("faces", {f: {"excluded": 1} for f in others})
    return flags.merged(excluded, label=f"Keep only {name} (exclude {len(others)} faces)")


def exclude_all_but_best(store: ProjectStore, target: int, *, role: str | None = None,
                         person_id: int | None = None) -> ChangeSet:
    """DeepFaceLab's "final" sort as an edit: keep ``target`` faces spread over poses,
    the sharpest in each, and exclude the rest (of the role / person given)."""
    from engine.curation.best_faces import pick_best

    cols = store.face_columns()
    keep = ~cols["excluded"]
    if role is not None:
        keep &= cols["role"] == (1 if role == "dst" else 0)
    if person_id is not None:
        keep &= cols["person_id"] == person_id
    ids = cols["id"][keep]
    kept = set(int(i) for i in pick_best(ids, cols["yaw"][keep], cols["pitch"][keep], cols["sharpness"][keep], target))
    drop = [int(i) for i in ids if int(i) not in kept]
    cs = store.set_excluded(drop, True)
    return ChangeSet(cs.rows, {}, f"Keep best {len(kept)} faces (exclude {len(drop)})")


def face_count(store: ProjectStore, person_id: int) -> int:
    return int(store.scalar("SELECT count(*) FROM faces WHERE person_id = ?", (person_id,)))


__all__ = ["exclude_all_but_best", "face_count", "keep_person", "merge_persons", "split_faces"]
