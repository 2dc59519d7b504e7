"""Re-extracting a range or a clip with other settings, keeping what the user made.

Kept, untouched: faces added by hand or by "Track this face" (``source`` manual or
tracked), faces whose landmarks the user moved (``landmarks_edited``), faces with a
mask, and everything about persons (names, wanted flags: person rows are never
deleted here). Replaced: the other, plain detected faces of the range. A new face that
sits where a replaced one was (box overlap) inherits that face's person, so persons the
user reassigned stay assigned; a new face that sits on a kept face is dropped (the
user's face wins).

How, so that a crash at any point leaves a project the next run finishes: first the
replaced faces are deleted and the range's ``scanned_frames`` rows with them (one
transaction; the scan then sees those frames as not done), kept faces move to face
numbers from :data:`KEPT_IDX` on (new detections are numbered 0.. as always); after
the scan :func:`finish_redo` drops new faces on top of kept ones, hands persons over
and numbers each frame's faces 0.. again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from engine.faces.tracks import box_iou
from engine.project.models import Clip
from engine.project.store import ProjectStore

#: Kept faces are renumbered from here while their frames are rescanned.
KEPT_IDX: Final = 1000
_KEEP: Final = ("source != 'detected' OR landmarks_edited = 1 "
                "OR id IN (SELECT face_id FROM masks)")


@dataclass
class RedoPlan:
    """What :func:`prepare_redo` removed, for :func:`finish_redo` to hand over."""

    replaced: dict[int, list[tuple[int, tuple[float, float, float, float], int | None]]] = field(
        default_factory=dict)  # clip -> [(frame, box, person_id)]
    kept: int = 0
    removed: int = 0


def prepare_redo(store: ProjectStore, clips: Sequence[Clip], start: int | None, stop: int | None) -> RedoPlan:
    """Remove the replaceable faces of the range and mark its frames as not scanned."""
    plan = RedoPlan()
    with store.transaction() as c:
        for clip in clips:
            lo = clip.in_frame if start is None else start
            hi = clip.frame_range[1] if stop is None else stop
            rows = c.execute(f"SELECT id, frame, x0, y0, x1, y1, person_id, ({_KEEP}) FROM faces "
                             "WHERE clip_id = ? AND frame >= ? AND frame < ?", (clip.id, lo, hi)).fetchall()
            gone = [r for r in rows if not r[7]]
            plan.replaced[clip.id] = [(r[1], (r[2], r[3], r[4], r[5]), r[6]) for r in gone]
            plan.removed += len(gone)
            plan.kept += len(rows) - len(gone)
            c.executemany("DELETE FROM faces WHERE id = ?", [(r[0],) for r in gone])
            c.execute("UPDATE faces SET idx = idx + ? WHERE clip_id = ? AND frame >= ? AND frame < ? AND idx < ?",
                      (KEPT_IDX, clip.id, lo, hi, KEPT_IDX))
            c.execute("DELETE FROM scanned_frames WHERE clip_id = ? AND frame >= ? AND frame < ?", (clip.id, lo, hi))
    return plan


def finish_redo(store: ProjectStore, plan: RedoPlan, new_ids: Sequence[int]) -> int:
    """After the scan: drop new faces on kept ones, inherit persons, renumber; returns
    how many new faces were dropped."""
    new = set(new_ids)
    dropped: list[int] = []
    persons: dict[int, int] = {}
    with store.transaction() as c:
        for clip_id, replaced in plan.replaced.items():
            by_frame: dict[int, list[tuple[tuple[float, ...], int | None]]] = {}
            for frame, box, person in replaced:
                by_frame.setdefault(frame, []).append((box, person))
            rows = c.execute("SELECT id, frame, x0, y0, x1, y1, idx FROM faces WHERE clip_id = ? AND idx >= ?",
                             (clip_id, KEPT_IDX)).fetchall()
            kept_frames: dict[int, list[tuple[float, ...]]] = {}
            for r in rows:
                kept_frames.setdefault(r[1], []).append(tuple(r[2:6]))
            frames = set(by_frame) | set(kept_frames)
            if not frames:
                continue
            marks = ", ".join("?" * len(frames))
            fresh = c.execute(f"SELECT id, frame, x0, y0, x1, y1 FROM faces WHERE clip_id = ? AND idx < ? "
                              f"AND frame IN ({marks})", [clip_id, KEPT_IDX, *frames]).fetchall()
            for r in fresh:
                if r[0] not in new:
                    continue
                box = [tuple(r[2:6])]
                if r[1] in kept_frames and box_iou(box, kept_frames[r[1]]).max() > 0.4:
                    dropped.append(r[0])
                    continue
                old = by_frame.get(r[1], [])
                if old:
                    overlap = box_iou(box, [b for b, _ in old])[0]
                    best = int(np.argmax(overlap))
                    if overlap[best] > 0.3 and old[best][1] is not None:
                        persons[r[0]] = old[best][1]
            c.executemany("DELETE FROM faces WHERE id = ?", [(i,) for i in dropped])
            c.executemany("UPDATE faces SET person_id = ? WHERE id = ?", [(p, i) for i, p in persons.items()])
            # Number each frame's faces 0.. again (via negative numbers: idx is unique per frame).
            for frame in frames:
                ids = [r[0] for r in c.execute("SELECT id FROM faces WHERE clip_id = ? AND frame = ? ORDER BY "
                                               "idx >= ?, idx", (clip_id, frame, KEPT_IDX))]
                c.executemany("UPDATE faces SET idx = ? WHERE id = ?", [(-1 - k, i) for k, i in enumerate(ids)])
                c.executemany("UPDATE faces SET idx = ? WHERE id = ?", [(k, i) for k, i in enumerate(ids)])
                c.execute("UPDATE scanned_frames SET face_count = ? WHERE clip_id = ? AND frame = ?",
                          (len(ids), clip_id, frame))
    return len(dropped)
