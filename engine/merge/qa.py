"""The quality strip: per-frame scores of a merged result, to find the frames that look wrong.

Finding the few bad frames of a render today means watching all of it. The ``qa`` job
reads a render back beside its clip and scores every frame, using the faces the render
merged (the project's faces, not a new detection):

- ``id_src``: identity similarity of the swapped face to the src person, ``1 - L2`` of
  the project's identity embedding (dlib's descriptor, :mod:`engine.faces.identity`)
  against the mean embedding of the src faces the model trained on (higher is better;
  above 0.4 is dlib's "same person");
- ``id_dst``: the same against the original dst face (its track's mean embedding, lower:
  the identity changed);
- ``landmarks``: expression fidelity, the mean distance between the landmarks found on
  the merged face (dlib's 68-point predictor in the dst face's box) and the dst face's,
  over the inter-ocular distance;
- ``yaw``, ``pitch``: pose fidelity, degrees between the merged face's head pose and the
  dst face's;
- ``jitter``: temporal jitter of the pasted face, its landmarks' motion from the previous
  frame of its track that the dst face's landmarks do not have, over the inter-ocular;
- ``seam``: mask edge contrast, the gradient on the border of the merged region (where
  the render changed the frame) minus the original frame's there, levels of 255;
- ``color``: colour mismatch at the mask border, delta E (CIELAB) between the step from
  just outside to just inside the border in the merged frame and the same step in the
  original.

A frame's score is its worst face's. Each score maps to a badness 0 (green) .. 1 (red)
(:func:`badness`); the strip shows the worst of them, the worst frames are listed in the
job's result, and the rows are kept in the ``qa_frames`` table (and optionally a CSV).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import math
import os
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from engine.errors import ProjectError

if TYPE_CHECKING:
    from engine.jobs.context import JobContext
    from engine.jobs.registry import JobResult
    from engine.project.models import Clip, Face, Render
    from engine.project.store import ProjectStore

SCORES: Final = ("id_src", "id_dst", "landmarks", "yaw", "pitch", "jitter", "seam", "color")
#: score -> (good, bad): values at badness 0 and 1 (linear between, clipped).
SCALE: Final[dict[str, tuple[float, float]]] = {
    "id_src": (0.6, 0.3), "id_dst": (0.4, 0.7), "landmarks": (0.05, 0.25), "yaw": (3.0, 20.0),
    "pitch": (3.0, 20.0), "jitter": (0.01, 0.08), "seam": (2.0, 20.0), "color": (3.0, 20.0),
}
#: Changed by at least this much (levels of 255, after a light blur) = inside the merge.
_CHANGED: Final = 6.0


@dataclass(frozen=True)
class QaParams:
    """Parameters of ``qa``: which render to score (``render`` id, else the newest render of
    the clip, of ``model`` when given); ``identity_every`` embeds every N-th frame (1: all);
    ``csv`` also writes the rows to that file."""

    clip: str | int
    model: int | None = None
    render: int | None = None
    csv: str | None = None
    identity_every: int = 1
    #: processes computing identity embeddings beside the job; 0 (the default): in the
    #: job's process, where the descriptor runs in torch on every core
    processes: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.identity_every <= 1000:
            raise ValueError("identity_every must be 1-1000")
        if not 0 <= self.processes <= 64:
            raise ValueError("processes must be 0-64")


@dataclass(frozen=True)
class FrameScores:
    """The scores of one frame (None: nothing to score, e.g. no face or no previous frame)."""

    frame: int
    faces: int
    id_src: float | None = None
    id_dst: float | None = None
    landmarks: float | None = None
    yaw: float | None = None
    pitch: float | None = None
    jitter: float | None = None
    seam: float | None = None
    color: float | None = None

    def badness(self) -> float:
        """The worst of its scores' badness, 0..1 (0 when nothing was scored)."""
        vals = [badness(n, getattr(self, n)) for n in SCORES if getattr(self, n) is not None]
        return max(vals, default=0.0)

    def worst(self) -> tuple[str, float] | None:
        """The score that makes the frame bad, and its value (None when nothing was scored)."""
        vals = [(badness(n, getattr(self, n)), n) for n in SCORES if getattr(self, n) is not None]
        if not vals:
            return None
        _, name = max(vals)
        return name, float(getattr(self, name))

    def as_row(self) -> dict[str, Any]:
        return {"frame": self.frame, "faces": self.faces, **{n: getattr(self, n) for n in SCORES}}


