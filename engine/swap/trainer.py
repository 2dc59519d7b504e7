"""The swap trainer: model, optimiser, batches and one training step, plus its state.

:class:`Trainer` is the part of training that is the same in a job, a DDP rank, a test
and a benchmark. It owns no timers and no database: the loop around it
(:mod:`engine.swap.session`) decides when to save, preview, stop or roll back.

Device choices (``ARCHITECTURE.md`` section 6, ``REFERENCE.md`` Part F 5):

- CUDA: bf16 autocast (tensor cores), channels_last activations and weights, fused
  AdamW, optional ``torch.compile`` of the network.
- CPU: float32 and contiguous NCHW. channels_last was measured here: slightly faster at
  64 px, nearly 3x slower at 128 px (pixel shuffle and concatenation fall back to slow
  paths), so it stays off on CPU.

Under DDP every rank draws the indices and augmentation of the *global* batch from the
same generator and trains on its slice; DDP averages the gradients, so N devices train
exactly like one device on the same batches.
"""

from __future__ import annotations

import base64
import math
import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from engine.swap import augment, color, options
from engine.swap.archs import SwapNet, build_model
from engine.swap.checkpoint import Checkpoint, CheckpointError
from engine.swap.config import ModelConfig, TrainConfig
from engine.swap.dataset import FaceSet, Sampler
from engine.swap.discriminators import OPTIMIZER_KEY, Adversaries, split_weights
from engine.swap.losses import StyleTerms, SwapLoss
from engine.swap.optim import CollapseGuard, lr_at, make_optimizer

#: lr_dropout: share of every weight tensor's elements a step updates (SAEHD's 0.3),
#: and the period of its cosine learning-rate cycle.
LR_DROPOUT_KEEP = 0.3
LR_DROPOUT_PERIOD = 500

#: Loss-history points kept in the state; older halves are merged pairwise beyond it.
HISTORY_MAX = 20_000


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in a DDP group (``world == 1``: no DDP)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


class StepLosses(NamedTuple):
    """Losses of one step on this rank (0-d tensors, not yet synchronised)."""

    src: Tensor
    dst: Tensor


def _rng_to_text(state: Tensor) -> str:
    return base64.b64encode(state.cpu().numpy().tobytes()).decode("ascii")


def _rng_from_text(text: str) -> Tensor:
    return torch.from_numpy(np.frombuffer(base64.b64decode(text), dtype=np.uint8).copy())


