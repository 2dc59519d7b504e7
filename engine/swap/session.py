"""A training session: from a ``train_swap`` job to a trained model on disk.

The session owns everything around :class:`~engine.swap.trainer.Trainer` that a job
needs: the model's row in the project, its checkpoint folder, the face sets, and the
loop with its timers (checkpoint every N minutes, preview every N iterations, metric
rows), its stops (target reached, pause, cancel, shutdown: all checkpoint first) and
the **collapse guard**: a loss that turns NaN/inf or jumps far above its running median
or a gradient that is not finite (its update is never applied) rolls the model back to
the newest checkpoint that passed the guard, halves the learning rate, draws different
batches, records an event and carries on; the job's status line says so. A checkpoint
is written only once the weights and optimizer state are finite and the loss *after*
the update (on the preview's fixed faces) is within the guard's bounds; one that fails
is a rollback instead, and a rollback falls back through the backups past any
checkpoint whose tensors are not finite, so bad weights are never kept nor returned to.

Batches are prepared on a prefetch thread, one or two steps ahead
(:mod:`engine.swap.prefetch`); checkpoints and rollbacks first rewind it, so they hold
exactly what they would without it.

Previews come at the start, then every ``preview_every`` iterations and every
``preview_every_s`` seconds (60 on a CPU, 30 on a GPU), so a slow CPU run shows the model
learning within its first minute. On a CPU shared with other jobs (engine.jobs.lanes)
training takes the threads its lane leaves it and says so in its status.

The same code runs in the worker process (one device) and in every DDP rank; only rank
0 reports and writes files (``ctx`` is None on the other ranks), and the stop decision
and losses travel in one small all-reduce per step so every rank decides alike.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Final

import torch

from engine.jobs.context import JobContext, JobInterrupted, StopReason
from engine.jobs.registry import JobResult
from engine.project.changes import ChangeSet
from engine.project.layout import inside
from engine.project.store import ProjectStore
from engine.swap import checkpoint
from engine.swap.config import ModelConfig, SwapConfigError, TrainConfig
from engine.swap.dataset import select_faces, training_selection
from engine.swap.optim import CollapseGuard
from engine.swap.prefetch import BatchSource
from engine.swap.request import TrainRequest
from engine.swap.runtime import tuned_cpu_allocator
from engine.swap.trainer import DistInfo, Trainer

log = logging.getLogger("facesmith.engine")

#: Rollbacks in a row (without a checkpoint in between) after which the job fails.
MAX_ROLLBACKS: Final = 5
_STOP_CODES: Final[dict[StopReason | None, int]] = {None: 0, "cancel": 1, "pause": 2, "shutdown": 3, "lost": 4}
_STOP_REASONS: Final = {v: k for k, v in _STOP_CODES.items()}


class SwapTrainingError(SwapConfigError):
    """Training cannot go on (it keeps diverging, a model row vanished, ...)."""


# ---------------------------------------------------------------------------- model rows
def model_folder(store: ProjectStore, model_id: int) -> Path:
    row = store.row("models", model_id)
    if row is None or row["kind"] != "swap":
        raise SwapConfigError(f"{store.root}: no swap model with id {model_id}")
    return inside(store.root, row["path"] or f"models/{model_id}/")


def saved_configs(store: ProjectStore, model_id: int) -> tuple[ModelConfig, TrainConfig, dict[str, Any] | None]:
    """A model's shape and last training settings: from its newest checkpoint, else its row."""
    folder = model_folder(store, model_id)
    latest = checkpoint.find_latest(folder)
    if latest is not None:
        st = checkpoint.read_state(latest)
        return ModelConfig.from_json(st["model_config"]), TrainConfig.from_json(st["train_config"]), st
    cfg = json.loads(store.row("models", model_id)["config"] or "{}")  # type: ignore[index]
    return ModelConfig.from_json(cfg["model"]), TrainConfig.from_json(cfg.get("train", {})), None


def check_request(store: ProjectStore, req: TrainRequest) -> None:
    """Refuse, before anything is queued or created, a request that cannot run."""
    if req.model is not None:
        model_cfg, train_cfg, _ = saved_configs(store, req.model)
        req.continued_configs(req.model, model_cfg, train_cfg)


