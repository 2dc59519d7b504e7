"""Applying an XSeg model: a predicted mask for every face of chosen clips and persons.

Each face's crop (in the model's face type and resolution) is predicted in batches and
stored as an 8-bit PNG in that crop's coordinates with the model's id; applying the
model again (after more training) replaces its earlier predictions. Labels are never
touched, and the fallback rule (:func:`engine.masks.resolve.best_mask`) lets a keyframe's
label win over any prediction.

Throughput: crops are read on a background thread (JPEG and video decoding release the
GIL) while the network runs, so on two cores reading, predicting and PNG encoding overlap;
the network runs in bfloat16 where the hardware has it (:func:`bf16_ok`).
Probabilities are snapped to 0 below 0.02 and to 255 above 0.98 before encoding: the mask
keeps its soft edge, and its flat inside and outside compress to almost nothing.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import torch

from engine.masks import repo
from engine.masks.crops import CropReader
from engine.masks.resolve import select_faces
from engine.masks.shapes import MaskError
from engine.masks.xseg_net import XSegConfig, XSegNet, build
from engine.masks.xseg_trainer import pick_device, torch_threads
from engine.project.changes import ChangeSet
from engine.project.models import Face, Model
from engine.project.store import ProjectStore
from engine.swap import checkpoint as ckpt_io

if TYPE_CHECKING:
    from engine.jobs.context import JobContext
    from engine.jobs.registry import JobResult

#: Faces written to the database per transaction (and between cancel checks).
WRITE_CHUNK: Final = 128
MIN_BF16_BATCH: Final = 4
_SNAP_LOW: Final = 0.02
_SNAP_HIGH: Final = 0.98


class XSegPredictor:
    """A trained XSeg network ready to predict (eval mode, no gradients)."""

    def __init__(self, net: XSegNet, config: XSegConfig, device: torch.device, *, iteration: int = 0) -> None:
        self.net = net.to(device).eval()
        self.config = config
        self.device = device
        self.iteration = iteration
        self.bf16 = bf16_ok(device)
        if device.type == "cpu":
            self.net = self.net.to(memory_format=torch.channels_last)

    @classmethod
    def load(cls, store: ProjectStore, model: Model, *, device: str = "auto") -> XSegPredictor:
        config = XSegConfig.from_dict(model.config)
        dev = pick_device(device)
        latest = ckpt_io.find_latest(store.root / model.path)
        if latest is None:
            raise MaskError(f"XSeg model {model.id} ({model.name}) has no trained weights yet; train it first")
        ckpt = ckpt_io.load(latest, device=dev, with_optimizer=False)
        net = build(config)
        net.load_state_dict(ckpt.weights)
        return cls(net, config, dev, iteration=int(ckpt.state.get("iteration", 0)))

    @torch.inference_mode()
    def predict(self, crops: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """uint8 masks ``(B, S, S)`` for uint8 RGB crops ``(B, S, S, 3)`` at the model's size."""
        if crops.ndim != 4 or crops.shape[1:] != (self.config.resolution, self.config.resolution, 3):
            raise MaskError(f"XSeg expects (B, {self.config.resolution}, {self.config.resolution}, 3) crops, "
                            f"got {crops.shape}")
        x = torch.from_numpy(crops).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
        if self.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        # bf16 pays off in batches; a single face is faster in fp32 (oneDNN's layout
        # conversions dominate), e.g. the editor asking for one face's mask.
        bf16 = self.bf16 and len(crops) >= MIN_BF16_BATCH
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = self.net(x)
        prob = torch.sigmoid(logits.float())[:, 0]
        return quantize(prob.cpu().numpy())


def bf16_ok(device: torch.device) -> bool:
    """Whether inference runs in bfloat16: on GPUs, and on CPUs with native bf16 (AVX512-BF16,
    AMX), where it is about 1.5-2x faster; mask probabilities move by < 0.01."""
    if device.type == "cuda":
        return True
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def quantize(prob: npt.NDArray[np.floating]) -> npt.NDArray[np.uint8]:
    """Probabilities -> uint8 mask with flat 0/255 away from the edge (see module docs)."""
    out = np.rint(prob * 255.0)
    out[prob < _SNAP_LOW] = 0
    out[prob > _SNAP_HIGH] = 255
    return out.astype(np.uint8)


