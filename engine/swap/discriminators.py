"""SAEHD's two discriminators and their training: GAN power and true-face power.

- **Patch discriminator** (``gan_power``, ``REFERENCE.md`` Part C 1.3): a small U-Net
  whose stride-2 3x3 encoder is as deep as needed for a receptive field close to
  ``gan_patch_size`` (default resolution/8), channels ``min(gan_dims * 2^i, 512)``,
  leaky ReLU 0.2. It returns two logit maps, one at its bottleneck (patches) and one at
  full resolution (pixels), as DeepFaceLab's ``UNetPatchDiscriminator`` does. It judges
  the masked src reconstructions against the masked src targets.
- **Code discriminator** (``true_face_power``, DF only): strided convolutions over the
  inter code; it learns to tell src codes from dst codes while the generator is pushed
  to make src codes look like dst codes, so the swap resembles src more.

Both have their own optimiser (the model's kind and learning rate, as in SAEHD) and
their weights and optimiser state go into the checkpoint as extra entries: weights in
``model.safetensors`` under the prefixes :data:`PREFIXES` (the merge's model loader
skips them), optimiser states in the checkpoint part ``optimizer-discriminators.pt``
(:data:`OPTIMIZER_KEY`), which backups keep; older checkpoints held them inside
``optimizer.pt`` under that key, and loading still reads them there.
Under DDP their gradients are averaged over the ranks by hand (they are small), so N
devices still train exactly like one.

Step order is DeepFaceLab's: the generator step first (with the discriminators'
verdicts on its outputs), then each discriminator on the same batch (the generator's
outputs detached).
"""

from __future__ import annotations

import math
from typing import Any, Final

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.swap.config import ModelConfig, TrainConfig
from engine.swap.optim import make_optimizer

GAN: Final = "gan_d"
CODE: Final = "code_d"
PREFIXES: Final = (GAN + ".", CODE + ".")
OPTIMIZER_KEY: Final = "discriminators"


def _lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2)


def patch_depth(resolution: int, patch_size: int) -> int:
    """Stride-2 3x3 layers whose receptive field (``2^(n+1) - 1``) is closest to ``patch_size``."""
    max_depth = max(1, min(6, int(math.log2(resolution)) - 2))
    return min(range(1, max_depth + 1), key=lambda n: (abs((2 ** (n + 1) - 1) - patch_size), n))


