"""The ``render`` job: a frame range of a clip merged with a swap model, written out.

Three stages overlap on their own threads, so on two cores decoding and encoding
hide behind the model and the merge:

1. **decode** (:func:`engine.media.iter_frames`, threaded) from the first frame still to
   do, ``smooth_mask`` frames earlier and later than the range so the temporal windows at
   its ends are full, exactly as in a whole-clip render and in the preview;
2. **predict and merge** on the job's thread: frames are gathered until ``batch_size``
   faces are waiting, cropped and swapped in one model call, their mask sources built,
   and each frame merged once its mask window is complete;
3. **write** (:mod:`engine.merge.sinks`) on a writer thread behind a short queue.

Resumable: a paused, shut down or killed render starts again at the first frame (PNG,
RGBA) or part (video) not yet on disk. A frame the decoder cannot produce is replaced by
the previous merged frame, so the output keeps the clip's frame count and stays in sync
with its audio; the job reports how many.

Every output carries the provenance mark (:mod:`engine.merge.provenance`), and a row in
the project's ``renders`` table records what was rendered with what.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np

from engine.errors import ProjectError
from engine.media import DecodeStats, iter_frames
from engine.merge.composite import FaceLayer, FrameMerge, merge_frame
from engine.merge.encode import PRESETS, VideoSpec, check_encoder
from engine.merge.masks import FloatMask, combine, temporal_blend
from engine.merge.keys import KeyedSettings, load_keyed
from engine.merge.predict import FacePredictor, Prediction
from engine.merge.stability import Placement
from engine.merge.settings import MergeSettings, MergeSettingsError, load_clip_settings

if TYPE_CHECKING:
    from engine.jobs.context import JobContext
    from engine.jobs.registry import JobResult
    from engine.merge.sinks import Sink
    from engine.project.models import Clip, Face
    from engine.project.store import ProjectStore
    from engine.swap.inference import SwapModel

Format = Literal["mp4", "mkv", "png", "rgba"]
_EXTENSIONS: Final = {"mp4": ".mp4", "mkv": ".mkv", "png": "", "rgba": ""}
_WRITE_QUEUE: Final = 6


@dataclass(frozen=True)
class RenderParams:
    """Parameters of ``render`` (``facesmith render`` sets them from its options).

    ``start``/``stop`` default to the clip's in/out range; ``settings`` (MergeSettings
    JSON) defaults to the clip's saved settings; ``out`` defaults to a name under the
    project's ``renders/`` folder (a relative ``out`` is relative to the project).
    """

    clip: str | int
    model: int | None = None
    out: str | None = None
    format: Format = "mp4"
    start: int | None = None
    stop: int | None = None
    codec: Literal["h264", "h265"] = "h264"
    crf: int = 18
    preset: str = "medium"
    settings: dict[str, Any] | None = None
    device: str = "auto"
    batch_size: int = 8
    segment_frames: int = 250
    audio: bool = True
    #: torch threads (0: on a CPU one less than the cores, leaving one to decoding and encoding)
    threads: int = 0
    #: model arithmetic: auto (bfloat16 where the device has it natively), fp32 or bf16
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    #: swap only these persons' faces (replaces the clip's merge targets); None: the targets
    persons: list[int] | None = None
    #: apply the clip's merge keys and face overrides on top of the settings
    keys: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be 0-51, got {self.crf}")
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        if not 1 <= self.batch_size <= 256:
            raise ValueError("batch_size must be 1-256")
        if not 1 <= self.segment_frames <= 100_000:
            raise ValueError("segment_frames must be 1-100000")
        if not 0 <= self.threads <= 256:
            raise ValueError("threads must be 0-256")
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise ValueError("device must be auto, cpu or cuda[:N]")
        for name in ("start", "stop"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if self.settings is not None:
            try:
                MergeSettings.from_json(self.settings)
            except MergeSettingsError as exc:
                raise ValueError(str(exc)) from None


# ---------------------------------------------------------------------- choices
def pick_model(store: ProjectStore, model_id: int | None) -> int:
    """``model_id`` checked to be a swap model, or the most recently trained one."""
    if model_id is not None:
        model = store.model(model_id)
        if model.kind != "swap":
            raise ProjectError(store.root, f"model {model_id} is an {model.kind} model, not a swap model")
        return model_id
    models = store.models("swap")
    if not models:
        raise ProjectError(store.root, "the project has no swap model yet; train one with 'facesmith train'")
    return max(models, key=lambda m: (m.updated_at, m.id)).id


def load_model(store: ProjectStore, model_id: int, device: str = "auto") -> SwapModel:
    import torch

    from engine.swap.inference import SwapModel

    dev = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    return SwapModel.from_project(store, model_id, device=dev)


def frame_range(clip: Clip, start: int | None, stop: int | None) -> tuple[int, int]:
    lo, hi = clip.frame_range
    a = lo if start is None else start
    b = hi if stop is None else min(stop, clip.frame_count)
    if not 0 <= a < b:
        raise ProjectError(clip.path, f"frame range {a}:{b} is empty (the clip has {clip.frame_count} frames)")
    return a, b


def output_path(store: ProjectStore, clip: Clip, p: RenderParams, model_id: int, job_id: int) -> Path:
    if p.out:
        out = Path(p.out).expanduser()
        return out if out.is_absolute() else store.root / out
    return store.root / "renders" / f"{clip.name}_model{model_id}_job{job_id}{_EXTENSIONS[p.format]}"


# ---------------------------------------------------------------------- the merge loop
@dataclass
class _FrameWork:
    frame_no: int
    image: np.ndarray
    preds: list[Prediction] = field(default_factory=list)
    raw: list[FloatMask] = field(default_factory=list)


class _Writer(threading.Thread):
    """Runs the sink on its own thread; errors are re-raised on the job's thread."""

    def __init__(self, sink: Sink) -> None:
        super().__init__(name="facesmith-render-writer", daemon=True)
        self.sink = sink
        self.items: queue.Queue[tuple[int, FrameMerge] | None] = queue.Queue(maxsize=_WRITE_QUEUE)
        self.error: BaseException | None = None
        self.written = 0

    def run(self) -> None:
        while (item := self.items.get()) is not None:
            if self.error is None:
                try:
                    self.sink.write(*item)
                    self.written += 1
                except BaseException as exc:  # handed to the job's thread
                    self.error = exc

    def put(self, frame_no: int, merged: FrameMerge) -> None:
        if self.error is not None:
            raise self.error
        self.items.put((frame_no, merged))

    def finish(self) -> None:
        """Write what is queued, stop, and raise the writer's error if it had one."""
        self.stop()
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        if self.is_alive():
            self.items.put(None)
            self.join()


