"""The ``train_xseg`` job's body: keyframes in, a trained XSeg model out.

It trains on the keyframes of the chosen clips and persons (all of them by default),
holds a share of them out to measure IoU on faces the model has not seen, reports
progress, losses, IoU and preview images (image | label | prediction), and checkpoints.

Resume works at two levels. The model's checkpoint (``models/<id>/``) holds weights,
optimizer and iteration, so training a model again continues it. The job's checkpoint
row holds which model and up to which iteration *this job* trains, so a paused job, or
one whose engine died, continues to the same end instead of starting a new count.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from engine.masks import repo
from engine.masks.propagate import propagate, track_neighbours
from engine.masks.resolve import select_faces
from engine.masks.shapes import MaskError
from engine.masks.xseg_data import Samples, build_samples
from engine.masks.xseg_net import ARCH, XSegConfig, parameter_count
from engine.masks.xseg_trainer import TrainOptions, XSegTrainer, pick_device, torch_threads
from engine.project.changes import ChangeSet
from engine.project.models import Face

if TYPE_CHECKING:
    from engine.jobs.context import JobContext
    from engine.jobs.registry import JobResult

#: Keyframes needed before any are held out (fewer are all needed for training).
MIN_FOR_HOLDOUT: Final = 5
#: Rollbacks in a row (no good step in between) after which the job fails.
MAX_ROLLBACKS: Final = 3
PREVIEW_ROWS: Final = 4


@dataclass(frozen=True)
class TrainXSegParams:
    """Parameters of ``train_xseg`` (``facesmith xseg train`` sets them from options)."""

    #: continue this XSeg model; None creates a new one from the settings below
    model: int | None = None
    name: str = ""
    resolution: Literal[128, 256] = 256
    face_type: Literal["half", "mid_full", "full", "whole", "head"] = "whole"
    width: int = 32
    #: clips (names or ids) and persons whose keyframes to train on; empty = all
    clips: list[str | int] = field(default_factory=list)
    persons: list[int] = field(default_factory=list)
    iterations: int = 2000
    batch_size: int = 4
    lr: float = 1e-3
    #: share of keyframes held out for IoU (none when there are fewer than 5)
    holdout: float = 0.1
    #: at most this many propagated masks join the training data (0 = none)
    propagated: int = 0
    propagated_min_confidence: float = 0.3
    eval_every: int = 250
    preview_every: int = 500
    save_every: int = 500
    seed: int = 0
    device: str = "auto"
    #: CPU threads for torch (0 = torch's default)
    threads: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.threads <= 256:
            raise ValueError("threads must be 0-256")
        if not 4 <= self.width <= 128 or self.width % 4:
            raise ValueError(f"width must be a multiple of 4 in 4..128, got {self.width}")
        if self.iterations < 0:
            raise ValueError("iterations must be >= 0")
        if not 1 <= self.batch_size <= 64:
            raise ValueError("batch_size must be 1-64")
        if not 0 < self.lr < 1:
            raise ValueError("lr must be in (0, 1)")
        if not 0 <= self.holdout < 1:
            raise ValueError("holdout must be in [0, 1)")
        if self.propagated < 0 or not 0 <= self.propagated_min_confidence <= 1:
            raise ValueError("propagated must be >= 0 and propagated_min_confidence in [0, 1]")
        if min(self.eval_every, self.preview_every, self.save_every) < 1:
            raise ValueError("eval_every, preview_every and save_every must be >= 1")
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise ValueError("device must be auto, cpu or cuda[:N]")


def split_holdout(face_ids: list[int], share: float, seed: int) -> tuple[list[int], list[int]]:
    """``(train, held_out)``: a seeded, reproducible share of the keyframes held out."""
    ids = sorted(face_ids)
    if share <= 0 or len(ids) < MIN_FOR_HOLDOUT:
        return ids, []
    random.Random(seed).shuffle(ids)
    n = max(1, int(round(share * len(ids))))
    return sorted(ids[n:]), sorted(ids[:n])


def propagated_samples(store: Any, faces: list[Face], keys: list[Face], labels: dict[int, Any], *,
                       config: XSegConfig, limit: int, min_confidence: float) -> Samples | None:
    """Up to ``limit`` propagated masks of non-keyframe faces, the most confident first,
    weighted by confidence."""
    if limit <= 0:
        return None
    near = track_neighbours(faces, keys)
    chosen: dict[int, Any] = {}
    weights: dict[int, float] = {}
    by_id = {f.id: f for f in faces}
    # Nearest to a keyframe first; ties broken by id for reproducibility.
    order = sorted(near, key=lambda i: (near[i].distance(by_id[i].frame) or 0, i))
    for fid in order:
        if len(chosen) >= limit:
            break
        face = by_id[fid]
        got = propagate(face, near[fid], labels, repo.crop_matrix(face, config.face_type, config.resolution),
                        config.resolution)
        if got is not None and got.confidence >= min_confidence:
            chosen[fid] = got.mask
            weights[fid] = got.confidence
    if not chosen:
        return None
    return build_samples(store, [by_id[i] for i in chosen], chosen, face_type=config.face_type,
                         size=config.resolution, weights=weights)


def run_training(ctx: JobContext, p: TrainXSegParams) -> JobResult:
    with torch_threads(p.threads):
        return _run_training(ctx, p)


def _run_training(ctx: JobContext, p: TrainXSegParams) -> JobResult:
    from engine.jobs.registry import JobResult

    store = ctx.store
    started = time.monotonic()
    resume = ctx.checkpoint or {}
    changes = ChangeSet()
    model_id = resume.get("model_id") or p.model
    if model_id is None:
        config = XSegConfig(resolution=p.resolution, face_type=p.face_type, width=p.width)
        name = p.name or f"XSeg {config.face_type} {config.resolution}"
        model, changes = repo.create_model(store, name=name, arch=ARCH, face_type=config.face_type,
                                           resolution=config.resolution, config=config.to_dict())
        model_id = model.id
        ctx.save_checkpoint({"model_id": model_id})
    model = repo.xseg_model(store, int(model_id))
    config = XSegConfig.from_dict(model.config)

    faces = select_faces(store, clips=p.clips, persons=p.persons)
    key_ids = repo.keyframes(store, (f.id for f in faces))
    if not key_ids:
        raise MaskError(f"{store.root}: no keyframes among the {len(faces)} chosen faces; label some faces "
                        "first (the mask painter, or 'facesmith xseg label-hull')")
    labels = repo.get_labels(store, key_ids)
    train_ids, val_ids = split_holdout(key_ids, p.holdout, p.seed)
    by_id = {f.id: f for f in faces}
    ctx.progress(0.0, f"reading {len(key_ids)} keyframes")
    train = build_samples(store, [by_id[i] for i in train_ids], dict(labels), face_type=config.face_type,
                          size=config.resolution)
    val = build_samples(store, [by_id[i] for i in val_ids], dict(labels), face_type=config.face_type,
                        size=config.resolution)
    keys = [by_id[i] for i in key_ids]
    extra = propagated_samples(store, [f for f in faces if f.id not in labels], keys, labels, config=config,
                               limit=p.propagated, min_confidence=p.propagated_min_confidence)

    trainer = XSegTrainer(config, train, extra=extra, device=pick_device(p.device),
                          options=TrainOptions(batch_size=p.batch_size, lr=p.lr, seed=p.seed))
    folder = store.root / model.path
    resumed = trainer.load(folder)
    start = trainer.iteration
    target = int(resume.get("target") or start + p.iterations)
    job_state = {"model_id": model_id, "target": target}
    ctx.save_checkpoint(job_state)
    # Previews show held-out faces first (what the model has not seen), then training ones.
    shown = Samples.concat([val.head(PREVIEW_ROWS), train.head(PREVIEW_ROWS)]).head(PREVIEW_ROWS)
    info = {"keyframes": len(train), "held_out": len(val), "propagated": len(extra) if extra else 0}

    def save() -> dict[str, Any]:
        trainer.save(folder, {"job_id": ctx.job_id, **info})
        repo.set_model_iteration(store, model_id, trainer.iteration)
        return job_state

    if not resumed:
        save()  # iteration 0: there is always a checkpoint to roll back to
    ctx.event("info", f"XSeg model {model_id} ({config.resolution} px, {config.face_type}, width {config.width}, "
              f"{parameter_count(trainer.net) / 1e6:.2f} M parameters): {info['keyframes']} keyframes, "
              f"{info['held_out']} held out, {info['propagated']} propagated; iterations {start} -> {target}")
    iou = math.nan
    rollbacks_in_a_row = 0
    while trainer.iteration < target:
        ctx.check(save=save)
        t = time.perf_counter()
        losses = trainer.step()
        it = trainer.iteration
        if losses.get("rolled_back"):
            rollbacks_in_a_row += 1
            if rollbacks_in_a_row > MAX_ROLLBACKS:
                raise MaskError(f"XSeg training diverged {rollbacks_in_a_row} times in a row near iteration {it}; "
                                "lower the learning rate")
            ctx.event("rollback", f"loss not finite; rolled back to iteration {it}, learning rate now "
                      f"x{trainer.lr_scale:g}", step=it)
            continue
        rollbacks_in_a_row = 0
        for name, value in losses.items():
            ctx.metric(it, name, value)
        ctx.metric(it, "ms_per_iter", 1000.0 * (time.perf_counter() - t))
        last = it >= target
        if it % p.eval_every == 0 or last:
            iou = _evaluate(ctx, trainer, val, train, it)
        if it % p.preview_every == 0 or last:
            ctx.preview(trainer.preview(shown), step=it)
        if it % p.save_every == 0 and not last:
            save()
        ctx.progress((it - start) / max(target - start, 1), f"iteration {it}/{target}, loss {losses['loss']:.3f}")
    if target == start:
        iou = _evaluate(ctx, trainer, val, train, start)
    save()
    took = time.monotonic() - started
    where = "held-out" if len(val) else "training"
    message = (f"XSeg model {model_id} at iteration {trainer.iteration}: IoU {iou:.3f} on {where} keyframes "
               f"({took:.0f} s)")
    return JobResult(changes=changes.merged(ChangeSet.bulk("models", [model_id]), label="Train XSeg"), message=message,
                     data={"model_id": model_id, "iteration": trainer.iteration,
                           "iou": None if math.isnan(iou) else iou, "iou_on": where,
                           "seconds": took, **info})


def _evaluate(ctx: JobContext, trainer: XSegTrainer, val: Samples, train: Samples, it: int) -> float:
    if len(val):
        iou = trainer.evaluate(val)
        ctx.metric(it, "iou_val", iou)
    else:
        iou = trainer.evaluate(train)
        ctx.metric(it, "iou_train", iou)
    return iou
