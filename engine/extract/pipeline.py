"""Extraction end to end: clips in, faces, tracks and persons in the project out.

Phases, each resumable on its own because each works from what the database holds:

1. **check** the clips (a missing file fails the job at once, naming the clip and the
   relink fix, before anything is written) and the reference;
2. **scan** the frames not yet stored (:mod:`engine.extract.scan`);
3. **link** faces into tracks, **smooth** landmarks along them (optional; the faces
   are re-derived), **embed** a sample of each track (:mod:`engine.extract.tracks`);
4. **persons** from track means, then the **reference** filter
   (:mod:`engine.extract.persons`).

A job killed in phase 3 or 4 and run again scans nothing and redoes only what is
missing: faces without a track, tracks short of samples, faces without a person.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from engine.errors import FacesmithError
from engine.extract.params import ExtractParams
from engine.extract.persons import PersonReport, ReferenceResult, apply_reference, assign_persons
from engine.extract.redo import finish_redo, prepare_redo
from engine.extract.pool import AnalyzerConfig, AnalyzerPool, embed_chunk, embed_largest_face, rederive_chunk
from engine.extract.scan import ClipPlan, ScanReport, plan_clip, scan
from engine.extract.tracks import embedding_samples, link_clip, read_frames, smoothed_landmarks
from engine.project.faces import clip_faces, set_face_column, set_face_rows, write_crop
from engine.project.images import frame_source
from engine.project.models import Clip, alignment_to_blob, landmarks_to_blob
from engine.project.store import ProjectStore


class ExtractContext(Protocol):
    """What the pipeline needs from its caller (a :class:`~engine.jobs.context.JobContext`)."""

    store: ProjectStore
    checkpoint: dict[str, Any] | None

    def progress(self, fraction: float, text: str = "") -> None: ...
    def metric(self, step: int, name: str, value: float) -> None: ...
    def check(self, save: Callable[[], dict[str, Any]] | None = None) -> None: ...
    def save_checkpoint(self, data: dict[str, Any]) -> None: ...


def select_clips(store: ProjectStore, keys: Sequence[int | str], role: str | None) -> list[Clip]:
    """The clips to extract: by name or id, else all of ``role``, else all; checked present."""
    if keys:
        clips = list({c.id: c for c in (store.find_clip(k) for k in keys)}.values())
    else:
        clips = store.clips(role)
    if not clips:
        raise FacesmithError(f"{store.root}: no {role + ' ' if role else ''}clips to extract faces from")
    for clip in clips:
        if clip.missing:
            raise FacesmithError(
                f"clip '{clip.name}': its file is missing; relink it (facesmith relink PROJECT "
                f"{clip.name} --path NEW_FILE) and extract again; it was {clip.path}")
    return clips


def _reference_image(path: str) -> np.ndarray:
    import cv2

    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise FacesmithError(f"{path}: the reference image cannot be read (missing, or not an image)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@dataclass
class ExtractOutcome:
    """What an extraction did; :meth:`message` and :meth:`data` go into the job result."""

    clips: list[Clip]
    plans: list[ClipPlan]
    fallback: str = ""
    scan: ScanReport = field(default_factory=ScanReport)
    touched: set[int] = field(default_factory=set)
    persons: PersonReport = field(default_factory=PersonReport)
    reference: ReferenceResult | None = None
    smoothed: int = 0
    embedded: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def already_done(self) -> int:
        return sum(p.already_done for p in self.plans)

    @property
    def frames_per_s(self) -> float:
        return self.scan.total_frames / self.seconds if self.seconds > 0 else 0.0

    def message(self) -> str:
        faces, frames, n = len(self.scan.face_ids), self.scan.total_frames, len(self.clips)
        text = f"{_count(faces, 'face')} on {_count(frames, 'frame')} of {_count(n, 'clip')}"
        notes = [self.fallback] if self.fallback else []
        if faces == 0 and frames:
            notes.append("no faces found")
        if self.already_done:
            notes.append(f"{_count(self.already_done, 'frame')} already extracted, skipped")
        if self.scan.total_skipped:
            notes.append(f"{_count(self.scan.total_skipped, 'corrupt frame')} skipped")
        if self.persons.new_persons:
            notes.append(_count(len(self.persons.new_persons), "new person"))
        if self.reference is not None:
            notes.append(f"{_count(len(self.reference.excluded), 'face')} of other persons excluded"
                         if self.reference.person_id is not None else
                         "no person matches the reference: all faces excluded")
        if frames:
            notes.append(f"{self.frames_per_s:.1f} frames/s average")
        return text + (" (" + "; ".join(notes) + ")" if notes else "")

    def data(self) -> dict[str, Any]:
        return {
            "frames": self.scan.total_frames,
            "backend_fallback": self.fallback,
            "faces": len(self.scan.face_ids),
            "frames_already_done": self.already_done,
            "corrupt_frames": self.scan.total_skipped,
            "clips": {c.name: {"frames": self.scan.frames.get(c.id, 0), "faces": self.scan.faces.get(c.id, 0),
                               "corrupt_frames": self.scan.skipped.get(c.id, [])} for c in self.clips},
            "new_persons": self.persons.new_persons,
            "embedded": self.embedded,
            "smoothed": self.smoothed,
            "excluded": len(self.reference.excluded) if self.reference else 0,
            "seconds": round(self.seconds, 3),
            "frames_per_s": round(self.frames_per_s, 2),
            "stage_seconds": {k: round(v, 3) for k, v in sorted(self.timings.items())},
        }


class _LazyPool:
    """The analysis pool, started on first need and kept for the rest of the job."""

    def __init__(self, config: AnalyzerConfig, processes: int) -> None:
        self.config, self.processes = config, processes
        self._pool: AnalyzerPool | None = None

    def get(self) -> AnalyzerPool:
        if self._pool is None:
            self._pool = AnalyzerPool(self.config, self.processes)
        return self._pool

    def close(self, *, cancel: bool) -> float | None:
        """Stop the workers; returns how long they took to start (None: never used)."""
        if self._pool is None:
            return None
        startup = self._pool.startup_seconds
        self._pool.close(cancel=cancel)
        return startup


def run_extraction(ctx: ExtractContext, p: ExtractParams, *, since: float | None = None) -> ExtractOutcome:
    """Extract faces from the clips ``p`` selects (see the module docstring).

    ``since`` is when this extraction first started (a job's ``started_at``, which a
    resumed job keeps): faces created from then on are this extraction's own, the ones
    landmark smoothing may change.
    """
    started = time.perf_counter()
    store = ctx.store
    clips = select_clips(store, p.clips, p.role)
    if p.reference_face is not None:
        store.face(p.reference_face)  # a clear error now rather than after the scan
    ref_image = _reference_image(p.reference_image) if p.reference_image is not None else None
    p, fallback = usable_backend(p)  # a missing backend says what to install, here
    if fallback:
        ctx.progress(0.0, fallback)
    redo = prepare_redo(store, clips, p.start, p.stop) if p.redo else None
    plans = [plan_clip(store, c, p.start, p.stop, p.every_nth) for c in clips]
    out = ExtractOutcome(clips, plans, fallback)
    config = AnalyzerConfig(p.backend, p.face_type, p.size, float(p.min_face), p.max_faces, p.jpeg_quality)
    total = sum(len(plan.frames) for plan in plans)
    # A worker costs about a second of CPU to start: no more of them than chunks of work.
    pools = _LazyPool(config, min(p.process_count, -(-total // 8)) if total else p.process_count)
    failed = True
    try:
        ref_embedding = None
        if ref_image is not None:
            ref_embedding = pools.get().submit(embed_largest_face, ref_image).result()
            if ref_embedding is None:
                raise FacesmithError(f"{p.reference_image}: no face found in the reference image")
        if total:
            scan_started = time.perf_counter()
            names = {c.id: c.name for c in clips}
            ctx.progress(0.0, f"starting: {_count(total, 'frame')} of {_count(len(clips), 'clip')} to scan")

            def after_batch(report: ScanReport) -> None:
                done = report.total_frames
                # One measure everywhere (here, the metric, the final message): frames
                # done over the time since the job started, labelled as an average.
                fps = done / max(time.perf_counter() - started, 1e-6)
                ctx.progress(0.85 * done / total,
                             f"{names.get(report.last_clip, '')}: frame {done}/{total}, "
                             f"{fps:.1f} frames/s average")
                ctx.metric(done, "frames_per_s", fps)
                ctx.check(save=lambda: {"phase": "scan", "frames_done": done})

            out.scan = scan(store, plans, pools.get(), after_batch=after_batch)
            out.touched.update(out.scan.face_ids)
            out.timings.update(out.scan.timings)
            out.timings["scan_wall"] = time.perf_counter() - scan_started
        if redo is not None:
            finish_redo(store, redo, out.scan.face_ids)
        _after_scan(ctx, p, out, pools, since)
        if p.reference_face is not None or ref_embedding is not None:
            ctx.progress(0.99, "applying the reference")
            out.reference = apply_reference(store, [c.id for c in clips], face_id=p.reference_face,
                                            embedding=ref_embedding)
            out.touched.update(out.reference.excluded)
        failed = False
    finally:
        t = time.perf_counter()
        startup = pools.close(cancel=failed)
        out.timings["pool_close"] = time.perf_counter() - t
        if startup is not None:
            out.timings["pool_start"] = startup
    out.seconds = time.perf_counter() - started
    return out


def usable_backend(p: ExtractParams) -> tuple[ExtractParams, str]:
    """``p`` with a backend that loads here, and a status line when it had to fall back.

    A missing or corrupt weights file of the default backend must not stop extraction:
    the fallback (dlib HOG) runs, and the job's status names the file and the package.
    A backend chosen by name (``fan``) fails instead, saying what to install.
    """
    from dataclasses import replace

    from engine.faces.backends import DEFAULT_BACKEND, FALLBACK_BACKEND, get_backend
    from engine.faces.errors import BackendUnavailable

    try:
        backend = get_backend(p.backend, max_detect_side=960)
        loader = getattr(backend, "load", None)
        if callable(loader) and p.backend == DEFAULT_BACKEND:
            loader()
        return p, ""
    except BackendUnavailable as error:
        if p.backend != DEFAULT_BACKEND:
            raise  # a backend the user chose by name: say what is missing rather than swap it
        get_backend(FALLBACK_BACKEND, max_detect_side=960)
        return replace(p, backend=FALLBACK_BACKEND), f"{error}; falling back to {FALLBACK_BACKEND} (HOG)"


def _timed(out: ExtractOutcome, name: str, t: float) -> None:
    out.timings[name] = out.timings.get(name, 0.0) + time.perf_counter() - t


def _own_faces(store: ProjectStore, clips: Sequence[Clip], since: float) -> set[int]:
    marks = ", ".join("?" * len(clips))
    rows = store.query(f"SELECT id FROM faces WHERE clip_id IN ({marks}) AND created_at >= ?",
                       [*(c.id for c in clips), since])
    return {r[0] for r in rows}


def _after_scan(ctx: ExtractContext, p: ExtractParams, out: ExtractOutcome, pools: _LazyPool,
                since: float | None) -> None:
    store = ctx.store
    # The scan is stored and the steps below redo only what is missing; the checkpoint
    # only has to say whether smoothing is done (smoothing twice would over-smooth).
    smoothed = (ctx.checkpoint or {}).get("phase") == "smoothed"

    def save() -> dict[str, Any]:
        return {"phase": "smoothed" if smoothed else "tracks"}

    ctx.progress(0.86, "linking tracks")
    t = time.perf_counter()
    for clip in out.clips:
        tracks = link_clip(store, clip.id, step=p.every_nth, independent=clip.kind != "video")
        set_face_column(store, "track_id", tracks)
        out.touched.update(tracks)
    _timed(out, "link", t)
    ctx.check(save=save)
    if p.smooth > 0 and not smoothed:
        own = set(out.scan.face_ids) if since is None else _own_faces(store, out.clips, since)
        ctx.progress(0.88, "smoothing landmarks")
        t = time.perf_counter()
        for clip in out.clips:
            landmarks = smoothed_landmarks(clip_faces(store, clip.id), p.smooth, own, step=p.every_nth)
            out.smoothed += _rederive_many(store, pools.get(), clip, landmarks)
            out.touched.update(landmarks)
        smoothed = True
        ctx.save_checkpoint(save())
        _timed(out, "smooth", t)
        ctx.check(save=save)
    ctx.progress(0.9, "embedding samples of each track")
    t = time.perf_counter()
    for clip in out.clips:
        data = clip_faces(store, clip.id)
        yaw_of = dict(store.query("SELECT id, yaw FROM faces WHERE clip_id = ?", (clip.id,)))
        yaw = np.array([yaw_of.get(i) or 0.0 for i in data["id"].tolist()])
        picked = embedding_samples(data, p.embed_sample, yaw)
        if picked:
            lms = dict(zip(data["id"].tolist(), data["landmarks"], strict=True))
            frames = dict(zip(data["id"].tolist(), data["frame"].tolist(), strict=True))
            vectors = dict(_per_frame(pools.get(), embed_chunk, store, clip, {f: lms[f] for f in picked}, frames))
            set_face_column(store, "embedding", vectors)
            out.embedded += len(vectors)
            out.touched.update(vectors)
        ctx.check(save=save)
    _timed(out, "embed", t)
    ctx.progress(0.97, "grouping tracks into persons")
    t = time.perf_counter()
    out.persons = assign_persons(store, [c.id for c in out.clips])
    out.touched.update(out.persons.faces)
    _timed(out, "persons", t)


def _per_frame(
    pool: AnalyzerPool, fn: Callable[[Any], list[tuple[int, Any]]], store: ProjectStore, clip: Clip,
    landmarks: dict[int, np.ndarray], frame_of: dict[int, int],
) -> Iterator[tuple[int, Any]]:
    """Run ``fn`` (embed or rederive) on faces, reading each face's frame once."""
    by_frame: dict[int, list[tuple[int, np.ndarray]]] = {}
    for face_id, lm in landmarks.items():
        by_frame.setdefault(frame_of[face_id], []).append((face_id, lm))

    def items() -> Iterator[tuple[None, list[Any]]]:
        for frame, image in read_frames(clip, list(by_frame), store.root / "cache", frame_source(store, clip)):
            yield None, [(image, by_frame[frame])]

    for _, results in pool.imap(fn, items(), in_flight=2 * max(1, pool.processes)):
        yield from results or ()


def _rederive_many(store: ProjectStore, pool: AnalyzerPool, clip: Clip, landmarks: dict[int, np.ndarray]) -> int:
    """Re-derive crops, alignment, pose, sharpness and expression for new landmarks."""
    if not landmarks:
        return 0
    rows = store.query("SELECT id, frame, crop_path FROM faces WHERE clip_id = ?", (clip.id,))
    frame_of = {r[0]: r[1] for r in rows if r[0] in landmarks}
    paths = {r[0]: r[2] for r in rows if r[0] in landmarks}
    updates: dict[int, dict[str, Any]] = {}
    for face_id, f in _per_frame(pool, rederive_chunk, store, clip, landmarks, frame_of):
        if paths.get(face_id):
            write_crop(store.root, paths[face_id], f.jpeg)
        updates[face_id] = {
            "landmarks": landmarks_to_blob(f.landmarks), "alignment": alignment_to_blob(f.matrix),
            "yaw": f.yaw, "pitch": f.pitch, "roll": f.roll, "sharpness": f.sharpness,
            "mouth_open": f.expression[0], "eyes_open": f.expression[1], "smile": f.expression[2],
            "brow_raise": f.expression[3],
        }
    set_face_rows(store, updates)
    return len(updates)