class _Places:
    """Each face's placement at the alignment smoothing its own settings give it."""

    def __init__(self, by_strength: dict[float, dict[int, Placement]], settings_of: Any) -> None:
        self.by_strength = by_strength
        self.settings_of = settings_of
        self.only = next(iter(by_strength.values())) if len(by_strength) == 1 else None

    def of(self, face: Face) -> Placement:
        if self.only is not None:
            return self.only[face.id]
        return self.by_strength[self.settings_of(face.id, face.frame).smooth_alignment][face.id]


def merged_frames(predictor: FacePredictor, clip: Clip, settings: MergeSettings, frames: tuple[int, int],
                  *, index_cache_dir: Path | None = None, stats: DecodeStats | None = None,
                  check: Any = None, keyed: KeyedSettings | None = None) -> Iterator[tuple[int, FrameMerge]]:
    """``(frame number, merged frame)`` for every frame of ``frames`` the decoder delivers,
    in order (the render's stages 1-2; usable on its own, e.g. by benchmarks). With
    ``keyed`` (merge keys and face overrides on top of ``settings``) each face is merged
    with its own settings at its frame."""
    first, stop = frames
    keyed = keyed if keyed is not None and not keyed.static else None
    radius = settings.temporal_radius
    by_frame = predictor.faces_by_frame(clip.id)
    strengths = {settings.smooth_alignment} if keyed is None else keyed.alignment_strengths()
    by_strength = {st: predictor.placements(clip.id, st) for st in strengths}
    mask_sources = settings.mask if keyed is None else keyed.mask_sources()

    def face_settings(face_id: int, frame_no: int) -> MergeSettings:
        return settings if keyed is None else keyed.for_face(face_id, frame_no)

    places = _Places(by_strength, face_settings)
    pending: deque[_FrameWork] = deque()
    track_masks: dict[tuple[int, int], FloatMask] = {}
    batch: list[_FrameWork] = []
    last_seen = -1

    def predict(works: list[_FrameWork]) -> None:
        items = [(f, places.of(f), w.image) for w in works for f in by_frame.get(w.frame_no, [])]
        preds = predictor.predict(items)
        srcs = predictor.sources(preds, [it[2] for it in items], mask_sources, xseg_model=settings.xseg_model)
        k = 0
        for w in works:
            for f in by_frame.get(w.frame_no, []):
                raw = combine(srcs[k], face_settings(f.id, w.frame_no).mask, predictor.size)
                w.preds.append(preds[k])
                w.raw.append(raw)
                if preds[k].face.track_id is not None:
                    track_masks[(preds[k].face.track_id, w.frame_no)] = raw
                k += 1
            pending.append(w)

    def ready(final: bool) -> Iterator[tuple[int, FrameMerge]]:
        while pending and (final or pending[0].frame_no + radius <= last_seen):
            w = pending.popleft()
            if first <= w.frame_no < stop:
                layers = []
                for pred, raw in zip(w.preds, w.raw, strict=True):
                    mask = raw
                    track = pred.face.track_id
                    if radius and track is not None:
                        near = [(d, track_masks[(track, w.frame_no + d)]) for d in range(-radius, radius + 1)
                                if d and (track, w.frame_no + d) in track_masks]
                        mask = temporal_blend(raw, near, radius)
                    layers.append(FaceLayer(pred.face.id, pred.placement.matrix,
                                            pred.dst.astype(np.float32) / 255.0, pred.swapped, mask))
                if keyed is None:
                    yield w.frame_no, merge_frame(w.image, layers, settings)
                else:
                    per = [face_settings(p.face.id, w.frame_no) for p in w.preds]
                    yield w.frame_no, merge_frame(w.image, layers, keyed.at(w.frame_no), per)
            for key in [k for k in track_masks if k[1] <= w.frame_no - radius]:
                del track_masks[key]

    from engine.project.images import clip_frames

    decode = clip_frames(predictor.store, clip, start=max(0, first - radius), stop=min(clip.frame_count, stop + radius),
                         threaded=True, queue_size=8, stats=stats, index_cache_dir=index_cache_dir)
    try:
        for frame_no, image in decode:
            batch.append(_FrameWork(frame_no, image))
            last_seen = frame_no
            faces = sum(len(by_frame.get(w.frame_no, [])) for w in batch)
            if faces >= predictor.batch_size or len(batch) >= 4 * predictor.batch_size:
                if check is not None:
                    check()
                predict(batch)
                batch = []
                yield from ready(final=False)
        predict(batch)
        yield from ready(final=True)
    finally:
        decode.close()