def prepare_model(ctx: JobContext, req: TrainRequest) -> int:
    """The job's model id: the one it already trains (a resumed job), the one asked
    for, or a new row. Recorded in the job's checkpoint before any training."""
    store = ctx.store
    known = (ctx.checkpoint or {}).get("model_id")
    if known is not None:
        model_folder(store, int(known))
        return int(known)
    if req.from_pretrained is not None:
        from engine.swap.pretrained import start_from_pretrained

        model_id = start_from_pretrained(store, req.from_pretrained, keep_decoders=req.keep_decoders, name=req.name,
                                         seed=req.seed or 0)
        check_request(store, dataclasses.replace(req, model=model_id, from_pretrained=None))
    elif req.model is not None:
        check_request(store, req)
        model_id = req.model
    else:
        model_cfg, train_cfg = req.new_configs()
        now = time.time()
        config = json.dumps({"model": model_cfg.to_json(), "train": train_cfg.to_json(),
                             "preset": req.preset})
        with store.transaction() as c:
            cur = c.execute(
                "INSERT INTO models (kind, name, arch, face_type, resolution, config, iteration, path, created_at, "
                "updated_at) VALUES ('swap', ?, ?, ?, ?, ?, 0, '', ?, ?)",
                (req.name or f"{model_cfg.arch_string} {model_cfg.resolution}px", model_cfg.arch_string,
                 model_cfg.face_type, model_cfg.resolution, config, now, now))
            model_id = int(cur.lastrowid)
            c.execute("UPDATE models SET path = ? WHERE id = ?", (f"models/{model_id}/", model_id))
    ctx.save_checkpoint({"model_id": model_id, "iteration": 0})
    return model_id


# ---------------------------------------------------------------------------- helpers
def pick_device(req: TrainRequest, dist: DistInfo, gpu_index: int | None = None) -> torch.device:
    if req.device and req.device != "cuda":
        return torch.device(req.device)
    if torch.cuda.is_available() and req.device != "cpu":
        # A worker's GPU lane names the device (one job per GPU); DDP ranks use their own.
        return torch.device("cuda", gpu_index if gpu_index is not None and dist.world == 1 else dist.local_rank)
    return torch.device("cpu")


def _sync(values: list[float], dist: DistInfo, device: torch.device) -> list[float]:
    """Sum ``values`` over the DDP ranks (identity without DDP)."""
    if dist.world == 1:
        return values
    import torch.distributed as tdist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    tdist.all_reduce(t)
    return t.tolist()