class PatchDiscriminator(nn.Module):
    """U-Net patch discriminator: ``forward(x) -> (patch logits, pixel logits)``."""

    def __init__(self, resolution: int, patch_size: int, base: int = 16) -> None:
        super().__init__()
        depth = patch_depth(resolution, patch_size)
        chs = [min(base * 2**i, 512) for i in range(depth + 1)]
        self.stem = nn.Conv2d(3, chs[0], 3, padding=1)
        self.down = nn.ModuleList(nn.Conv2d(chs[i], chs[i + 1], 3, stride=2, padding=1) for i in range(depth))
        self.center = nn.Conv2d(chs[-1], 1, 1)
        self.up = nn.ModuleList(nn.Conv2d(chs[i + 1] + chs[i], chs[i], 3, padding=1) for i in reversed(range(depth)))
        self.out = nn.Conv2d(chs[0], 1, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = _lrelu(self.stem(x))
        skips = [h]
        for conv in self.down:
            h = _lrelu(conv(h))
            skips.append(h)
        center = self.center(h)
        skips.pop()
        for conv in self.up:
            skip = skips.pop()
            h = _lrelu(conv(torch.cat([F.interpolate(h, size=skip.shape[-2:], mode="nearest"), skip], 1)))
        return center, self.out(h)


class CodeDiscriminator(nn.Module):
    """DeepFaceLab's code discriminator: ``1 + side//8`` stride-2 convolutions (k4, then
    k3), channels ``ch * min(2^i, 8)``, leaky ReLU 0.1, a 1x1 convolution to one logit map."""

    def __init__(self, in_ch: int, side: int, ch: int = 256) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_ch
        for i in range(1 + side // 8):
            out = ch * min(2**i, 8)
            k = 4 if i == 0 else 3
            layers += [nn.Conv2d(c, out, k, stride=2, padding=(k - 1) // 2 if k == 3 else 1), nn.LeakyReLU(0.1)]
            c = out
        layers.append(nn.Conv2d(c, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def _bce(logits: Tensor, target: float) -> Tensor:
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _tv_mse(x: Tensor) -> Tensor:
    return (x[..., 1:, :] - x[..., :-1, :]).square().mean() + (x[..., :, 1:] - x[..., :, :-1]).square().mean()


class Adversaries(nn.Module):
    """The discriminators a training configuration asks for, with their optimisers."""

    def __init__(self, model_cfg: ModelConfig, eff: TrainConfig, device: torch.device, *, seed: int,
                 world: int = 1) -> None:
        super().__init__()
        self.gan_power, self.tf_power = eff.gan_power, eff.true_face_power
        self.masked = eff.masked_training
        self.world = world
        r = model_cfg.resolution
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 104_729)
            self.nets = nn.ModuleDict()
            if self.gan_power > 0:
                self.nets[GAN] = PatchDiscriminator(r, eff.gan_patch_size or max(3, r // 8), eff.gan_dims)
            if self.tf_power > 0:
                code = r // 32 if "d" in model_cfg.options else r // 16
                side = code if "t" in model_cfg.options else 2 * code  # the inter's output side
                self.nets[CODE] = CodeDiscriminator(model_cfg.ae_dims, side)
        self.to(device)
        if device.type == "cuda":
            self.to(memory_format=torch.channels_last)
        self.optimizers = {name: make_optimizer(net.parameters(), eff, device) for name, net in self.nets.items()}
        #: Entries of a checkpoint for discriminators this configuration does not use: kept
        #: and written back, so switching GAN power off and on again loses nothing.
        self.carried_weights: dict[str, Tensor] = {}
        self.carried_optim: dict[str, Any] = {}

    @property
    def active(self) -> bool:
        return bool(self.nets)

    def _frozen(self, frozen: bool) -> None:
        for p in self.parameters():
            p.requires_grad_(not frozen)

    # ------------------------------------------------------------------ generator side
    def generator_loss(self, pred_src: Tensor, target_src: Tensor, soft_mask: Tensor,
                       code_src: Tensor | None) -> Tensor:
        """The adversarial terms of the generator's loss (discriminators not updated)."""
        self._frozen(True)
        total = pred_src.new_zeros((), dtype=torch.float32)
        if GAN in self.nets:
            p = pred_src.float() * soft_mask
            center, pixels = self.nets[GAN](p)
            total = total + self.gan_power * (_bce(center, 1.0) + _bce(pixels, 1.0))
            if self.masked:  # keep the background of the src reconstruction sane (SAEHD)
                inv = 1.0 - soft_mask
                total = total + 1e-6 * _tv_mse(pred_src.float()) + 0.02 * ((pred_src.float() - target_src) * inv
                                                                           ).square().mean()
        if CODE in self.nets and code_src is not None:
            total = total + self.tf_power * _bce(self.nets[CODE](code_src), 1.0)
        self._frozen(False)
        return total

    # ------------------------------------------------------------------ discriminator side
    def step(self, lr: float, *, pred_src: Tensor, target_src: Tensor, soft_mask: Tensor,
             code_src: Tensor | None, code_dst: Tensor | None, autocast: bool, device_type: str) -> dict[str, float]:
        """One update of each discriminator on the (detached) generator outputs."""
        losses: dict[str, Tensor] = {}
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=autocast):
            if GAN in self.nets:
                real_c, real_p = self.nets[GAN]((target_src * soft_mask).detach())
                fake_c, fake_p = self.nets[GAN]((pred_src.float() * soft_mask).detach())
                losses[GAN] = 0.5 * (_bce(real_c, 1.0) + _bce(fake_c, 0.0)) + 0.5 * (_bce(real_p, 1.0)
                                                                                    + _bce(fake_p, 0.0))
            if CODE in self.nets and code_src is not None and code_dst is not None:
                d = self.nets[CODE]
                losses[CODE] = 0.5 * (_bce(d(code_dst.detach()), 1.0) + _bce(d(code_src.detach()), 0.0))
        for name, loss in losses.items():
            opt = self.optimizers[name]
            for group in opt.param_groups:
                group["lr"] = lr
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if self.world > 1:
                import torch.distributed as tdist

                for p in self.nets[name].parameters():
                    if p.grad is not None:
                        tdist.all_reduce(p.grad)
                        p.grad.div_(self.world)
            opt.step()
        return {k: float(v.detach()) for k, v in losses.items()}

    # ------------------------------------------------------------------ checkpoint entries
    def weights(self) -> dict[str, Tensor]:
        out = dict(self.carried_weights)
        for name, net in self.nets.items():
            out.update({f"{name}.{k}": v for k, v in net.state_dict().items()})
        return out

    def optimizer_state(self) -> dict[str, Any]:
        out = dict(self.carried_optim)
        out.update({name: opt.state_dict() for name, opt in self.optimizers.items()})
        return out

    def load(self, weights: dict[str, Tensor], optim: dict[str, Any] | None) -> bool:
        """Restore from checkpoint entries; returns whether every active discriminator was
        restored (False: it starts fresh, e.g. GAN power was just switched on)."""
        ok = True
        self.carried_weights = {k: v for k, v in weights.items()
                                if k.startswith(PREFIXES) and k.split(".", 1)[0] not in self.nets}
        self.carried_optim = {k: v for k, v in (optim or {}).items() if k not in self.nets}
        for name, net in self.nets.items():
            sd = {k[len(name) + 1:]: v for k, v in weights.items() if k.startswith(name + ".")}
            try:
                net.load_state_dict(sd, strict=True)
            except RuntimeError:
                ok = False  # absent or of another shape (gan_dims changed): a fresh discriminator
                continue
            if optim is not None and name in optim:
                try:
                    self.optimizers[name].load_state_dict(optim[name])
                except (ValueError, KeyError, RuntimeError):
                    ok = False
            else:
                ok = False
        return ok


def split_weights(weights: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """``(model weights, discriminator entries)`` of a checkpoint's weights."""
    model = {k: v for k, v in weights.items() if not k.startswith(PREFIXES)}
    return model, {k: v for k, v in weights.items() if k.startswith(PREFIXES)}