# ---------------------------------------------------------------------- the job
def run_render(ctx: JobContext, p: RenderParams) -> JobResult:
    import torch

    from engine.masks.xseg_trainer import pick_device, torch_threads

    threads = p.threads
    if threads == 0 and pick_device(p.device).type == "cpu":
        # On a CPU the decode and encode threads need a core: two OpenMP threads sharing
        # two cores with them stall at every barrier (measured here: 4-20x slower).
        threads = max(1, torch.get_num_threads() - 1)
    with torch_threads(threads):
        return _run(ctx, p)


def _run(ctx: JobContext, p: RenderParams) -> JobResult:
    from engine.jobs.context import JobInterrupted
    from engine.jobs.registry import JobResult
    from engine.merge import provenance
    from engine.project.changes import ChangeSet

    store = ctx.store
    clip = store.find_clip(p.clip)
    if clip.missing:
        raise ProjectError(clip.path, f"clip '{clip.name}' is missing; relink it with 'facesmith relink'")
    model_id = pick_model(store, p.model)
    settings = MergeSettings.from_json(p.settings) if p.settings is not None else load_clip_settings(store, clip.id)
    frames = frame_range(clip, p.start, p.stop)
    from engine.project.images import check_renderable

    check_renderable(store, clip, p.format)
    out = output_path(store, clip, p, model_id, ctx.job_id)
    if p.format in ("mp4", "mkv"):
        check_encoder(p.codec)
    model = load_model(store, model_id, p.device)
    row = store.model(model_id)
    keyed = load_keyed(store, clip.id, settings) if p.keys else None
    record = provenance.provenance(
        model={"id": model_id, "name": row.name, "arch": model.config.arch_string, "resolution": model.resolution,
               "face_type": model.face_type, "iteration": model.iteration},
        clip=clip.name, settings=settings, frames=frames)
    if keyed is not None:
        record.update(keyed.provenance())  # "keyframed": setting -> [[frame, value, interp], ...]
    sink = _sink(store, clip, p, settings, frames, out, record, ctx.job_id)
    finished = (ctx.checkpoint or {}).get("finished") and out.exists()
    first = frames[1] if finished else sink.first_todo()
    total = frames[1] - frames[0]
    if p.persons:
        from engine.project.targets import check_persons

        check_persons(store, clip, p.persons)
    predictor = FacePredictor(store, model, batch_size=p.batch_size, xseg_device=p.device, precision=p.precision,
                              persons=p.persons)
    stats = DecodeStats()
    writer = _Writer(sink)
    writer.start()
    started = time.perf_counter()
    done, filled, expected, last = 0, 0, first, None
    ctx.progress((first - frames[0]) / total, f"rendering {clip.name} {frames[0]}:{frames[1]}")
    try:
        if first < frames[1]:
            for frame_no, merged in merged_frames(predictor, clip, settings, (first, frames[1]),
                                                  index_cache_dir=store.root / "cache", stats=stats,
                                                  check=lambda: ctx.check(save=lambda: {"finished": False}),
                                                  keyed=keyed):
                while expected < frame_no:  # a frame the decoder could not produce
                    writer.put(expected, last or merged)
                    expected, filled = expected + 1, filled + 1
                writer.put(frame_no, merged)
                expected, last, done = frame_no + 1, merged, done + 1
                fps = done / max(time.perf_counter() - started, 1e-9)
                ctx.progress((frame_no + 1 - frames[0]) / total, f"{frame_no + 1 - frames[0]}/{total} frames, "
                             f"{fps:.1f} frames/s")
            while expected < frames[1] and last is not None:
                writer.put(expected, last)
                expected, filled = expected + 1, filled + 1
        writer.finish()
    except BaseException as exc:
        writer.stop()
        # Paused, shut down or lost: keep the work for the resume. Cancelled or failed:
        # no one resumes this job, so its partial video goes.
        keep = isinstance(exc, JobInterrupted) and exc.reason != "cancel"
        sink.close(complete=False, discard=not keep)
        raise
    if not finished:
        sink.close(complete=True)
        ctx.save_checkpoint({"finished": True})
    seconds = time.perf_counter() - started  # the final remux included
    fps = done / seconds if seconds > 0 and done else 0.0
    if done:
        ctx.metric(0, "frames_per_s", fps)
    if filled:
        ctx.event("warning", f"{filled} frame(s) could not be decoded and repeat the previous merged frame")
    render_id, changes = _record(store, clip, ctx.job_id, model_id, out, p.format, frames, settings)
    message = (f"rendered {clip.name} frames {frames[0]}:{frames[1]} to {out} "
               f"({done} frames this run, {fps:.1f} frames/s)")
    return JobResult(changes=changes or ChangeSet(), message=message,
                     data={"path": str(out), "render_id": render_id, "frames": total, "rendered": done,
                           "frames_per_s": fps, "filled": filled, "model_id": model_id})


