"""Face overrides: merge settings one face (or a selection) gets over its clip's settings
and keys (docs/CONTEXT.md, "face override").

A hand crosses the mouth on three frames: those three faces get a larger erode without
keying the whole clip. Overrides live in the ``face_overrides`` table as a JSON object
holding only the settings they change; :class:`engine.merge.keys.KeyedSettings` applies
them last, so an override wins over every key. "Don't swap" is not an override setting
but the face's ``swap_excluded`` flag ("not swapped"), which the merge already honours:
:func:`dont_swap` sets it.

The keyable settings (:data:`engine.merge.keys.KEYABLE`) are the overridable ones, checked
like keys; a bad value is refused naming the setting and its range, and nothing is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from engine.merge.keys import MergeKeyError, check_value
from engine.project.changes import ChangeSet, RowChange

if TYPE_CHECKING:
    from engine.project.store import ProjectStore


def clip_overrides(store: ProjectStore, clip_id: int) -> dict[int, dict[str, Any]]:
    """face id -> its override, for the faces of ``clip_id`` that have one."""
    rows = store.query("SELECT o.face_id, o.settings FROM face_overrides o JOIN faces f ON f.id = o.face_id "
                       "WHERE f.clip_id = ?", (int(clip_id),))
    return {int(r["face_id"]): json.loads(r["settings"]) for r in rows}


def face_override(store: ProjectStore, face_id: int) -> dict[str, Any]:
    text = store.scalar("SELECT settings FROM face_overrides WHERE face_id = ?", (int(face_id),))
    return {} if text is None else json.loads(text)


def set_override(store: ProjectStore, face_ids: Iterable[int], values: Mapping[str, Any]) -> ChangeSet:
    """Give faces ``values`` (setting -> value) on top of what they override already:
    one undoable change set."""
    ids = sorted({int(i) for i in face_ids})
    if not ids or not values:
        raise MergeKeyError("face override: give at least one face and one SETTING=VALUE")
    checked = {s: check_value(s, v) for s, v in values.items()}
    known = {int(r[0]) for r in store.query(f"SELECT id FROM faces WHERE id IN ({','.join('?' * len(ids))})", ids)}
    missing = sorted(set(ids) - known)
    if missing:
        raise MergeKeyError(f"face override: no face {', '.join(map(str, missing))} in the project")
    changes: list[RowChange] = []
    with store.transaction() as c:
        for face_id in ids:
            old = c.execute("SELECT id, settings FROM face_overrides WHERE face_id = ?", (face_id,)).fetchone()
            if old is None:
                text = json.dumps(checked, sort_keys=True)
                cur = c.execute("INSERT INTO face_overrides (face_id, settings) VALUES (?, ?)", (face_id, text))
                changes.append(RowChange("face_overrides", int(cur.lastrowid), None,
                                         {"face_id": face_id, "settings": text}))
            else:
                text = json.dumps({**json.loads(old["settings"]), **checked}, sort_keys=True)
                if text != old["settings"]:
                    c.execute("UPDATE face_overrides SET settings = ? WHERE id = ?", (text, old["id"]))
                    changes.append(RowChange("face_overrides", int(old["id"]), {"settings": old["settings"]},
                                             {"settings": text}))
    n = len(ids)
    return ChangeSet(tuple(changes), {}, f"Override {', '.join(checked)} of {n} face{'s' if n != 1 else ''}")


def clear_override(store: ProjectStore, face_ids: Iterable[int], settings: Iterable[str] | None = None) -> ChangeSet:
    """Drop the faces' overrides (of ``settings``, or all): one undoable change set."""
    ids = sorted({int(i) for i in face_ids})
    drop = None if settings is None else set(settings)
    changes: list[RowChange] = []
    with store.transaction() as c:
        for face_id in ids:
            old = c.execute("SELECT * FROM face_overrides WHERE face_id = ?", (face_id,)).fetchone()
            if old is None:
                continue
            values = json.loads(old["settings"])
            kept = {} if drop is None else {k: v for k, v in values.items() if k not in drop}
            if kept == values:
                continue
            if kept:
                text = json.dumps(kept, sort_keys=True)
                c.execute("UPDATE face_overrides SET settings = ? WHERE id = ?", (text, old["id"]))
                changes.append(RowChange("face_overrides", int(old["id"]), {"settings": old["settings"]},
                                         {"settings": text}))
            else:
                c.execute("DELETE FROM face_overrides WHERE id = ?", (old["id"],))
                changes.append(RowChange("face_overrides", int(old["id"]),
                                         {"face_id": face_id, "settings": old["settings"]}, None))
    return ChangeSet(tuple(changes), {}, f"Clear the override of {len(changes)} face(s)")


def dont_swap(store: ProjectStore, face_ids: Iterable[int], on: bool = True) -> ChangeSet:
    """Mark faces "not swapped" (or swap them again): the per-face "don't swap" override."""
    return store.set_swap_excluded(face_ids, on)