def badness(name: str, value: float) -> float:
    good, bad = SCALE[name]
    return float(np.clip((value - good) / (bad - good), 0.0, 1.0))


# ---------------------------------------------------------------------- geometry
def inter_ocular(landmarks: npt.ArrayLike) -> float:
    lm = np.asarray(landmarks, np.float64)
    return float(max(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)), 1.0))


def border_scores(merged: npt.NDArray[np.uint8], original: npt.NDArray[np.uint8],
                  box: tuple[int, int, int, int], band: int) -> tuple[float | None, float | None]:
    """(seam, colour) at the border of the region the merge changed inside ``box``."""
    x0, y0, x1, y1 = box
    m, o = merged[y0:y1, x0:x1], original[y0:y1, x0:x1]
    if m.size == 0:
        return None, None
    diff = cv2.GaussianBlur(np.abs(m.astype(np.int16) - o.astype(np.int16)).max(axis=2).astype(np.float32), (5, 5), 0)
    region = (diff > _CHANGED).astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    region = cv2.morphologyEx(region, cv2.MORPH_CLOSE, k)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
    if n <= 1:
        return None, None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[biggest, cv2.CC_STAT_AREA] < 4 * band * band:
        return None, None
    region = (labels == biggest).astype(np.uint8)
    inner = region & ~cv2.erode(region, k) & 1
    outer = cv2.dilate(region, k) & ~region & 1
    line = cv2.dilate(region, None) & ~cv2.erode(region, None) & 1
    if not inner.any() or not outer.any() or not line.any():
        return None, None

    def grad(img: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)) / 4.0

    on = line.astype(bool)
    seam = float(grad(np.ascontiguousarray(m))[on].mean() - grad(np.ascontiguousarray(o))[on].mean())
    lab_m = cv2.cvtColor(np.ascontiguousarray(m), cv2.COLOR_RGB2LAB).astype(np.float32)
    lab_o = cv2.cvtColor(np.ascontiguousarray(o), cv2.COLOR_RGB2LAB).astype(np.float32)
    lab_m[..., 0] *= 100.0 / 255.0
    lab_o[..., 0] *= 100.0 / 255.0
    i, u = inner.astype(bool), outer.astype(bool)
    step_m = lab_m[i].mean(0) - lab_m[u].mean(0)
    step_o = lab_o[i].mean(0) - lab_o[u].mean(0)
    return max(seam, 0.0), float(np.linalg.norm(step_m - step_o))


def _box(face: Face, shape: tuple[int, ...], margin: float = 0.35) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = face.box
    w, h = x1 - x0, y1 - y0
    return (max(int(x0 - margin * w), 0), max(int(y0 - margin * h), 0),
            min(int(math.ceil(x1 + margin * w)), shape[1]), min(int(math.ceil(y1 + margin * h)), shape[0]))