def _sink(store: ProjectStore, clip: Clip, p: RenderParams, settings: MergeSettings, frames: tuple[int, int],
          out: Path, record: dict[str, Any], job_id: int) -> Sink:
    from engine.merge import provenance
    from engine.merge.sinks import PngSink, RgbaSink, VideoSink

    if p.format in ("png", "rgba"):
        chunks = provenance.png_chunks(record)
        if p.format == "png":
            return PngSink(out, frames, chunks, job_id=job_id)
        # The settings the patches were merged with, as the provenance records them: the
        # base, its keys ("keyframed") and the faces' overrides ("face_overrides").
        used = {k: record[k] for k in ("merge_settings", "keyframed", "face_overrides") if k in record}
        return RgbaSink(out, frames, chunks, settings=settings, fps=clip.fps, frame_size=(clip.width, clip.height),
                        header={"clip": clip.name, **used, "provenance": record}, job_id=job_id)
    spec = VideoSpec(p.codec, p.crf, p.preset, clip.fps, clip.width, clip.height)
    parts = store.root / "renders" / ".parts" / f"job{job_id}"
    audio = clip.path if p.audio and clip.audio_streams else None
    return VideoSink(out, parts, spec, frames, segment=p.segment_frames,
                     container_format="mp4" if p.format == "mp4" else "matroska",
                     metadata=provenance.video_metadata(record), audio_from=audio,
                     index_cache_dir=store.root / "cache")


def _record(store: ProjectStore, clip: Clip, job_id: int, model_id: int, out: Path, fmt: str,
            frames: tuple[int, int], settings: MergeSettings) -> tuple[int, Any]:
    """The render's row (once per job, also when a finished job is resumed)."""
    existing = store.scalar("SELECT id FROM renders WHERE job_id = ?", (job_id,))
    if existing is not None:
        return int(existing), None
    try:
        path = out.resolve().relative_to(store.root.resolve()).as_posix()
    except ValueError:
        path = str(out)
    return store.insert_row("renders", {
        "clip_id": clip.id, "job_id": job_id, "model_id": model_id, "path": path, "format": fmt,
        "frame_start": frames[0], "frame_end": frames[1], "settings": json.dumps(settings.to_json(), sort_keys=True),
        "created_at": time.time()}, label=f"Render {clip.name}")
