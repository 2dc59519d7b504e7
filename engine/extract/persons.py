"""After the tracks: identities. Tracks become persons, and a reference keeps one of them.

Persons are per project, not per extraction: a track of a new clip is first matched
against the persons that already exist (mean embeddings, dlib's 0.6 threshold), so the
speaker found in yesterday's clips is recognised today instead of becoming "Person 5";
only the tracks that match nobody are clustered among themselves into new persons.
Clustering works on **track means**, never on every face: a track is one person by
construction, its mean is steadier than any frame, and a few thousand tracks cluster
in well under a second.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from engine.faces.identity import SAME_PERSON_THRESHOLD, cluster_embeddings
from engine.project.faces import (
    create_persons,
    embeddings,
    person_mean_embeddings,
    set_face_column,
    set_person_wanted,
)
from engine.project.store import ProjectStore

Embedding = npt.NDArray[np.float32]


@dataclass
class PersonReport:
    faces: dict[int, int] = field(default_factory=dict)  # face id -> person id given now
    new_persons: list[int] = field(default_factory=list)
    matched_existing: int = 0
    tracks_without_embedding: int = 0


def _nearest(vector: Embedding, means: dict[int, Embedding], threshold: float) -> int | None:
    if not means:
        return None
    ids = list(means)
    dist = np.linalg.norm(np.stack([means[i] for i in ids]) - vector[None], axis=1)
    best = int(np.argmin(dist))
    return ids[best] if dist[best] < threshold else None


def assign_persons(
    store: ProjectStore, clip_ids: Iterable[int], *, threshold: float = SAME_PERSON_THRESHOLD
) -> PersonReport:
    """Give every face without a person one, track by track.

    A track some of whose faces already have a person gives that person to the rest.
    Other tracks are matched by mean embedding to existing persons, and what is left is
    clustered (average linkage at ``threshold``) into new persons "Person k".
    """
    report = PersonReport()
    open_tracks: list[tuple[list[int], Embedding]] = []
    for clip_id in clip_ids:
        rows = store.query("SELECT id, track_id, person_id FROM faces WHERE clip_id = ? AND track_id IS NOT NULL "
                           "ORDER BY track_id, frame, idx", (clip_id,))
        tracks: dict[int, list[tuple[int, int | None]]] = {}
        for r in rows:
            tracks.setdefault(r[1], []).append((r[0], r[2]))
        for members in tracks.values():
            todo = [f for f, p in members if p is None]
            if not todo:
                continue
            known = [p for _, p in members if p is not None]
            if known:
                person = max(set(known), key=known.count)
                report.faces.update(dict.fromkeys(todo, person))
                continue
            vecs = list(embeddings(store, [f for f, _ in members]).values())
            if not vecs:
                report.tracks_without_embedding += 1
                continue
            open_tracks.append((todo, np.mean(np.stack(vecs), axis=0).astype(np.float32)))
    existing = person_mean_embeddings(store)
    unmatched: list[tuple[list[int], Embedding]] = []
    for todo, mean in open_tracks:
        person = _nearest(mean, existing, threshold)
        if person is None:
            unmatched.append((todo, mean))
        else:
            report.matched_existing += 1
            report.faces.update(dict.fromkeys(todo, person))
    if unmatched:
        labels = cluster_embeddings(np.stack([m for _, m in unmatched]), threshold)
        report.new_persons = create_persons(store, int(labels.max()) + 1)
        for (todo, _), label in zip(unmatched, labels, strict=True):
            report.faces.update(dict.fromkeys(todo, report.new_persons[int(label)]))
    set_face_column(store, "person_id", report.faces)
    return report


@dataclass(frozen=True)
class ReferenceResult:
    person_id: int | None
    excluded: list[int]


def apply_reference(
    store: ProjectStore,
    clip_ids: Iterable[int],
    *,
    face_id: int | None = None,
    embedding: Embedding | None = None,
    threshold: float = SAME_PERSON_THRESHOLD,
) -> ReferenceResult:
    """Exclude the faces of these clips whose person is not the reference's.

    The reference is a face (its person) or an embedding (from a reference image: the
    person whose mean embedding is nearest, within ``threshold``). Faces are excluded,
    never deleted, so the editor can take the decision back; the kept person is marked
    wanted. With no matching person every face of the clips is excluded. Faces of dst
    clips are also marked "not swapped": another person in the footage is neither trained
    on nor replaced (docs/CONTEXT.md, training set / not swapped).
    """
    person: int | None = None
    if face_id is not None:
        face = store.face(face_id)
        person = face.person_id
        if person is None and face.embedding is not None:
            embedding = face.embedding
    if person is None and embedding is not None:
        person = _nearest(np.asarray(embedding, np.float32), person_mean_embeddings(store), threshold)
    ids = list(clip_ids)
    marks = ", ".join("?" * len(ids))
    rows = store.query(f"SELECT id FROM faces WHERE clip_id IN ({marks}) AND excluded = 0 "
                       "AND (person_id IS NULL OR person_id IS NOT ?)", [*ids, person])
    excluded = [r[0] for r in rows]
    on_dst = [r[0] for r in store.query(
        f"SELECT f.id FROM faces f JOIN clips c ON c.id = f.clip_id WHERE f.clip_id IN ({marks}) "
        "AND c.role = 'dst' AND f.excluded = 0 AND (f.person_id IS NULL OR f.person_id IS NOT ?)", [*ids, person])]
    set_face_column(store, "excluded", dict.fromkeys(excluded, 1))
    set_face_column(store, "swap_excluded", dict.fromkeys(on_dst, 1))
    if person is not None:
        set_person_wanted(store, person)
    return ReferenceResult(person, excluded)
