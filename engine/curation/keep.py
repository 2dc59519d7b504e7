"""Keep Only Selected Person and Keep Best Faces, per role, planned before they are applied.

Both used to flip the one ``excluded`` flag over every role, so keeping a dst person
also emptied the src training set (and best faces left dst faces unswapped). Now each
acts on one role and says what it will do before it does it:

- **keep person** acts within the person's role and the clips the person appears in:
  for a dst person the other faces there are marked "not swapped" (the merge leaves
  them); for a src person they leave the training set. The other role is untouched.
- **best faces** thins the src training set (or the role the user picks): it only ever
  sets ``excluded`` (the training set), never "not swapped".

A plan's ``text`` is what the editor shows in its confirmation ("exclude 41 faces of 2
other dst persons from the swap; src untouched"); :func:`apply` makes it one undoable
change set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import FacesmithError
from engine.project.changes import ChangeSet
from engine.project.store import ProjectStore

__all__ = ["KeepPlan", "apply", "plan_best_faces", "plan_keep_person", "person_roles"]

_OTHER = {"src": "dst", "dst": "src"}


@dataclass(frozen=True)
class KeepPlan:
    """What a keep action will change: ``column`` set to 1 on ``face_ids``."""

    role: str
    column: str  # 'excluded' (training set) or 'swap_excluded' (not swapped)
    face_ids: tuple[int, ...]
    text: str
    label: str
    wanted_person: int | None = None
    others: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.face_ids


def _s(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def person_roles(store: ProjectStore, person_id: int) -> dict[str, int]:
    """role -> how many faces the person has in clips of that role."""
    rows = store.query("SELECT c.role, count(*) FROM faces f JOIN clips c ON c.id = f.clip_id "
                       "WHERE f.person_id = ? GROUP BY c.role", (person_id,))
    return {str(r[0]): int(r[1]) for r in rows}


def plan_keep_person(store: ProjectStore, person_id: int, *, role: str | None = None) -> KeepPlan:
    """Plan keeping only ``person_id`` within its role and clips (see the module doc).

    ``role`` is needed only when the person has faces in both roles. Refused, with the
    reason, when the person does not exist or has no faces in the role.
    """
    names = {p.id: p.name for p in store.persons()}
    if person_id not in names:
        raise FacesmithError(f"no person with id {person_id}")
    name = names[person_id]
    roles = person_roles(store, person_id)
    if role is None:
        if len(roles) > 1:
            raise FacesmithError(f"person {person_id} ({name}) has faces in src and dst clips; say which role "
                                 "to keep it in")
        if not roles:
            raise FacesmithError(f"person {person_id} ({name}) has no faces; nothing to keep")
        role = next(iter(roles))
    if role not in _OTHER:
        raise FacesmithError(f"unknown role {role!r}; use 'src' or 'dst'")
    if not roles.get(role):
        raise FacesmithError(f"person {person_id} ({name}) has no {role} faces; keeping it would leave "
                             f"no {role} face")
    column = "swap_excluded" if role == "dst" else "excluded"
    clips = [int(r[0]) for r in store.query(
        "SELECT DISTINCT f.clip_id FROM faces f JOIN clips c ON c.id = f.clip_id "
        "WHERE f.person_id = ? AND c.role = ? ORDER BY f.clip_id", (person_id, role))]
    marks = ", ".join("?" * len(clips))
    rows = store.query(f"SELECT id, person_id FROM faces WHERE clip_id IN ({marks}) AND {column} = 0 "
                       "AND (person_id IS NULL OR person_id != ?) ORDER BY id", (*clips, person_id))
    ids = tuple(int(r[0]) for r in rows)
    others = {int(r[1]) for r in rows if r[1] is not None}
    unassigned = sum(1 for r in rows if r[1] is None)
    whose = []
    if others:
        whose.append(_s(len(others), f"other {role} person"))
    if unassigned:
        whose.append(f"{unassigned} with no person")
    where = "the swap" if role == "dst" else "the src training set"
    clip_names = {c.id: c.name for c in store.clips()}
    in_clips = ", ".join(clip_names[c] for c in clips)
    if ids:
        text = (f"exclude {_s(len(ids), 'face')} of {' and '.join(whose)} from {where} (in {in_clips}); "
                f"{_OTHER[role]} untouched")
    else:
        text = f"nothing to exclude: {name} is the only {role} person left in {in_clips}; {_OTHER[role]} untouched"
    return KeepPlan(role, column, ids, text, f"Keep only {name} ({role}): exclude {len(ids)} faces", person_id,
                    tuple(sorted(others)))


def plan_best_faces(store: ProjectStore, target: int, *, role: str = "src", person_id: int | None = None) -> KeepPlan:
    """Plan keeping the best ``target`` faces of ``role``'s training set (see the module doc)."""
    from engine.curation.best_faces import pick_best

    if role not in _OTHER:
        raise FacesmithError(f"unknown role {role!r}; use 'src' or 'dst'")
    if target < 1:
        raise FacesmithError(f"keep at least one face (asked for {target})")
    cols = store.face_columns()
    keep = ~cols["excluded"] & (cols["role"] == (1 if role == "dst" else 0))
    if person_id is not None:
        keep &= cols["person_id"] == person_id
    ids = cols["id"][keep]
    if len(ids) == 0:
        raise FacesmithError(f"the {role} training set has no faces" + (f" of person {person_id}" if person_id
                                                                          is not None else ""))
    kept = pick_best(ids, cols["yaw"][keep], cols["pitch"][keep], cols["sharpness"][keep], target)
    drop = tuple(int(i) for i in np.setdiff1d(ids, kept))
    text = (f"exclude {_s(len(drop), 'face')} from the {role} training set, keeping the best {len(kept)} "
            f"of {len(ids)}; {_OTHER[role]} and the swap untouched")
    return KeepPlan(role, "excluded", drop, text, f"Keep best {len(kept)} {role} faces (exclude {len(drop)})")


def apply(store: ProjectStore, plan: KeepPlan) -> ChangeSet:
    """Carry out ``plan`` as one undoable change set."""
    with store.transaction():
        cs = store.update_rows("faces", {i: {plan.column: 1} for i in plan.face_ids})
        if plan.wanted_person is not None:
            flags = {p: {"wanted": 0} for p in plan.others} | {plan.wanted_person: {"wanted": 1}}
            cs = cs.merged(store.update_rows("persons", flags))
    return ChangeSet(cs.rows, {}, plan.label)