# ---------------------------------------------------------------------- the scorer
class Scorer:
    """Scores merged frames against their originals (see the module docstring).

    Parameters
    ----------
    src_embedding : the src person's mean identity embedding.
    frame_size : (width, height), for the head pose's perspective.
    """

    def __init__(self, src_embedding: npt.ArrayLike, frame_size: tuple[int, int], *, identity_every: int = 1,
                 pool: Any = None) -> None:
        from engine.faces.dlib_backend import DlibBackend, DlibIdentity

        self.pool = pool
        self._waiting: deque[tuple[FrameScores, list[tuple[Any, np.ndarray]]]] = deque()
        self.src = np.asarray(src_embedding, np.float64)
        self.frame_size = frame_size
        self.identity_every = identity_every
        self._landmarker = DlibBackend()
        self._identity = DlibIdentity()
        self._previous: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}  # track -> (frame, merged lm, dst lm)

    def load(self) -> None:
        """Load the landmark and descriptor models now (otherwise the first frame does)."""
        self._landmarker.load()
        self._identity.load()

    def set_track_identities(self, faces: Iterable[Face]) -> None:
        """The original dst identity of each track: the mean of its faces' embeddings
        (extraction embeds a few faces per track), steadier than any single frame."""
        by_track: dict[int, list[np.ndarray]] = {}
        for f in faces:
            if f.track_id is not None and f.embedding is not None:
                by_track.setdefault(f.track_id, []).append(np.asarray(f.embedding, np.float64))
        self._tracks = {t: np.mean(v, axis=0) for t, v in by_track.items()}

    def dst_identity(self, face: Face, original: npt.NDArray[np.uint8], landmarks: np.ndarray) -> np.ndarray:
        """The original dst face's identity: its track's, else its own embedding, else
        computed on the original frame."""
        tracks: dict[int, np.ndarray] = getattr(self, "_tracks", {})
        if face.track_id is not None and face.track_id in tracks:
            return tracks[face.track_id]
        if face.embedding is not None:
            return np.asarray(face.embedding, np.float64)
        return self._identity.descriptors(original, [landmarks])[0].astype(np.float64)

    def score(self, frame_no: int, merged: npt.NDArray[np.uint8], original: npt.NDArray[np.uint8],
              faces: Sequence[Face]) -> None:
        """Score a frame; its row comes out of :meth:`drain` (in frame order), at once or,
        with a descriptor pool, when its identity embeddings are back."""
        from engine.faces.errors import FaceAnalysisError
        from engine.faces.pose import estimate_pose

        per: dict[str, list[float]] = {n: [] for n in SCORES}
        embed = frame_no % self.identity_every == 0
        waiting: list[tuple[Any, np.ndarray]] = []
        for face in faces:
            dst_lm = np.asarray(face.landmarks, np.float64)
            iod = inter_ocular(dst_lm)
            lm = self._landmarker.landmarks(merged, face.box).astype(np.float64)
            per["landmarks"].append(float(np.linalg.norm(lm - dst_lm, axis=1).mean() / iod))
            if embed:
                dst_emb = np.asarray(self.dst_identity(face, original, dst_lm), np.float64)
                if self.pool is None:
                    waiting.append((self._identity.descriptors(merged, [lm])[0], dst_emb))
                else:
                    crop, shifted = face_region(merged, lm)
                    waiting.append((self.pool.submit(_descriptor, crop, shifted), dst_emb))
            try:
                pose = estimate_pose(lm, self.frame_size)
                if face.yaw is not None and face.pitch is not None:
                    per["yaw"].append(abs(pose.yaw - face.yaw))
                    per["pitch"].append(abs(pose.pitch - face.pitch))
            except FaceAnalysisError:
                pass
            if face.track_id is not None:
                prev = self._previous.get(face.track_id)
                if prev is not None and prev[0] == frame_no - 1:
                    moved = (lm - prev[1]) - (dst_lm - prev[2])
                    per["jitter"].append(float(np.linalg.norm(moved, axis=1).mean() / iod))
                self._previous[face.track_id] = (frame_no, lm, dst_lm)
            seam, color = border_scores(merged, original, _box(face, merged.shape), max(2, int(round(iod / 12))))
            if seam is not None and color is not None:
                per["seam"].append(seam)
                per["color"].append(color)
        worst = {n: (max(v) if v else None) for n, v in per.items() if n not in ("id_src", "id_dst")}
        self._waiting.append((FrameScores(frame_no, len(faces), **worst), waiting))

    def drain(self, keep: int = 0) -> list[FrameScores]:
        """The rows of scored frames, in order, waiting for embeddings until at most
        ``keep`` frames are still out (``keep=0``: all of them)."""
        out: list[FrameScores] = []
        while self._waiting:
            partial, waiting = self._waiting[0]
            ready = all(not hasattr(w, "done") or w.done() for w, _ in waiting)
            if not ready and len(self._waiting) <= keep:
                break
            self._waiting.popleft()
            sims_src, sims_dst = [], []
            for w, dst_emb in waiting:
                emb = np.asarray(w.result() if hasattr(w, "result") else w, np.float64)
                sims_src.append(1.0 - float(np.linalg.norm(emb - self.src)))
                sims_dst.append(1.0 - float(np.linalg.norm(emb - dst_emb)))
            out.append(dataclasses.replace(partial, id_src=min(sims_src) if sims_src else None,
                                           id_dst=max(sims_dst) if sims_dst else None))
        return out


