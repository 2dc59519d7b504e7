"""After the scan: faces linked into tracks, landmarks smoothed along them, samples picked.

Everything here works on the faces of a clip as stored, not on what this run found, so it
is the same whether the clip was scanned in one go, in several ranges, or resumed after a
crash. Work already done is kept: a face that has a track keeps it (the user may have
reassigned it), new faces that continue an existing track join it, and only faces that
had no track get one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.errors import MediaError
from engine.extract.cuts import ensure_cuts
from engine.faces.tracks import link_tracks, smooth_landmarks
from engine.media import FrameReader
from engine.project.faces import clip_faces
from engine.project.models import Clip
from engine.project.store import ProjectStore

Columns = dict[str, npt.NDArray[Any]]


def _by_frame(data: Columns) -> tuple[npt.NDArray[np.int64], list[slice]]:
    """The distinct frames of ``data`` (sorted by frame) and the slice of each."""
    frames, starts = np.unique(data["frame"], return_index=True)
    ends = np.append(starts[1:], len(data["frame"]))
    return frames, [slice(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def link_clip(store: ProjectStore, clip_id: int, *, step: int = 1, independent: bool = False,
              cuts: Sequence[int] | None = None) -> dict[int, int]:
    """Track ids for the faces of a clip that have none: ``{face_id: track_id}``.

    Linking runs over all the clip's faces (box overlap + landmark distance, see
    :func:`engine.faces.tracks.link_tracks`). A linked group that contains faces with a
    track id takes the most common of those; any other group gets a new id after the
    clip's highest. ``step`` is the extraction's frame step: a track may skip two
    sampled frames (``3 * step - 1`` frame numbers) and go on. No track crosses a shot
    cut: ``cuts`` (default: the clip's, detected once by :func:`engine.extract.cuts.ensure_cuts`).
    ``independent`` (image clips: unrelated photos) gives every face a track of its own, so
    nothing is smoothed across photos and every face is embedded for grouping into persons.
    """
    data = clip_faces(store, clip_id)
    if len(data["id"]) == 0:
        return {}
    if independent:
        tentative = list(range(len(data["id"])))
    else:
        if cuts is None:
            cuts = ensure_cuts(store, store.clip(clip_id))
        frames, slices = _by_frame(data)
        groups = link_tracks(
            [data["box"][s] for s in slices], [data["landmarks"][s] for s in slices],
            frame_indices=frames.tolist(), max_gap=3 * step - 1, cuts=cuts,
        )
        tentative = np.concatenate(groups).tolist()
    existing = data["track_id"].tolist()
    votes: dict[int, Counter[int]] = {}
    for group, old in zip(tentative, existing, strict=True):
        if old >= 0:
            votes.setdefault(group, Counter())[old] += 1
    next_id = max(existing) + 1 if max(existing) >= 0 else 0
    target: dict[int, int] = {}
    for group in dict.fromkeys(tentative):  # in order of first appearance
        if group in votes:
            target[group] = votes[group].most_common(1)[0][0]
        else:
            target[group] = next_id
            next_id += 1
    return {face_id: target[group]
            for face_id, group, old in zip(data["id"].tolist(), tentative, existing, strict=True) if old < 0}


def tracks_of(data: Columns) -> dict[int, npt.NDArray[np.int64]]:
    """Row positions of each track's faces, in frame order (faces without a track left out)."""
    tracks = data["track_id"]
    if len(tracks) == 0:
        return {}
    order = np.argsort(tracks, kind="stable")  # stable: frame order within each track
    ids, starts = np.unique(tracks[order], return_index=True)
    ends = np.append(starts[1:], len(order))
    return {int(t): order[a:b] for t, a, b in zip(ids, starts, ends, strict=True) if t >= 0}


def smoothed_landmarks(
    data: Columns, strength: float, only: set[int], *, step: int = 1
) -> dict[int, npt.NDArray[np.float32]]:
    """Landmarks of the faces in ``only`` smoothed along their tracks.

    The whole track is the filter's input (so a new face next to an old one is smoothed
    with it), but only faces in ``only`` (this run's faces) are changed: landmarks
    stored before may have been corrected by hand.
    """
    out: dict[int, npt.NDArray[np.float32]] = {}
    if strength <= 0 or not only:
        return out
    for rows in tracks_of(data).values():
        ids = data["id"][rows]
        if not any(int(i) in only for i in ids):
            continue
        frames = data["frame"][rows]
        positions = (frames - frames[0]) // step if step > 1 else frames
        smooth = smooth_landmarks(data["landmarks"][rows], strength, frame_indices=positions.tolist())
        for k, face_id in enumerate(ids):
            if int(face_id) in only and not np.array_equal(smooth[k], data["landmarks"][rows][k]):
                out[int(face_id)] = smooth[k]
    return out


def embedding_samples(data: Columns, sample: int, yaw: npt.NDArray[np.float64] | None = None) -> list[int]:
    """Faces to embed: up to ``sample`` per track, counting the ones already embedded.

    Only tracks with faces still lacking a person are sampled. The track is cut into as
    many equal stretches as embeddings are needed and the sharpest face of each is
    taken: sharp faces embed reliably, and spreading them over the track covers its
    changes of pose and light, which steadies the track's mean. With ``yaw`` (degrees,
    aligned with ``data``) sharpness is weighted by ``cos(yaw)**4``: the best samples
    are sharp *and* near-frontal.
    """
    picked: list[int] = []
    sharp = np.nan_to_num(data["sharpness"], nan=-1.0)
    if yaw is not None:
        # Identity embeddings are made for near-frontal faces: a profile's is unreliable,
        # so turned faces are picked only where a stretch has nothing better.
        turn = np.radians(np.minimum(np.abs(np.nan_to_num(yaw, nan=0.0)), 89.0))
        sharp = np.where(sharp > 0, sharp * np.cos(turn) ** 4, sharp)
    for rows in tracks_of(data).values():
        if not (data["person_id"][rows] < 0).any():
            continue
        need = sample - int(data["has_embedding"][rows].sum())
        candidates = rows[~data["has_embedding"][rows]]
        if need <= 0 or len(candidates) == 0:
            continue
        for part in np.array_split(candidates, min(need, len(candidates))):
            picked.append(int(data["id"][part[np.argmax(sharp[part])]]))
    return picked


def read_frames(
    clip: Clip, frames: Sequence[int], cache_dir: Path, source: Any = None
) -> Iterator[tuple[int, npt.NDArray[np.uint8]]]:
    """The given frames of a clip in increasing order (frames that fail to decode are skipped).

    :class:`FrameReader` decodes on within a group of pictures and seeks across groups,
    so reading sorted frames never costs more than decoding the span between them.
    """
    wanted = sorted(set(frames))
    if not wanted:
        return
    # ``source``: the clip's :class:`engine.project.images.FrameSource` (image clips need it).
    reader = (source.open(cache_frames=0) if source is not None
              else FrameReader(clip.path, index_cache_dir=cache_dir, cache_frames=0))
    with reader:
        for index in wanted:
            try:
                yield index, reader.read(index)
            except MediaError:
                continue
