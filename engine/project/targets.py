"""Merge targets and "don't swap here" ranges: which faces of a dst clip a merge swaps.

The training set (``faces.excluded``) and what a merge swaps are separate questions
(docs/CONTEXT.md). A face is swapped when all of these hold:

- it is not marked "not swapped" (``faces.swap_excluded``);
- its frame is outside the clip's swap ranges (``swap_ranges``, "don't swap here");
- the clip has no merge targets, or the face's person or track is one of them
  (``merge_targets``); a render may name persons instead (``--person``), which then
  replace the clip's saved targets for that render.

Every edit here returns one undoable :class:`ChangeSet`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.errors import FacesmithError
from engine.project.changes import ChangeSet
from engine.project.models import Clip, Face
from engine.project.store import ProjectStore

__all__ = ["SwapFilter", "add_swap_range", "remove_swap_ranges", "set_targets", "swap_filter", "swap_ranges",
           "target_persons", "target_tracks", "check_persons"]


@dataclass(frozen=True)
class SwapFilter:
    """Which faces of one clip a merge swaps (see the module docstring).

    ``persons``/``tracks`` None: no targets chosen, every face is a candidate.
    """

    persons: frozenset[int] | None = None
    tracks: frozenset[int] = frozenset()
    ranges: tuple[tuple[int, int], ...] = ()

    def frame_swapped(self, frame: int) -> bool:
        return not any(a <= frame < b for a, b in self.ranges)

    def wants(self, face: Face) -> bool:
        if face.swap_excluded or not self.frame_swapped(face.frame):
            return False
        if self.persons is None:
            return True
        return face.person_id in self.persons or (face.track_id is not None and face.track_id in self.tracks)

    def describe(self) -> str:
        what = "every face" if self.persons is None else (
            ", ".join([f"person {p}" for p in sorted(self.persons)] + [f"track {t}" for t in sorted(self.tracks)])
            or "nothing")
        if self.ranges:
            what += " except frames " + ", ".join(f"{a}:{b}" for a, b in self.ranges)
        return what


def target_persons(store: ProjectStore, clip_id: int) -> list[int]:
    return [int(r[0]) for r in store.query(
        "SELECT person_id FROM merge_targets WHERE clip_id = ? AND person_id IS NOT NULL ORDER BY person_id",
        (clip_id,))]


def target_tracks(store: ProjectStore, clip_id: int) -> list[int]:
    return [int(r[0]) for r in store.query(
        "SELECT track_id FROM merge_targets WHERE clip_id = ? AND track_id IS NOT NULL ORDER BY track_id",
        (clip_id,))]


def swap_ranges(store: ProjectStore, clip_id: int) -> list[tuple[int, int, int]]:
    """``(id, start, stop)`` of the clip's "don't swap here" ranges, by start."""
    return [(int(r[0]), int(r[1]), int(r[2])) for r in store.query(
        "SELECT id, start, stop FROM swap_ranges WHERE clip_id = ? ORDER BY start, id", (clip_id,))]


def check_persons(store: ProjectStore, clip: Clip, persons: Sequence[int]) -> None:
    """Refuse persons that do not exist or have no face in ``clip``, naming them."""
    names = {p.id: p.name for p in store.persons()}
    for pid in persons:
        if pid not in names:
            raise FacesmithError(f"no person with id {pid} (persons: "
                                 f"{', '.join(f'{i} {n}' for i, n in names.items()) or 'none'})")
        n = int(store.scalar("SELECT count(*) FROM faces WHERE clip_id = ? AND person_id = ?", (clip.id, pid)))
        if n == 0:
            raise FacesmithError(f"person {pid} ({names[pid]}) has no faces in clip '{clip.name}'")


def swap_filter(store: ProjectStore, clip: Clip, persons: Sequence[int] | None = None) -> SwapFilter:
    """The filter a merge of ``clip`` uses; ``persons`` (a render's ``--person``) replace
    the clip's saved targets."""
    ranges = tuple((a, b) for _, a, b in swap_ranges(store, clip.id))
    if persons:
        return SwapFilter(frozenset(int(p) for p in persons), frozenset(), ranges)
    chosen, tracks = target_persons(store, clip.id), target_tracks(store, clip.id)
    if not chosen and not tracks:
        return SwapFilter(None, frozenset(), ranges)
    return SwapFilter(frozenset(chosen), frozenset(tracks), ranges)


def set_targets(store: ProjectStore, clip: Clip, persons: Iterable[int], tracks: Iterable[int] = ()) -> ChangeSet:
    """Make ``persons`` and ``tracks`` the clip's merge targets (none: swap every face)."""
    persons, tracks = sorted(set(int(p) for p in persons)), sorted(set(int(t) for t in tracks))
    if persons:
        check_persons(store, clip, persons)
    rows = store.query("SELECT id, person_id, track_id FROM merge_targets WHERE clip_id = ?", (clip.id,))
    have_p = {int(r[1]): int(r[0]) for r in rows if r[1] is not None}
    have_t = {int(r[2]): int(r[0]) for r in rows if r[2] is not None}
    with store.transaction():
        changes = store.delete_rows("merge_targets", [i for p, i in have_p.items() if p not in persons]
                                    + [i for t, i in have_t.items() if t not in tracks])
        for p in persons:
            if p not in have_p:
                changes = changes.merged(store.insert_row("merge_targets", {"clip_id": clip.id, "person_id": p})[1])
        for t in tracks:
            if t not in have_t:
                changes = changes.merged(store.insert_row("merge_targets", {"clip_id": clip.id, "track_id": t})[1])
    what = ", ".join(str(p) for p in persons) if persons or tracks else "every face"
    return ChangeSet(changes.rows, {}, f"Swap in {clip.name}: {what}")


def add_swap_range(store: ProjectStore, clip: Clip, start: int, stop: int) -> ChangeSet:
    """Mark frames ``start:stop`` of ``clip`` "don't swap here"."""
    if not 0 <= start < stop <= clip.frame_count:
        raise FacesmithError(f"range {start}:{stop} is outside clip '{clip.name}' (0:{clip.frame_count})")
    _, cs = store.insert_row("swap_ranges", {"clip_id": clip.id, "start": int(start), "stop": int(stop)},
                             label=f"Don't swap {clip.name} {start}:{stop}")
    return cs


def remove_swap_ranges(store: ProjectStore, clip: Clip, frame: int | None = None) -> ChangeSet:
    """Remove the clip's swap ranges covering ``frame`` (all of them when None)."""
    ids = [i for i, a, b in swap_ranges(store, clip.id) if frame is None or a <= frame < b]
    cs = store.delete_rows("swap_ranges", ids)
    return ChangeSet(cs.rows, {}, f"Swap {clip.name} again" + ("" if frame is None else f" at frame {frame}"))
