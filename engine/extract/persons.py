"""After the tracks: identities. Tracks become persons, and a reference keeps one of them.

Persons are per project, not per extraction: a track of a new clip is first matched
against the persons that already exist (mean embeddings, dlib's 0.6 threshold), so the
speaker found in yesterday's clips is recognised today instead of becoming "Person 5";
only the tracks that match nobody are clustered among themselves into new persons.
Clustering works on **track means**, never on every face: a track is one person by
construction and its mean is steadier than any frame. Two rules keep persons apart:
two faces of one frame are never one person (tracks sharing a frame are never joined,
nor matched to a person already on that frame), and tracks of different clips join
only on stronger identity evidence. Persons of very few faces or low detection
scores (a false detection on an eye) are flagged uncertain rather than given equal
standing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from engine.faces.identity import SAME_PERSON_THRESHOLD
from engine.project.face_extras import set_uncertain
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
    uncertain: list[int] = field(default_factory=list)


#: A person with fewer faces than this, or a lower mean detection score, is "uncertain".
UNCERTAIN_MIN_FACES: Final = 8
UNCERTAIN_MIN_SCORE: Final = 0.55
#: Tracks of *different clips* join one person only this close (stricter than dlib's 0.6:
#: across clips there is no continuity to back the embedding up).
CROSS_CLIP_THRESHOLD: Final = 0.5


@dataclass
class _Track:
    """A track waiting for a person: its faces, frames (per clip) and mean embedding."""

    todo: list[int]
    clip_id: int
    frames: frozenset[int]
    mean: Embedding


def _nearest(vector: Embedding, means: dict[int, Embedding], threshold: float,
             banned: set[int] | None = None) -> int | None:
    ids = [i for i in means if not banned or i not in banned]
    if not ids:
        return None
    dist = np.linalg.norm(np.stack([means[i] for i in ids]) - vector[None], axis=1)
    best = int(np.argmin(dist))
    return ids[best] if dist[best] < threshold else None


def constrained_clusters(tracks: list[_Track], threshold: float,
                         cross_clip_threshold: float = CROSS_CLIP_THRESHOLD) -> list[int]:
    """Cluster labels for tracks: average linkage under ``threshold``, but two tracks
    that share a frame of one clip are never joined (two faces of one frame are two
    people), and tracks of different clips join only under ``cross_clip_threshold``."""
    n = len(tracks)
    if n == 0:
        return []
    means = np.stack([t.mean for t in tracks]).astype(np.float64)
    dist = np.linalg.norm(means[:, None] - means[None], axis=2)
    clips = np.array([t.clip_id for t in tracks])
    limit = np.where(clips[:, None] == clips[None], threshold, min(threshold, cross_clip_threshold))
    members: list[list[int]] = [[i] for i in range(n)]
    frames: list[dict[int, frozenset[int]]] = [{t.clip_id: t.frames} for t in tracks]
    alive = np.ones(n, dtype=bool)
    # Average-linkage distance between clusters, and the limit each pair must beat.
    d = dist.copy()
    np.fill_diagonal(d, np.inf)

    def clash(a: int, b: int) -> bool:
        return any(c in frames[b] and frames[a][c] & frames[b][c] for c in frames[a])

    for i in range(n):
        for j in range(i + 1, n):
            if clash(i, j):
                d[i, j] = d[j, i] = np.inf
    while True:
        ratio = d / limit
        k = int(np.argmin(ratio))
        a, b = divmod(k, n)
        if not np.isfinite(ratio[a, b]) or ratio[a, b] >= 1.0:
            break
        # Merge b into a.
        size_a, size_b = len(members[a]), len(members[b])
        members[a] += members[b]
        members[b] = []
        for c, f in frames[b].items():
            frames[a][c] = frames[a].get(c, frozenset()) | f
        alive[b] = False
        new = (d[a] * size_a + d[b] * size_b) / (size_a + size_b)
        limit[a] = limit[:, a] = np.minimum(limit[a], limit[b])
        d[a], d[:, a] = new, new
        d[b], d[:, b] = np.inf, np.inf
        d[a, a] = np.inf
        for j in np.flatnonzero(alive):
            if j != a and np.isfinite(d[a, j]) and clash(a, j):
                d[a, j] = d[j, a] = np.inf
    labels = [0] * n
    rank = 0
    for first in sorted((min(m), m) for m in members if m):
        for i in first[1]:
            labels[i] = rank
        rank += 1
    return labels


def _frames_of_persons(store: ProjectStore, clip_id: int) -> dict[int, set[int]]:
    rows = store.query("SELECT person_id, frame FROM faces WHERE clip_id = ? AND person_id IS NOT NULL", (clip_id,))
    out: dict[int, set[int]] = {}
    for person, frame in rows:
        out.setdefault(person, set()).add(frame)
    return out


def assign_persons(
    store: ProjectStore, clip_ids: Iterable[int], *, threshold: float = SAME_PERSON_THRESHOLD
) -> PersonReport:
    """Give every face without a person one, track by track.

    A track some of whose faces already have a person gives that person to the rest.
    Other tracks are matched by mean embedding to existing persons, and what is left is
    clustered (:func:`constrained_clusters`) into new persons "Person k". A person never
    gets two faces of one frame: a track is not matched to a person that already has a
    face on one of its frames. Persons of few faces or low detection scores are then
    flagged uncertain (:func:`flag_uncertain`).
    """
    report = PersonReport()
    open_tracks: list[_Track] = []
    taken: dict[int, dict[int, set[int]]] = {}  # clip -> person -> frames
    for clip_id in clip_ids:
        rows = store.query("SELECT id, track_id, person_id, frame FROM faces WHERE clip_id = ? "
                           "AND track_id IS NOT NULL ORDER BY track_id, frame, idx", (clip_id,))
        tracks: dict[int, list[tuple[int, int | None, int]]] = {}
        for r in rows:
            tracks.setdefault(r[1], []).append((r[0], r[2], r[3]))
        taken[clip_id] = _frames_of_persons(store, clip_id)
        for members in tracks.values():
            todo = [f for f, p, _ in members if p is None]
            if not todo:
                continue
            known = [p for _, p, _ in members if p is not None]
            if known:
                person = max(set(known), key=known.count)
                report.faces.update(dict.fromkeys(todo, person))
                continue
            vecs = list(embeddings(store, [f for f, _, _ in members]).values())
            if not vecs:
                report.tracks_without_embedding += 1
                continue
            open_tracks.append(_Track(todo, clip_id, frozenset(fr for _, _, fr in members),
                                      np.mean(np.stack(vecs), axis=0).astype(np.float32)))
    existing = person_mean_embeddings(store)
    unmatched: list[_Track] = []
    for track in open_tracks:
        persons_here = taken[track.clip_id]
        banned = {p for p, fr in persons_here.items() if fr & track.frames}
        # A person of this clip at the usual threshold; one known only from other clips
        # needs the stronger cross-clip evidence.
        elsewhere = {p for p in existing if p not in persons_here}
        person = _nearest(track.mean, existing, threshold, banned | elsewhere)
        if person is None:
            person = _nearest(track.mean, existing, min(threshold, CROSS_CLIP_THRESHOLD),
                              banned | (set(existing) - elsewhere))
        if person is None:
            unmatched.append(track)
        else:
            report.matched_existing += 1
            report.faces.update(dict.fromkeys(track.todo, person))
            persons_here.setdefault(person, set()).update(track.frames)
    if unmatched:
        labels = constrained_clusters(unmatched, threshold)
        report.new_persons = create_persons(store, max(labels) + 1)
        for track, label in zip(unmatched, labels, strict=True):
            report.faces.update(dict.fromkeys(track.todo, report.new_persons[int(label)]))
    set_face_column(store, "person_id", report.faces)
    report.uncertain = flag_uncertain(store)
    return report


def flag_uncertain(store: ProjectStore, *, min_faces: int = UNCERTAIN_MIN_FACES,
                   min_score: float = UNCERTAIN_MIN_SCORE) -> list[int]:
    """Flag persons of fewer than ``min_faces`` faces or a mean detection score under
    ``min_score`` as uncertain (and clear the flag of the others); returns the flagged.

    Detection scores are compared on the 0..1 scale of the default detector; dlib's HOG
    margins (0..3) pass the score test, so dlib-only persons are judged by size alone.
    """
    rows = store.query("SELECT p.id, count(f.id), avg(f.score) FROM persons p "
                       "LEFT JOIN faces f ON f.person_id = p.id GROUP BY p.id")
    flags = {pid: (n < min_faces or (score is not None and score < min_score)) for pid, n, score in rows}
    set_uncertain(store, flags)
    return sorted(p for p, f in flags.items() if f)


def best_faces(store: ProjectStore, person_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Each person's best face (for its thumbnail): sharp, near-frontal, confidently
    detected, not excluded. ``{person_id: face_id}``; persons without faces left out."""
    rows = store.query("SELECT id, person_id, sharpness, yaw, pitch, score, excluded FROM faces "
                       "WHERE person_id IS NOT NULL")
    wanted = None if person_ids is None else set(person_ids)
    best: dict[int, tuple[float, int]] = {}
    for face_id, person, sharp, yaw, pitch, score, excluded in rows:
        if wanted is not None and person not in wanted:
            continue
        frontal = np.cos(np.radians(min(abs(yaw or 0.0), 89.0))) * np.cos(np.radians(min(abs(pitch or 0.0), 89.0)))
        quality = float(np.log1p(max(sharp or 0.0, 0.0)) * frontal ** 2 * (0.5 if excluded else 1.0)
                        * min(1.0, max(score, 0.05)))
        if person not in best or quality > best[person][0]:
            best[person] = (quality, face_id)
    return {p: f for p, (_, f) in best.items()}


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