def face_region(image: npt.NDArray[np.uint8], landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``image`` dlib's descriptor reads for a face (its 150 px chip spans
    the landmarks plus a quarter on each side; a margin of 60 % is kept), and the
    landmarks in it: what a descriptor process is sent instead of the whole frame."""
    lo, hi = landmarks.min(axis=0), landmarks.max(axis=0)
    m = 0.6 * float(max(hi - lo))
    x0, y0 = max(int(lo[0] - m), 0), max(int(lo[1] - m), 0)
    x1, y1 = min(int(hi[0] + m) + 1, image.shape[1]), min(int(hi[1] + m) + 1, image.shape[0])
    return np.ascontiguousarray(image[y0:y1, x0:x1]), landmarks - np.array([x0, y0], np.float64)


@functools.cache
def _identity_model() -> Any:
    from engine.faces.dlib_backend import DlibIdentity

    model = DlibIdentity()
    model.load()
    return model


def _descriptor(crop: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """In a descriptor process (``processes`` > 0): the face's embedding."""
    return _identity_model().descriptors(crop, [landmarks])[0]


def _warm() -> None:
    _identity_model()


# ---------------------------------------------------------------------- inputs
def pick_render(store: ProjectStore, clip: Clip, render_id: int | None, model_id: int | None) -> Render:
    renders = [r for r in store.renders() if r.clip_id == clip.id]
    if render_id is not None:
        found = next((r for r in store.renders() if r.id == render_id), None)
        if found is None or found.clip_id != clip.id:
            raise ProjectError(store.root, f"no render {render_id} of clip '{clip.name}'")
        if found.format not in ("mp4", "mkv", "png"):
            raise ProjectError(store.root, f"render {render_id} is {found.format} face patches; "
                               "the quality check reads rendered frames (mp4, mkv or png)")
        if not _render_path(store, found).exists():
            raise ProjectError(_render_path(store, found), f"render {render_id}'s output is gone")
        return found
    if model_id is not None:
        renders = [r for r in renders if r.model_id == model_id]
    renders = [r for r in renders if r.format in ("mp4", "mkv", "png") and _render_path(store, r).exists()]
    if not renders:
        by = f" with model {model_id}" if model_id is not None else ""
        raise ProjectError(store.root, f"clip '{clip.name}' has no rendered video or PNG frames{by} to check; "
                           f"render it first ('facesmith render {store.root} --clip {clip.name}')")
    return max(renders, key=lambda r: (r.created_at, r.id))


def _render_path(store: ProjectStore, render: Render) -> Path:
    path = Path(render.path)
    return path if path.is_absolute() else store.root / path