def _batches(reader: CropReader, faces: Sequence[Face], batch: int) -> Iterator[tuple[list[Face], np.ndarray]]:
    """Crops in batches, read ahead on a thread (two batches in flight)."""
    q: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            group: list[Face] = []
            crops: list[np.ndarray] = []
            for face, crop in reader.read(faces):
                if stop.is_set():
                    return
                group.append(face)
                crops.append(crop)
                if len(group) == batch:
                    q.put((group, np.stack(crops)))
                    group, crops = [], []
            if group:
                q.put((group, np.stack(crops)))
            q.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(exc)

    thread = threading.Thread(target=produce, name="xseg-crops", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


@dataclass
class ApplyStats:
    faces: int = 0
    seconds: float = 0.0
    png_bytes: int = 0
    changes: ChangeSet = field(default_factory=ChangeSet)

    @property
    def faces_per_s(self) -> float:
        return self.faces / self.seconds if self.seconds > 0 else 0.0


def apply_to_faces(
    store: ProjectStore,
    model: Model,
    predictor: XSegPredictor,
    faces: Sequence[Face],
    *,
    batch_size: int = 16,
    on_chunk: Callable[[int], None] | None = None,
) -> ApplyStats:
    """Predict and store masks of ``faces``; ``on_chunk(done)`` after every database write
    (progress, and the place a job checks for cancel)."""
    stats = ApplyStats()
    started = time.perf_counter()
    pending: list[tuple[int, bytes]] = []
    cfg = predictor.config

    def flush() -> None:
        if pending:
            stats.changes = stats.changes.merged(
                repo.put_predictions(store, model.id, pending, face_type=cfg.face_type, resolution=cfg.resolution))
            stats.faces += len(pending)
            pending.clear()
            if on_chunk is not None:
                on_chunk(stats.faces)

    with CropReader(store, cfg.face_type, cfg.resolution) as reader:
        for group, crops in _batches(reader, faces, batch_size):
            for face, mask in zip(group, predictor.predict(crops), strict=True):
                png = repo.encode_png(mask)
                stats.png_bytes += len(png)
                pending.append((face.id, png))
            if len(pending) >= WRITE_CHUNK:
                flush()
        flush()
    stats.seconds = time.perf_counter() - started
    return stats


@dataclass(frozen=True)
class ApplyXSegParams:
    """Parameters of ``apply_xseg`` (``facesmith xseg apply`` sets them from options)."""

    #: the XSeg model; None = the most recently trained one
    model: int | None = None
    #: clips (names or ids) and persons whose faces get masks; empty = all
    clips: list[str | int] = field(default_factory=list)
    persons: list[int] = field(default_factory=list)
    #: leave keyframes without a prediction (their label wins anyway)
    skip_keyframes: bool = False
    batch_size: int = 16
    device: str = "auto"
    #: CPU threads for torch (0 = one less than torch's default, leaving a core to reading)
    threads: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.threads <= 256:
            raise ValueError("threads must be 0-256")
        if not 1 <= self.batch_size <= 512:
            raise ValueError("batch_size must be 1-512")
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise ValueError("device must be auto, cpu or cuda[:N]")


def run_apply(ctx: JobContext, p: ApplyXSegParams) -> JobResult:
    threads = p.threads
    if threads == 0 and pick_device(p.device).type == "cpu":
        # Leave a core to the crop-reading thread: on two cores, two OpenMP threads plus
        # the reader oversubscribe the CPU and every barrier waits (measured: 2-5x slower).
        threads = max(1, torch.get_num_threads() - 1)
    with torch_threads(threads):
        return _run_apply(ctx, p)


def _run_apply(ctx: JobContext, p: ApplyXSegParams) -> JobResult:
    from engine.jobs.registry import JobResult

    store = ctx.store
    model = repo.xseg_model(store, p.model)
    faces = select_faces(store, clips=p.clips, persons=p.persons)
    if p.skip_keyframes:
        keys = set(repo.keyframes(store, (f.id for f in faces)))
        faces = [f for f in faces if f.id not in keys]
    faces.sort(key=lambda f: (f.clip_id, f.frame, f.idx))
    # Resume (after a pause or a dead engine): faces this job already gave a mask are done.
    done_ids: set[int] = set()
    if (ctx.checkpoint or {}).get("model_id") == model.id and ctx.job.started_at is not None:
        done_ids = {r[0] for r in store.connection.execute(
            "SELECT face_id FROM masks WHERE kind = 'predicted' AND model_id = ? AND updated_at >= ?",
            (model.id, ctx.job.started_at))}
    todo = [f for f in faces if f.id not in done_ids]
    skip = len(faces) - len(todo)
    predictor = XSegPredictor.load(store, model, device=p.device)
    total = len(faces)

    def chunk_done(done: int) -> None:
        ctx.save_checkpoint({"model_id": model.id, "done": skip + done})
        ctx.progress((skip + done) / max(total, 1), f"{skip + done}/{total} faces")
        ctx.check()

    ctx.progress(skip / max(total, 1), f"applying XSeg model {model.id} to {total} faces")
    stats = apply_to_faces(store, model, predictor, todo, batch_size=p.batch_size, on_chunk=chunk_done)
    ctx.metric(0, "faces_per_s", stats.faces_per_s)
    message = (f"XSeg model {model.id} (iteration {predictor.iteration}) applied to {skip + stats.faces} faces "
               f"({stats.faces_per_s:.1f} faces/s)")
    return JobResult(changes=stats.changes, message=message,
                     data={"model_id": model.id, "faces": skip + stats.faces, "faces_per_s": stats.faces_per_s,
                           "png_bytes": stats.png_bytes})
