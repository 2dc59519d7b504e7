"""Which faces a mask job works on, and which mask a face has.

:func:`best_mask` is the one rule every consumer (swap training, merging, the editor's
overlay) follows, so they can never disagree about a face's mask:

1. its **label** (a keyframe: what the user drew always wins);
2. a **prediction** of the chosen XSeg model (or, with no model named, the most recent
   prediction of any model);
3. a **propagated** mask from the keyframes around it on its track, when confident
   enough (:mod:`engine.masks.propagate`);
4. the **landmark hull** (:mod:`engine.masks.hull`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from engine.errors import ProjectError
from engine.masks.hull import DEFAULT_EYEBROW_EXPAND, DEFAULT_FOREHEAD, hull_label, hull_mask
from engine.masks.propagate import propagate, track_neighbours
from engine.masks.raster import Mask, rasterize, warp_mask
from engine.masks.repo import crop_matrix, get_label, get_labels, get_prediction, keyframes, set_labels
from engine.project.changes import ChangeSet
from engine.project.models import Face
from engine.project.store import ProjectStore

MaskSource = Literal["label", "predicted", "propagated", "hull"]
#: Propagated masks below this confidence give way to the hull.
DEFAULT_MIN_CONFIDENCE: Final = 0.5


@dataclass(frozen=True, eq=False)
class ResolvedMask:
    """A face's mask in the asked-for crop, and where it came from."""

    mask: Mask
    source: MaskSource
    model_id: int | None = None
    confidence: float = 1.0


def best_mask(
    store: ProjectStore,
    face: Face,
    *,
    face_type: str | None = None,
    size: int | None = None,
    model_id: int | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    propagated: bool = True,
) -> ResolvedMask:
    """The best mask of ``face`` in its crop of ``face_type`` and ``size`` (default: the
    face's own), by the rule in the module docs."""
    side = int(size or face.crop_size)
    matrix = crop_matrix(face, face_type, side)
    label = get_label(store, face.id)
    if label is not None:
        return ResolvedMask(rasterize(label, matrix, side), "label")
    pred = get_prediction(store, face.id, model_id)
    if pred is not None:
        src = crop_matrix(face, pred.face_type, pred.resolution)
        return ResolvedMask(warp_mask(pred.mask, src, matrix, side), "predicted", pred.model_id)
    if propagated and face.track_id is not None:
        keys = track_keyframes(store, face.clip_id, face.track_id)
        near = track_neighbours([face], keys).get(face.id)
        if near is not None:
            labels = get_labels(store, [k.id for k in (near.before, near.after) if k is not None])
            carried = propagate(face, near, labels, matrix, side)
            if carried is not None and carried.confidence >= min_confidence:
                return ResolvedMask(carried.mask, "propagated", None, carried.confidence)
    return ResolvedMask(hull_mask(face.landmarks, matrix, side), "hull")


def track_keyframes(store: ProjectStore, clip_id: int, track_id: int) -> list[Face]:
    """The keyframes of one track, in frame order."""
    ids = [r[0] for r in store.connection.execute(
        "SELECT f.id FROM faces f JOIN masks m ON m.face_id = f.id AND m.kind = 'label' "
        "WHERE f.clip_id = ? AND f.track_id = ?", (clip_id, track_id))]
    return store.faces(ids=ids) if ids else []


def select_faces(
    store: ProjectStore,
    *,
    clips: Sequence[str | int] = (),
    persons: Sequence[int] = (),
    role: str | None = None,
    include_excluded: bool = False,
) -> list[Face]:
    """The faces of the named clips (names or ids) and persons; empty lists mean all.

    Excluded faces are left out unless asked for: a face the user threw away is neither
    training data nor worth a mask.
    """
    clip_ids: set[int] | None = None
    if clips:
        clip_ids = {store.find_clip(c).id for c in clips}
    if role is not None:
        by_role = {c.id for c in store.clips(role)}
        clip_ids = by_role if clip_ids is None else clip_ids & by_role
    known_persons = {p.id for p in store.persons()}
    for p in persons:
        if p not in known_persons:
            raise ProjectError(store.root, f"no person with id {p} (persons: {sorted(known_persons) or 'none'})")
    wanted_persons = set(persons)
    out: list[Face] = []
    for clip_id in sorted(clip_ids) if clip_ids is not None else [None]:
        for f in store.faces(clip_id=clip_id, include_excluded=include_excluded):
            if wanted_persons and f.person_id not in wanted_persons:
                continue
            out.append(f)
    return out


def every_nth_of_track(faces: Iterable[Face], every: int) -> list[Face]:
    """Faces 0, N, 2N, ... of each track in frame order (a face without a track counts as
    a track of its own clip)."""
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    tracks: dict[tuple[int, int | None], list[Face]] = defaultdict(list)
    for f in faces:
        tracks[(f.clip_id, f.track_id)].append(f)
    out: list[Face] = []
    for key in sorted(tracks, key=lambda k: (k[0], -1 if k[1] is None else k[1])):
        ordered = sorted(tracks[key], key=lambda f: (f.frame, f.idx))
        out.extend(ordered[::every])
    return out


def seed_hull_labels(
    store: ProjectStore,
    faces: Iterable[Face],
    *,
    every: int = 10,
    forehead: float = DEFAULT_FOREHEAD,
    eyebrow_expand: float = DEFAULT_EYEBROW_EXPAND,
    replace: bool = False,
) -> ChangeSet:
    """Label every ``every``-th face of each track with its landmark hull (plus forehead):
    a starting point the user then corrects. Existing labels are kept unless ``replace``;
    the result is one undoable change set."""
    chosen = every_nth_of_track(faces, every)
    existing = set() if replace else set(keyframes(store, (f.id for f in chosen)))
    labels = {f.id: hull_label(f.landmarks, forehead=forehead, eyebrow_expand=eyebrow_expand)
              for f in chosen if f.id not in existing}
    n = len(labels)
    return set_labels(store, labels, text=f"Seed {n} hull mask{'s' if n != 1 else ''}")