def _faces(store: ProjectStore, cfg: ModelConfig, eff: TrainConfig, req: TrainRequest, device: torch.device,
           ctx: JobContext | None) -> tuple[Any, Any]:
    """The src and dst training faces, packed on disk once and cached on the device within
    the budget (:mod:`engine.swap.facestore`); selection is :func:`select_faces`'."""
    from engine.swap import facestore

    def progress(what: str) -> Any:
        return lambda done, total: ctx.progress(0.0, f"packing {what} faces {done}/{total}") if ctx else None

    budget = (req.face_cache_mb << 20) if req.face_cache_mb else facestore.default_budget(device, cfg, eff.batch_size)
    kw = {"face_type": cfg.face_type, "resolution": cfg.resolution}
    local = max(1, eff.batch_size // max(1, req.world))

    def stored(pack: facestore.Pack, share: float) -> facestore.StoredFaces:
        return facestore.StoredFaces(pack, device, budget=int(budget * share), max_batch=local)

    if eff.pretrain and req.pretrain_faces:  # a generic face folder, both sides
        both = stored(facestore.pack_folder(req.pretrain_faces, store.root / "cache", resolution=cfg.resolution,
                                            progress=progress("pretraining")), 1.0)
        return both, both
    if eff.pretrain:  # any faces of the project, both sides
        both = stored(facestore.pack_project_faces(store, select_faces(store, None), progress=progress("pretraining"),
                                                   what="pretraining face set", **kw), 1.0)
        return both, both
    src = facestore.pack_project_faces(store, training_selection(store, "src", req.persons_of("src"), req.clips),
                                       progress=progress("src"), what="src face set", **kw)
    dst = facestore.pack_project_faces(store, training_selection(store, "dst", req.persons_of("dst"), req.clips),
                                       progress=progress("dst"), what="dst face set", **kw)
    share = len(src) / (len(src) + len(dst))  # the budget split by size: both fit, or both stream
    return stored(src, share), stored(dst, 1.0 - share)


def _out_of_bounds(guard: CollapseGuard, losses: tuple[float, float]) -> str | None:
    """The guard's test, without remembering the values: not finite, or above its factor
    times the running median of the training losses (once it has enough of them)."""
    for name, value, hist in zip(("src", "dst"), losses, guard.state() or [[], []], strict=False):
        if not math.isfinite(value):
            return f"{name} loss after the update is {value}"
        if len(hist) >= guard.min_history:
            median = sorted(hist)[len(hist) // 2]
            if value > guard.factor * median:
                return (f"{name} loss after the update {value:.4g} is above {guard.factor:g}x "
                        f"the running median {median:.4g}")
    return None


# ---------------------------------------------------------------------------- the session
class Session:
    """One run of the training loop for one model (see the module docstring)."""

    def __init__(self, ctx: JobContext | None, store: ProjectStore, req: TrainRequest, model_id: int,
                 dist: DistInfo = DistInfo()) -> None:
        self.ctx, self.store, self.req, self.model_id, self.dist = ctx, store, req, model_id, dist
        self.folder = model_folder(store, model_id)
        self.device = pick_device(req, dist, ctx.gpu_index if ctx is not None else None)
        # The newest checkpoint whose tensors are finite (one written by an older version
        # without the check may not be): a resume never starts from bad weights either.
        found = None
        if checkpoint.find_latest(self.folder) is not None:
            found = checkpoint.load_newest_good(self.folder, device=self.device)
            if found is None:
                raise SwapTrainingError(f"{self.folder}: no checkpoint of model {model_id} has finite weights; "
                                        "restore one from elsewhere or train a new model")
        ckpt = found[0] if found is not None else None
        if found is not None and found[1]:
            log.warning("model %s: resuming past %s", model_id, "; ".join(found[1]))
        if ckpt is not None:
            model_cfg, train_cfg = req.continued_configs(
                model_id, ModelConfig.from_json(ckpt.state["model_config"]),
                TrainConfig.from_json(ckpt.state["train_config"]))
            seed = int(ckpt.state.get("seed", 0))
            saved_target = int(ckpt.state.get("target", 0))
        else:
            model_cfg, train_cfg, _ = saved_configs(store, model_id)
            train_cfg = train_cfg.updated(req.train_overrides())
            seed = req.seed if req.seed is not None else model_id
            saved_target = 0
        self.target = req.iterations if req.iterations is not None else saved_target
        src, dst = _faces(store, model_cfg, train_cfg.effective(), req, self.device, ctx)
        self.trainer = Trainer(model_cfg, train_cfg, src, dst, device=self.device, seed=seed, target=self.target,
                               dist=dist, compile=req.compile)
        self.trainer.fault_nan_at = req.fault_nan_at
        self.trainer.fault_inf_grad_at = req.fault_inf_grad_at
        #: The steps' batches, prepared on the prefetch thread (engine.swap.prefetch).
        self.batches = BatchSource(self.trainer, prefetch=req.prefetch, fault_at=req.fault_prep_at)
        self.resumed_from: int | None = None
        #: A checkpoint of the current phase must exist before the first step (rollbacks).
        self.initial_save = ckpt is None
        if ckpt is not None:
            restored = self.trainer.load(ckpt)
            self.resumed_from = self.trainer.iteration
            was_pretraining = bool(ckpt.state["train_config"].get("pretrain"))
            if was_pretraining and not train_cfg.pretrain:
                self.trainer.reset_after_pretraining()
                self.initial_save = True
                self._event("pretrain", f"pretraining ended at iteration {self.resumed_from}: inter layers reset, "
                                        "iteration counter back to 0")
            elif not restored:
                self._event("warning", "optimizer state not restored (other optimizer or settings); moments restart")
        self.first_losses: tuple[float, float] | None = None
        self.consecutive_rollbacks = 0
        self.notice = ""
        self.last_ms = 0.0

    # ------------------------------------------------------------------ reporting
    def _event(self, kind: str, text: str) -> None:
        if self.ctx is not None:
            self.ctx.event(kind, text, step=self.trainer.iteration if hasattr(self, "trainer") else None)

    def verify(self) -> str | None:
        """Why the current weights must not be checkpointed, or None: every tensor
        finite, and the loss after the update within the collapse guard's bounds."""
        t = self.trainer
        bad = checkpoint.nonfinite(t.weights(), "weights") or checkpoint.nonfinite(t.part_weights(), "parts") \
            or checkpoint.nonfinite(t.optimizer_state(), "optimizer state") \
            or checkpoint.nonfinite(t.part_optimizers(), "parts' optimizer state")
        if bad is not None:
            return f"{bad} not finite"
        return _out_of_bounds(t.guard, t.probe_loss())

    def save(self) -> bool:
        """Checkpoint (rank 0): files, the model row, and the job's resume point.

        Only after :meth:`verify` passed (on every rank alike); otherwise it rolls back
        instead and returns False.
        """
        self.batches.settle()  # the draws stand just after the last batch trained on
        bad = self.verify()
        if _sync([float(bad is not None)], self.dist, self.device)[0] > 0:
            self.rollback(f"checkpoint refused: {bad or 'another rank refused it'}")
            return False
        self.consecutive_rollbacks = 0
        if not self.dist.main:
            return True
        if self.ctx is not None:
            self.ctx.flush()  # the loss curve is never behind a checkpoint, even if killed right here
        t = self.trainer
        state = t.state()
        state.update(target=self.target, model_id=self.model_id)
        checkpoint.save(self.folder, weights=t.weights(), state=state, optimizer=t.optimizer_state(),
                        keep_last=self.req.keep_backups, keep_hourly=self.req.keep_hourly,
                        modules=t.part_weights(), optimizers=t.part_optimizers(),
                        kept_in_backups=t.kept_in_backups())
        config = json.dumps({"model": t.model_cfg.to_json(), "train": t.train_cfg.to_json(), "preset": self.req.preset})
        with self.store.transaction() as c:
            c.execute("UPDATE models SET iteration = ?, config = ?, updated_at = ? WHERE id = ?",
                      (t.iteration, config, time.time(), self.model_id))
        if self.ctx is not None:
            self.ctx.save_checkpoint({"model_id": self.model_id, "iteration": t.iteration})
        return True

    def rollback(self, reason: str) -> None:
        """Back to the newest good checkpoint with half the learning rate (every rank)."""
        self.batches.settle()  # batches drawn ahead are not trained on
        t = self.trainer
        at = t.iteration
        self.consecutive_rollbacks += 1
        if self.consecutive_rollbacks > MAX_ROLLBACKS:
            raise SwapTrainingError(f"training diverged {MAX_ROLLBACKS + 1} times in a row near iteration {at} "
                                    f"({reason}); check the face sets or lower the learning rate")
        pretrain = bool(t.train_cfg.pretrain)
        found = checkpoint.load_newest_good(
            self.folder, device=self.device,
            skip=lambda st: bool(st.get("train_config", {}).get("pretrain")) != pretrain)  # this phase's only
        if found is None:
            raise SwapTrainingError(f"{self.folder}: no good checkpoint to roll back to ({reason})")
        ckpt, passed = found
        for why in passed:
            log.warning("model %s: rollback passed over %s", self.model_id, why)
        scale, count = t.lr_scale, t.rollbacks
        t.load(ckpt)
        t.rollbacks = count + 1  # cumulative, even over several rollbacks to one checkpoint
        t.lr_scale = min(scale, t.lr_scale) * 0.5
        # Different batches from here on: the ones that diverged are not replayed.
        t.gen.manual_seed(t.seed + 7919 * t.rollbacks)
        text = (f"iteration {at + 1}: {reason}; rolled back to iteration {t.iteration}"
                + (f" ({ckpt.path.name}, past {len(passed)} bad checkpoint(s))" if passed else "")
                + f", learning rate now x{t.lr_scale:g}")
        log.warning("model %s: %s", self.model_id, text)
        self._event("rollback", text)
        if self.ctx is not None:
            self.ctx.discard_metrics_after(t.iteration)  # the diverged segment is redone
        self.notice = f" · rolled back at {at + 1} ({reason.split(';')[0]})"

    def _share_cpu(self, base: int) -> str:
        """On a processor shared with other jobs, take the threads the lane leaves."""
        if self.ctx is None or self.device.type != "cpu" or self.dist.world > 1:
            return ""
        n, note = self.ctx.cpu_threads()
        want = min(base, n) if note else base
        if torch.get_num_threads() != want:
            torch.set_num_threads(want)
            if note:
                self._event("cpu", f"{note} (of {base})")
        return f" · {note}" if note else ""

    # ------------------------------------------------------------------ loop
    def run(self) -> JobResult:
        with tuned_cpu_allocator(self.device.type == "cpu"):
            return self._loop()

    def _loop(self) -> JobResult:
        t, ctx, req = self.trainer, self.ctx, self.req
        if self.resumed_from is not None and ctx is not None:
            ctx.save_checkpoint({"model_id": self.model_id, "iteration": t.iteration})
            # The killed run's rows past this checkpoint are redone: one row per step.
            ctx.discard_metrics_after(t.iteration)
            self._event("resume", f"resumed from the checkpoint at iteration {self.resumed_from}")
        if self.initial_save:
            self.save()  # there is always a checkpoint of this phase to roll back to
        if self.dist.world > 1:
            import torch.distributed as tdist

            tdist.barrier()
        last_save = time.monotonic()
        window = {"src": 0.0, "dst": 0.0, "n": 0, "prep": 0.0, "t0": time.perf_counter()}
        src_loss = dst_loss = math.nan
        preview_s = req.preview_every_s if req.preview_every_s is not None else (30.0 if t.cuda else 60.0)
        base_threads = torch.get_num_threads()
        sharing = self._share_cpu(base_threads)
        last_preview = time.monotonic()
        if ctx is not None and (req.preview_every or preview_s):
            ctx.preview(t.preview(), step=t.iteration)  # at the start: what the model does now
        try:
            return self._steps(window, last_save, last_preview, preview_s, base_threads, sharing)
        finally:
            self.batches.close()  # the prefetch thread ends with the loop (stop, pause, failure)
            if torch.get_num_threads() != base_threads:
                torch.set_num_threads(base_threads)

    def _steps(self, window: dict[str, float], last_save: float, last_preview: float, preview_s: float,
               base_threads: int, sharing: str) -> JobResult:
        t, ctx, req = self.trainer, self.ctx, self.req
        src_loss = dst_loss = math.nan
        last_share = time.monotonic()
        while True:
            if self.target and t.iteration >= self.target:
                if self.save():
                    break
                continue  # refused and rolled back: train the lost steps again
            t0 = time.perf_counter()
            batches = self.batches.next()
            prep = time.perf_counter() - t0  # with prefetch: the wait for a batch not ready
            losses = t.step(batches)
            # Rank 0 decides stops and saves; one all-reduce carries them with the losses.
            stop = _STOP_CODES[ctx.stop_reason()] if ctx is not None else 0
            due = float(self.dist.main and time.monotonic() - last_save >= req.checkpoint_every_s)
            src_loss, dst_loss, stop_sum, save_due, skipped = _sync(
                [float(losses.src), float(losses.dst), float(stop), due, float(t.skipped is not None)],
                self.dist, self.device)
            src_loss, dst_loss = src_loss / self.dist.world, dst_loss / self.dist.world
            # A bad loss names the cause; a finite loss with a gradient that is not is caught too.
            bad = t.guard.check([src_loss, dst_loss]) or (
                (t.skipped or "a gradient is not finite on another rank") if skipped > 0 else None)
            if bad is not None:
                self.rollback(bad)
                window.update(src=0.0, dst=0.0, n=0, prep=0.0, t0=time.perf_counter())
                continue
            t.iteration += 1
            t.record(src_loss, dst_loss)
            if self.first_losses is None:
                self.first_losses = (src_loss, dst_loss)
            window["src"] += src_loss
            window["dst"] += dst_loss
            window["n"] += 1
            window["prep"] += prep
            reason = _STOP_REASONS.get(int(round(stop_sum)))
            # Metrics before a checkpoint: it flushes them with itself, so a crash never
            # leaves a checkpoint ahead of its loss curve.
            if ctx is not None and (window["n"] >= req.metric_every or reason is not None or save_due):
                self._metrics(window)
            if reason is not None:
                if reason != "lost":  # a lost job belongs to another worker now: write nothing
                    self.save()
                if not self.dist.main:
                    return JobResult()
                raise JobInterrupted(reason)
            if save_due:
                if self.save():
                    self.notice = ""
                last_save = time.monotonic()
            if ctx is None:
                continue
            now = time.monotonic()
            if now - last_share >= 2.0:
                sharing = self._share_cpu(base_threads)
                last_share = now
            if (req.preview_every and t.iteration % req.preview_every == 0) or (preview_s and now - last_preview >= preview_s):
                ctx.preview(t.preview(), step=t.iteration)
                last_preview = now
            frac = t.iteration / self.target if self.target else 0.0
            speed = f" · {self.last_ms:.0f} ms/it" if self.last_ms else ""
            ctx.progress(frac, f"iteration {t.iteration}{'/' + str(self.target) if self.target else ''} · "
                               f"src {src_loss:.4f} · dst {dst_loss:.4f}{speed}{self.notice}{sharing}")
        if ctx is not None and window["n"]:
            self._metrics(window)
        first = self.first_losses or (math.nan, math.nan)
        note = f" ({t.rollbacks} rollback{'s' if t.rollbacks != 1 else ''} after a collapse)" if t.rollbacks else ""
        return JobResult(
            changes=ChangeSet.bulk("models", [self.model_id], label="Train swap model"),
            message=f"model {self.model_id} trained to iteration {t.iteration}: src loss {src_loss:.4f}, "
                    f"dst loss {dst_loss:.4f}{note}",
            data={"model_id": self.model_id, "iteration": t.iteration, "resumed_from": self.resumed_from,
                  "first_src_loss": first[0], "first_dst_loss": first[1], "src_loss": src_loss,
                  "dst_loss": dst_loss, "rollbacks": t.rollbacks, "devices": self.dist.world})

    def _metrics(self, w: dict[str, float]) -> None:
        assert self.ctx is not None
        n = int(w["n"])
        elapsed = time.perf_counter() - w["t0"]
        it = self.trainer.iteration
        ms = 1000.0 * elapsed / n
        self.last_ms = ms
        self.ctx.metric(it, "src_loss", w["src"] / n)
        self.ctx.metric(it, "dst_loss", w["dst"] / n)
        self.ctx.metric(it, "ms_per_iter", ms)
        self.ctx.metric(it, "samples_per_s", 2 * self.trainer.eff.batch_size * n / elapsed)
        self.ctx.metric(it, "lr", self.trainer.lr)
        for name, value in self.trainer.d_losses.items():  # GAN / true-face discriminators (last step)
            self.ctx.metric(it, f"{name}_loss", value)
        if not self.trainer.cuda:  # on CUDA the host time of batch preparation means nothing
            self.ctx.metric(it, "prep_ms", 1000.0 * w["prep"] / n)
        w.update(src=0.0, dst=0.0, n=0, prep=0.0, t0=time.perf_counter())


def run_training(ctx: JobContext, req: TrainRequest) -> JobResult:
    """The single-process ``train_swap`` job."""
    model_id = prepare_model(ctx, req)
    ctx.progress(0.0, "loading faces")
    return Session(ctx, ctx.store, req, model_id).run()