def src_embedding(store: ProjectStore, model_id: int | None) -> np.ndarray:
    """The mean embedding of the src faces the model trained on (its src person, when it
    had one), else of all src faces not left out of the training set."""
    from engine.faces.identity import mean_embedding

    person = None
    if model_id is not None:
        person = (store.model(model_id).config or {}).get("src_person")  # recorded by newer trainers
    src_clips = {c.id for c in store.clips("src")}
    embs = [f.embedding for f in store.faces(include_excluded=False)
            if f.clip_id in src_clips and f.embedding is not None and (person is None or f.person_id == person)]
    if not embs:
        raise ProjectError(store.root, "the project's src faces have no identity embeddings; re-run 'facesmith extract'")
    return mean_embedding(np.stack(embs))


def read_render(store: ProjectStore, render: Render) -> Iterable[tuple[int, np.ndarray]]:
    """(clip frame, merged RGB) of a render's frames, in order."""
    from engine.media import iter_frames

    path = _render_path(store, render)
    if render.format == "png":
        for frame_no in range(render.frame_start, render.frame_end):
            file = path / f"frame_{frame_no:06d}.png"
            if file.exists():
                yield frame_no, cv2.cvtColor(cv2.imread(str(file), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        return
    for i, image in iter_frames(path, threaded=True, queue_size=8):
        if render.frame_start + i >= render.frame_end:
            break
        yield render.frame_start + i, image


def swapped_faces(store: ProjectStore, clip_id: int) -> dict[int, list[Face]]:
    """frame -> the clip's faces a merge swaps, by index: the same filter as the merge
    (not marked "not swapped", the clip's merge targets, outside its swap ranges)."""
    from engine.project.targets import swap_filter

    wanted = swap_filter(store, store.clip(clip_id))
    out: dict[int, list[Face]] = {}
    for f in store.faces(clip_id=clip_id):
        if wanted.wants(f):
            out.setdefault(f.frame, []).append(f)
    for faces in out.values():
        faces.sort(key=lambda f: f.idx)
    return out


# ---------------------------------------------------------------------- storage
def save_scores(store: ProjectStore, job_id: int, clip_id: int, rows: Sequence[FrameScores]) -> None:
    with store.transaction() as c:
        c.execute("DELETE FROM qa_frames WHERE job_id = ?", (job_id,))
        c.executemany(f"INSERT INTO qa_frames (job_id, clip_id, frame, faces, {', '.join(SCORES)}) "
                      f"VALUES (?, ?, ?, ?, {', '.join('?' * len(SCORES))})",
                      [(job_id, clip_id, r.frame, r.faces, *(getattr(r, n) for n in SCORES)) for r in rows])


def load_scores(store: ProjectStore, clip_id: int, job_id: int | None = None) -> list[FrameScores]:
    """The rows of the clip's newest ``qa`` run (or of ``job_id``), by frame."""
    if job_id is None:
        job_id = store.scalar("SELECT MAX(job_id) FROM qa_frames WHERE clip_id = ?", (int(clip_id),))
        if job_id is None:
            return []
    rows = store.query(f"SELECT frame, faces, {', '.join(SCORES)} FROM qa_frames WHERE job_id = ? AND clip_id = ? "
                       "ORDER BY frame", (int(job_id), int(clip_id)))
    return [FrameScores(int(r["frame"]), int(r["faces"]), **{n: r[n] for n in SCORES}) for r in rows]


def worst_frames(rows: Sequence[FrameScores], n: int = 10) -> list[FrameScores]:
    """The ``n`` frames with faces of highest badness, worst first."""
    scored = [r for r in rows if r.faces and r.badness() > 0.0]
    return sorted(scored, key=lambda r: (-r.badness(), r.frame))[:n]


def write_csv(path: Path, rows: Sequence[FrameScores]) -> None:
    """One row per frame: frame, faces, every score, badness."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["frame", "faces", *SCORES, "badness"])
        for r in rows:
            w.writerow([r.frame, r.faces, *("" if getattr(r, n) is None else f"{getattr(r, n):.4f}" for n in SCORES),
                        f"{r.badness():.3f}"])
    tmp.replace(path)


def summary(rows: Sequence[FrameScores]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for n in SCORES:
        vals = [getattr(r, n) for r in rows if getattr(r, n) is not None]
        out[n] = float(np.mean(vals)) if vals else None
    return out


# ---------------------------------------------------------------------- the job
def run_qa(ctx: JobContext, p: QaParams) -> JobResult:
    from engine.jobs.registry import JobResult
    from engine.project.changes import ChangeSet

    store = ctx.store
    clip = store.find_clip(p.clip)
    if clip.missing:
        raise ProjectError(clip.path, f"clip '{clip.name}' is missing; relink it with 'facesmith relink'")
    render = pick_render(store, clip, p.render, p.model)
    total = max(render.frame_end - render.frame_start, 1)
    setup_started = time.perf_counter()
    processes = p.processes
    pool = None
    if processes > 0:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_warm)
        # Start every descriptor process now, so their model loads overlap the setup below.
        warming = [pool.submit(os.getpid) for _ in range(processes)]
    scorer = Scorer(src_embedding(store, render.model_id), (clip.width, clip.height), identity_every=p.identity_every,
                    pool=pool)
    by_frame = swapped_faces(store, clip.id)
    scorer.set_track_identities(f for fs in by_frame.values() for f in fs)
    from engine.project.images import clip_frames

    scorer.load()  # the face models, before the clock starts
    if pool is not None:
        for w in warming:
            w.result()
    rows: list[FrameScores] = []
    scored = 0
    started = time.perf_counter()
    startup = started - setup_started
    originals = clip_frames(store, clip, start=render.frame_start, stop=render.frame_end, threaded=True,
                            queue_size=8)  # any clip kind: a video or images
    merged_frames = iter(read_render(store, render))
    try:
        pending: dict[int, np.ndarray] = {}
        for frame_no, merged in merged_frames:
            while frame_no not in pending:
                got = next(originals, None)
                if got is None:
                    break
                pending[got[0]] = got[1]
            original = pending.pop(frame_no, None)
            for k in [k for k in pending if k < frame_no]:
                del pending[k]
            if original is None or original.shape != merged.shape:
                continue
            scorer.score(frame_no, merged, original, by_frame.get(frame_no, []))
            rows.extend(scorer.drain(keep=4 * max(processes, 1)))
            scored += 1
            if scored % 8 == 0:
                ctx.check()
                fps = scored / max(time.perf_counter() - started, 1e-9)
                ctx.progress(scored / total, f"{scored}/{total} frames, {fps:.1f} frames/s")
        rows.extend(scorer.drain())
    finally:
        originals.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    seconds = time.perf_counter() - started
    fps = len(rows) / seconds if seconds > 0 and rows else 0.0
    save_scores(store, ctx.job_id, clip.id, rows)
    if p.csv:
        write_csv(Path(p.csv), rows)
    worst = worst_frames(rows)
    ctx.metric(0, "frames_per_s", fps)
    ctx.metric(0, "descriptor_processes", float(processes))
    ctx.metric(0, "startup_s", startup)
    means = summary(rows)
    text = ", ".join(f"{n} {v:.3f}" for n, v in means.items() if v is not None)
    return JobResult(changes=ChangeSet.bulk("qa_frames", None, f"Quality of {clip.name}"),
                     message=f"checked {len(rows)} frames of {clip.name} (render {render.id}): {text}; worst frames "
                             f"{', '.join(str(r.frame) for r in worst[:5]) or 'none'} ({fps:.1f} frames/s after "
                             f"{startup:.1f} s loading the face models)",
                     data={"render_id": render.id, "frames": len(rows), "frames_per_s": fps, "startup_s": startup, "mean": means,
                           "worst": [r.as_row() | {"badness": r.badness()} for r in worst],
                           "csv": p.csv})