class Trainer:
    """Trains one swap model on a src and a dst face set.

    Parameters
    ----------
    model_cfg, train_cfg : the model's shape and this session's settings.
    src, dst : face sets already on ``device``.
    seed : seeds the initial weights and the batch generator.
    target : the target iteration (for the cosine schedule; 0 = none).
    dist : DDP position; the network is wrapped in DDP when ``dist.world > 1``.
    compile : ``torch.compile`` the network (CUDA, or CPU with ``gpu_paths``).
    gpu_paths : run the CUDA code paths on the CPU (bf16 autocast, channels_last, compile
        when asked): how the tests exercise what only a GPU runs otherwise.
    compile_backend : ``torch.compile``'s backend; tests on two busy cores use
        ``aot_eager`` (the same graph capture and autograd tracing, no C++ code generation,
        which takes minutes there).
    src, dst : a :class:`~engine.swap.dataset.FaceSet` or a disk-backed
        :class:`~engine.swap.facestore.StoredFaces` (anything with ``gather``).
    """

    def __init__(self, model_cfg: ModelConfig, train_cfg: TrainConfig, src: FaceSet, dst: FaceSet, *,
                 device: torch.device | str = "cpu", seed: int = 0, target: int = 0,
                 dist: DistInfo | None = None, compile: bool = False, gpu_paths: bool = False,
                 compile_backend: str = "inductor") -> None:
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        #: bf16 autocast and channels_last: on CUDA, or on the CPU when asked (tests).
        self.amp = self.cuda or gpu_paths
        self.model_cfg = model_cfg
        self.dist = dist or DistInfo()
        self.seed = seed
        self.target = target
        self.src, self.dst = src, dst
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model: SwapNet = build_model(model_cfg)
        self.model.to(self.device)
        if self.amp:
            self.model.to(memory_format=torch.channels_last)
        self.net: nn.Module = self.model
        self._compile = compile and self.amp
        self._compile_backend = compile_backend
        self.gen = torch.Generator(device=self.device).manual_seed(seed)
        self.iteration = 0
        self.lr_scale = 1.0
        self.rollbacks = 0
        self.history: dict[str, Any] = {"every": 1, "src": [], "dst": []}
        self.guard = CollapseGuard()
        self.fault_nan_at: int | None = None
        #: testing aid: make this iteration's gradients infinite once (through grad clipping)
        self.fault_inf_grad_at: int | None = None
        #: why the last step's update was not applied (a non-finite gradient), else None
        self.skipped: str | None = None
        #: extra named parts saved and restored with the model (see :meth:`add_part`)
        self.parts: dict[str, tuple[nn.Module, torch.optim.Optimizer | None]] = {}
        self.configure(train_cfg)

    # ------------------------------------------------------------------ setup
    def configure(self, train_cfg: TrainConfig) -> None:
        """(Re)build what depends on the training settings: samplers, loss, optimiser."""
        self.train_cfg = train_cfg
        eff = train_cfg.effective()
        self.eff = eff
        if eff.batch_size % self.dist.world:
            raise ValueError(f"batch size {eff.batch_size} does not split over {self.dist.world} devices")
        options.check_for_model(self.model_cfg, eff)
        self.local_batch = eff.batch_size // self.dist.world
        self._make_samplers()
        common = {"rotation_deg": eff.rotation_deg, "scale_min": eff.scale_min, "scale_max": eff.scale_max,
                  "shift": eff.shift, "random_warp": eff.random_warp, "random_blur": eff.random_blur,
                  "random_jpeg": eff.random_jpeg, "random_downsample": eff.random_downsample}
        self.src_aug = augment.AugmentSpec(flip=eff.flip_src, hsv_power=eff.hsv_power, **common)
        self.dst_aug = augment.AugmentSpec(flip=eff.flip_dst, **common)
        self.loss_fn = SwapLoss(self.model_cfg.resolution, eff.loss, masked=eff.masked_training,
                                eyes_mouth=eff.eyes_mouth_prio).to(self.device)
        # LIAE without random warp keeps inter_AB fixed, as SAEHD does: the shared code
        # stays what the warped training taught it.
        frozen = not eff.random_warp and self.model_cfg.arch == "liae" and not eff.pretrain
        for p in getattr(self.model, "inter_AB", nn.Identity()).parameters():
            p.requires_grad_(not frozen)
        self.optimizer = make_optimizer(self.model.parameters(), eff, self.device)
        self.style = (StyleTerms(self.model_cfg.resolution, eff.face_style_power, eff.bg_style_power).to(self.device)
                      if eff.face_style_power > 0 or eff.bg_style_power > 0 else None)
        old = getattr(self, "adversaries", None)
        self.adversaries = Adversaries(self.model_cfg, eff, self.device, seed=self.seed, world=self.dist.world)
        if old is not None:  # a reconfigured trainer keeps what its discriminators learned
            self.adversaries.load(old.weights(), old.optimizer_state())
        self.d_losses: dict[str, float] = {}
        self._wrap()

    def _make_samplers(self) -> None:
        eff = self.eff
        self.src_sampler = Sampler(self.src.yaw, seed=self.seed * 2 + 1, uniform_yaw=eff.uniform_yaw, bins=eff.yaw_bins)
        self.dst_sampler = Sampler(self.dst.yaw, seed=self.seed * 2 + 2, uniform_yaw=eff.uniform_yaw, bins=eff.yaw_bins)

    def _wrap(self) -> None:
        net: nn.Module = self.model
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.cuda else None
            net = DDP(self.model, device_ids=ids, gradient_as_bucket_view=True)
        self._optimizer_step = self.optimizer.step
        if self._compile:
            net = torch.compile(net, backend=self._compile_backend)  # type: ignore[assignment]
            # AdaBelief's multi-tensor update is ~9 memory-bound passes over the weights
            # (~4 ms for 145M parameters on an H100); compiled, it fuses into a few kernels.
            self._optimizer_step = torch.compile(self.optimizer.step, fullgraph=False, backend=self._compile_backend)
        self.net = net

    # ------------------------------------------------------------------ batches
    def _fmt(self, x: Tensor) -> Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.amp else x

    def next_batches(self) -> tuple[augment.Batch, augment.Batch]:
        """The augmented src and dst batches of the next step (this rank's slice)."""
        g, n = self.gen, self.eff.batch_size
        sl = slice(self.dist.rank * self.local_batch, (self.dist.rank + 1) * self.local_batch)
        src_idx = self.src_sampler.draw(n, g)[sl]
        dst_idx = self.dst_sampler.draw(n, g)[sl]
        src_p = augment.draw_params(self.src_aug, n, g, self.device).slice(sl)
        dst_p = augment.draw_params(self.dst_aug, n, g, self.device).slice(sl)
        ct = dirs = None
        ct_mode = self.eff.ct_mode
        if ct_mode != "none":
            ct_idx = torch.randint(len(self.dst), (n,), generator=g, device=self.device)[sl]
            ct = self.dst.gather(ct_idx)
            if ct_mode in color.DIRECTIONS:
                dirs = color.random_rotations(*color.DIRECTIONS[ct_mode], g, self.device)
        mode = "bicubic" if self.cuda else "bilinear"
        bs = augment.apply(*self.src.gather(src_idx), src_p, ct_source=ct, mode=mode, ct_mode=ct_mode,
                           ct_directions=dirs)
        bd = augment.apply(*self.dst.gather(dst_idx), dst_p, mode=mode)
        return (augment.Batch(*(self._fmt(t) for t in bs)), augment.Batch(*(self._fmt(t) for t in bd)))

    def draw_position(self) -> tuple[Tensor, int, int]:
        """Where the batch draws stand: the generator's state and the samplers' counts
        (what :meth:`next_batches` changes; :mod:`engine.swap.prefetch` rewinds to it)."""
        return self.gen.get_state(), self.src_sampler.drawn, self.dst_sampler.drawn

    def set_draw_position(self, position: tuple[Tensor, int, int]) -> None:
        state, src, dst = position
        self.gen.set_state(state)
        self.src_sampler.drawn, self.dst_sampler.drawn = src, dst

    # ------------------------------------------------------------------ step
    @property
    def lr(self) -> float:
        lr = lr_at(self.iteration, self.eff, target=self.target, scale=self.lr_scale)
        if self.eff.lr_dropout != "n":  # SAEHD's cycling rate that goes with lr_dropout
            lr *= 0.5 * (math.cos(2.0 * math.pi * self.iteration / LR_DROPOUT_PERIOD) + 1.0)
        return lr

    @property
    def _extras(self) -> bool:
        """Whether the step needs the swap prediction or the inter codes."""
        return self.style is not None or self.eff.true_face_power > 0

    def compute_losses(self, bs: augment.Batch, bd: augment.Batch) -> tuple[Tensor, StepLosses]:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            out = self.net(bs.input, bd.input, self._extras) if self._extras else self.net(bs.input, bd.input)
        ls = self.loss_fn(out.src, out.src_mask, bs.target, bs.mask, bs.eyes_mouth)
        ld = self.loss_fn(out.dst, out.dst_mask, bd.target, bd.mask, bd.eyes_mouth)
        src_total = ls.total
        if self.style is not None and out.swapped is not None:
            src_total = src_total + self.style(out.swapped, bd.target, self.loss_fn.soft_mask(bd.mask))
        self._last = (out, bs)
        if self.adversaries.active:
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                src_total = src_total + self.adversaries.generator_loss(
                    out.src, bs.target, self.loss_fn.soft_mask(bs.mask), out.code_src)
        return src_total + ld.total, StepLosses(src_total.detach(), ld.total.detach())

    def _discriminator_step(self) -> None:
        out, bs = self._last
        self.d_losses = self.adversaries.step(
            self.lr, pred_src=out.src.detach(), target_src=bs.target, soft_mask=self.loss_fn.soft_mask(bs.mask),
            code_src=None if out.code_src is None else out.code_src.detach(),
            code_dst=None if out.code_dst is None else out.code_dst.detach(), autocast=self.amp,
            device_type=self.device.type)

    def _dropout_update(self) -> None:
        """The optimiser step with SAEHD's lr_dropout: each weight element keeps its
        update with probability 0.3. The masks come from a generator seeded by the
        iteration (the same on every rank, and after a resume)."""
        params = [p for p in self.model.parameters() if p.grad is not None]
        before = [p.detach().clone() for p in params]
        self._optimizer_step()
        on_cpu = self.eff.lr_dropout == "cpu"
        dev = torch.device("cpu") if on_cpu else self.device
        g = torch.Generator(device=dev).manual_seed((self.seed * 1_000_003 + self.iteration) % (2**63))
        with torch.no_grad():
            for p, old in zip(params, before, strict=True):
                keep = torch.rand(p.shape, generator=g, device=dev) < LR_DROPOUT_KEEP
                p.copy_(torch.where(keep.to(p.device), p, old))

    def step(self, batches: tuple[augment.Batch, augment.Batch] | None = None) -> StepLosses:
        """One optimisation step on the next batches; does not advance ``iteration``
        (the loop does that once the losses passed the collapse guard)."""
        bs, bd = batches if batches is not None else self.next_batches()
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
        self.net.train()
        loss, parts = self.compute_losses(bs, bd)
        if self.fault_nan_at is not None and self.iteration + 1 == self.fault_nan_at:
            self.fault_nan_at = None  # one-shot: a test's injected fault
            loss = loss * float("nan")
            parts = StepLosses(parts.src * float("nan"), parts.dst)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.skipped = None
        if self.fault_inf_grad_at is not None and self.iteration + 1 == self.fault_inf_grad_at:
            self.fault_inf_grad_at = None  # one-shot: a test's injected fault
            next(p for p in self.model.parameters() if p.grad is not None).grad.view(-1)[0] = float("inf")
        if self.eff.clip_grad > 0:
            norm = torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.grad is not None],
                                                  self.eff.clip_grad, foreach=True)
            # Clipping an infinite norm multiplies by 0: inf * 0 is NaN, and one step would
            # poison every weight. Such an update is never applied; the loop rolls back.
            if not bool(torch.isfinite(norm)):
                self.skipped = f"gradient norm is {float(norm)}"
                self.optimizer.zero_grad(set_to_none=True)
                self._last = None
                return parts
        if self.eff.lr_dropout != "n":
            self._dropout_update()
        else:
            self._optimizer_step()
        if self.adversaries.active:
            self._discriminator_step()
        self._last = None
        return parts

    @torch.no_grad()
    def probe_loss(self, rows: int = 4) -> tuple[float, float]:
        """The losses of the current weights on fixed, unaugmented faces (the preview's):
        what a checkpoint is checked with after the update, without drawing any batch
        (the generator's stream, and so the resume's exactness, stay as they are)."""
        self.model.eval()
        try:
            out: list[float] = []
            si = torch.tensor(self.src.preview_indices(rows), device=self.device)
            di = torch.tensor(self.dst.preview_indices(rows), device=self.device)
            k = min(len(si), len(di))
            src_img, src_mask = self.src.gather(si[:k])
            dst_img, dst_mask = self.dst.gather(di[:k])
            src, dst = self._fmt(augment.to_float(src_img)), self._fmt(augment.to_float(dst_img))
            sm, dm = augment.to_float(src_mask), augment.to_float(dst_mask)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cuda):
                res = self.model(src, dst)
            ls = self.loss_fn(res.src, res.src_mask, src.float(), sm[:, :1], sm[:, 1:2])
            ld = self.loss_fn(res.dst, res.dst_mask, dst.float(), dm[:, :1], dm[:, 1:2])
            out = [float(ls.total), float(ld.total)]
            return out[0], out[1]
        finally:
            self.model.train()

    # ------------------------------------------------------------------ extra parts
    def add_part(self, name: str, module: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Save and restore ``module`` (and its ``optimizer``) with the model: a GAN
        discriminator, a second network. The checkpoint writes ``<name>.safetensors``
        and ``optimizer-<name>.pt``; the collapse guard checks them like the model."""
        if name == OPTIMIZER_KEY:
            raise ValueError(f"part name {name!r} is taken by the discriminators' optimizer state")
        self.parts[name] = (module, optimizer)

    def part_weights(self) -> dict[str, dict[str, Tensor]]:
        return {n: m.state_dict() for n, (m, _) in self.parts.items()}

    def part_optimizers(self) -> dict[str, dict[str, Any]]:
        """The parts' optimizer states, and the discriminators' (``optimizer-discriminators.pt``)."""
        out = {n: o.state_dict() for n, (_, o) in self.parts.items() if o is not None}
        if extra := self.adversaries.optimizer_state():
            out[OPTIMIZER_KEY] = extra
        return out

    def kept_in_backups(self) -> tuple[str, ...]:
        """Optimizer parts the backups keep: the discriminators' (small, and a restored
        backup must train its GAN on exactly as the checkpoint did)."""
        return (OPTIMIZER_KEY,) if self.adversaries.optimizer_state() else ()

    def record(self, src_loss: float, dst_loss: float) -> None:
        """Append one step's (synchronised) losses to the history, bounded in length."""
        h = self.history
        h.setdefault("_acc", [0.0, 0.0, 0])
        acc = h["_acc"]
        acc[0] += src_loss
        acc[1] += dst_loss
        acc[2] += 1
        if acc[2] >= h["every"]:
            h["src"].append(round(acc[0] / acc[2], 6))
            h["dst"].append(round(acc[1] / acc[2], 6))
            h["_acc"] = [0.0, 0.0, 0]
            if len(h["src"]) > HISTORY_MAX:
                for k in ("src", "dst"):
                    v = h[k]
                    h[k] = [round((v[i] + v[i + 1]) / 2, 6) for i in range(0, len(v) - 1, 2)]
                h["every"] *= 2

    # ------------------------------------------------------------------ preview
    @torch.no_grad()
    def preview(self, rows: int = 4) -> np.ndarray:
        """Preview grid (RGB uint8): one row per face; columns src, src->src, dst,
        dst->dst, dst->src, on the unaugmented crops of fixed faces."""
        self.model.eval()
        try:
            si = torch.tensor(self.src.preview_indices(rows), device=self.device)
            di = torch.tensor(self.dst.preview_indices(rows), device=self.device)
            k = min(len(si), len(di))
            src = self._fmt(augment.to_float(self.src.gather(si[:k])[0]))
            dst = self._fmt(augment.to_float(self.dst.gather(di[:k])[0]))
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                out = self.model(src, dst)
                swapped = self.model.swap(dst).swapped
            cols = [src, out.src.float(), dst, out.dst.float(), swapped.float()]
            rows_img = [torch.cat([c[i] for c in cols], dim=2) for i in range(k)]
            grid = torch.cat(rows_img, dim=1)
            return (grid.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy())
        finally:
            self.model.train()

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        """JSON-ready state for :func:`engine.swap.checkpoint.save` (with the weights
        from :meth:`weights` and the optimiser from :meth:`optimizer_state`)."""
        rng = {"generator": _rng_to_text(self.gen.get_state()), "torch_cpu": _rng_to_text(torch.get_rng_state())}
        if self.cuda:
            rng["torch_cuda"] = _rng_to_text(torch.cuda.get_rng_state(self.device))
        hist = {k: v for k, v in self.history.items() if k != "_acc"}
        return {
            "kind": "swap",
            "iteration": self.iteration,
            "model_config": self.model_cfg.to_json(),
            "train_config": self.train_cfg.to_json(),
            "seed": self.seed,
            "lr_scale": self.lr_scale,
            "rollbacks": self.rollbacks,
            "samplers": {"src": self.src_sampler.drawn, "dst": self.dst_sampler.drawn},
            "loss_history": hist,
            "guard": self.guard.state(),
            "rng": rng,
        }

    def weights(self) -> dict[str, Tensor]:
        """The model's weights plus the discriminators' (prefixed entries; see
        :mod:`engine.swap.discriminators`)."""
        return {**self.model.state_dict(), **self.adversaries.weights()}

    def optimizer_state(self) -> dict[str, Any]:
        """The model's optimizer state (the discriminators' is in :meth:`part_optimizers`)."""
        return self.optimizer.state_dict()

    def load(self, ckpt: Checkpoint, *, restore_optimizer: bool = True) -> bool:
        """Continue exactly from ``ckpt``: weights, optimiser, iteration, RNG, history.

        Returns whether the optimiser state was restored: it is not when the file is
        absent (backups: the discriminators' state is restored from them, the model's
        moments restart) or was made by another optimiser or parameter set.
        """
        st = ckpt.state
        saved = ModelConfig.from_json(st["model_config"])
        if saved != self.model_cfg:
            raise CheckpointError(f"{ckpt.path}: the checkpoint is a {saved.arch_string} {saved.resolution} px model, "
                                  f"not the {self.model_cfg.arch_string} {self.model_cfg.resolution} px one expected")
        model_weights, extra_weights = split_weights(ckpt.weights)
        try:
            self.model.load_state_dict(model_weights, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"{ckpt.path}: weights do not fit the model ({str(exc).splitlines()[0]})") from None
        self.iteration = int(st["iteration"])
        self.lr_scale = float(st.get("lr_scale", 1.0))
        self.rollbacks = int(st.get("rollbacks", 0))
        seed = int(st.get("seed", self.seed))
        if seed != self.seed:
            self.seed = seed
            self._make_samplers()
        self.history = {"every": 1, "src": [], "dst": [], **st.get("loss_history", {})}
        self.guard.load_state(st.get("guard", []))
        samplers = st.get("samplers", {})
        self.src_sampler.drawn = int(samplers.get("src", 0))
        self.dst_sampler.drawn = int(samplers.get("dst", 0))
        rng = st.get("rng", {})
        if "generator" in rng:
            self.gen.set_state(_rng_from_text(rng["generator"]))
        if "torch_cpu" in rng:
            torch.set_rng_state(_rng_from_text(rng["torch_cpu"]))
        if self.cuda and "torch_cuda" in rng:
            torch.cuda.set_rng_state(_rng_from_text(rng["torch_cuda"]), self.device)
        for name, (module, opt) in self.parts.items():
            if name in ckpt.modules:
                module.load_state_dict(ckpt.modules[name], strict=True)
            if opt is not None and restore_optimizer and name in ckpt.optimizers:
                try:
                    opt.load_state_dict(ckpt.optimizers[name])
                except (ValueError, KeyError, RuntimeError):
                    pass  # another shape of the part's optimizer: its moments restart
        same_kind = st.get("train_config", {}).get("optimizer") == self.eff.optimizer
        saved_optim = dict(ckpt.optimizer) if ckpt.optimizer is not None else None
        # The discriminators' state is a part kept in backups; older checkpoints held it
        # inside optimizer.pt (and their backups dropped it).
        legacy = saved_optim.pop(OPTIMIZER_KEY, None) if saved_optim is not None else None
        extra_optim = ckpt.optimizers.get(OPTIMIZER_KEY, legacy)
        self.adversaries.load(extra_weights, extra_optim if (restore_optimizer and same_kind) else None)
        if restore_optimizer and saved_optim is not None and same_kind:
            try:
                self.optimizer.load_state_dict(saved_optim)
                return True
            except (ValueError, KeyError, RuntimeError):
                pass  # another parameter set (inter_AB frozen or not): start the moments afresh
        return False

    def reset_after_pretraining(self) -> None:
        """End pretraining as SAEHD does: new inter layers, iteration 0, fresh optimiser."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed + 1)
            self.model.reset_inters()
        self.iteration = 0
        self.history = {"every": 1, "src": [], "dst": []}
        self.guard = CollapseGuard()
        self.configure(dataclasses.replace(self.train_cfg, pretrain=False))
