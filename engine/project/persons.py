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
    """Keep only ``person_id`` within its role and clips: other dst faces there are marked
    "not swapped", other src faces leave the training set; the other role is untouched
    (see :mod:`engine.curation.keep`, which also says what it will do beforehand)."""
    from engine.curation.keep import apply, plan_keep_person

    return apply(store, plan_keep_person(store, person_id, role=role))


def exclude_all_but_best(store: ProjectStore, target: int, *, role: str | None = None,
                         person_id: int | None = None) -> ChangeSet:
    """DeepFaceLab's "final" sort as an edit: keep ``target`` faces of the ``role``
    training set (src by default) spread over poses, the sharpest in each."""
    from engine.curation.keep import apply, plan_best_faces

    return apply(store, plan_best_faces(store, target, role=role or "src", person_id=person_id))


def face_count(store: ProjectStore, person_id: int) -> int:
    return int(store.scalar("SELECT count(*) FROM faces WHERE person_id = ?", (person_id,)))


__all__ = ["exclude_all_but_best", "face_count", "keep_person", "merge_persons", "split_faces"]
