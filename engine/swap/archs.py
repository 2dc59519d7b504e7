"""The two swap layouts, DF and LIAE, behind one interface.

Both take a batch of src and dst faces and return the four reconstructions the losses
need; both turn dst faces into src faces for merge and preview. Each training step runs
the shared encoder **once** over src and dst together (one batch of 2B) and, for LIAE,
the shared decoder once over both codes: fewer, larger kernels than DeepFaceLab's
separate passes, which is what both CPUs and GPUs want.

- **DF** (``REFERENCE.md`` Part C 1.3): encoder, one inter, a decoder per identity. The
  swap is ``decoder_src(inter(encoder(dst)))``.
- **LIAE**: encoder, ``inter_AB`` (shared by both identities) and ``inter_B`` (dst
  only), one decoder over the concatenated codes. src code = ``[AB(src), AB(src)]``,
  dst code = ``[B(dst), AB(dst)]``, swap code = ``[AB(dst), AB(dst)]``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from engine.swap.config import ModelConfig
from engine.swap.layers import Decoder, Encoder, Inter, init_glorot


class TrainOutput(NamedTuple):
    """Reconstructions of one training step (all ``(B, C, R, R)`` in [0, 1]).

    With ``extras=True`` also the swap of the dst inputs (decoded from the *detached* dst
    code, as SAEHD's style terms do) and, for DF, the inter codes of both sides (the
    true-face discriminator's input)."""

    src: Tensor
    src_mask: Tensor
    dst: Tensor
    dst_mask: Tensor
    swapped: Tensor | None = None
    swapped_mask: Tensor | None = None
    code_src: Tensor | None = None
    code_dst: Tensor | None = None


class SwapOutput(NamedTuple):
    """dst faces turned into src (``swapped``), with the learned masks of both sides:
    ``mask_dst`` (the dst face's outline, from the dst path) and ``mask_src`` (the
    outline of the swapped face)."""

    swapped: Tensor
    mask_dst: Tensor
    mask_src: Tensor


class SwapNet(nn.Module):
    """Base of DF and LIAE: the encoder and the interface the trainer and merge use."""

    inter_names: tuple[str, ...] = ()

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        deep = "t" in cfg.options
        self.encoder = Encoder(cfg.e_dims, deep=deep, pixel_norm="u" in cfg.options)
        enc_side = cfg.resolution // self.encoder.stride
        self.enc_features = self.encoder.out_ch * enc_side * enc_side
        self.code_side = cfg.resolution // 32 if "d" in cfg.options else cfg.resolution // 16

    def forward(self, src: Tensor, dst: Tensor, extras: bool = False) -> TrainOutput:  # pragma: no cover
        raise NotImplementedError

    def swap(self, dst: Tensor) -> SwapOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def reconstruct_dst(self, dst: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def reset_inters(self) -> None:
        """Re-initialise the inter layer(s): how pretraining ends (SAEHD Part C 1.6)."""
        for name in self.inter_names:
            init_glorot(getattr(self, name))


class DF(SwapNet):
    inter_names = ("inter",)

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        deep, double = "t" in cfg.options, "d" in cfg.options
        self.inter = Inter(self.enc_features, cfg.ae_dims, cfg.ae_dims, self.code_side, deep=deep)
        self.decoder_src = Decoder(cfg.ae_dims, cfg.d_dims, cfg.d_mask_dims, deep=deep, double=double)
        self.decoder_dst = Decoder(cfg.ae_dims, cfg.d_dims, cfg.d_mask_dims, deep=deep, double=double)
        init_glorot(self)

    def forward(self, src: Tensor, dst: Tensor, extras: bool = False) -> TrainOutput:
        code = self.inter(self.encoder(torch.cat([src, dst])))
        c_src, c_dst = code.split([src.shape[0], dst.shape[0]])
        if not extras:
            s, sm = self.decoder_src(c_src)
            d, dm = self.decoder_dst(c_dst)
            return TrainOutput(s, sm, d, dm)
        # src reconstruction and the swap in one decoder pass
        img, mask = self.decoder_src(torch.cat([c_src, c_dst.detach()]))
        d, dm = self.decoder_dst(c_dst)
        n = src.shape[0]
        return TrainOutput(img[:n], mask[:n], d, dm, img[n:], mask[n:], c_src, c_dst)

    def swap(self, dst: Tensor) -> SwapOutput:
        code = self.inter(self.encoder(dst))
        swapped, mask_src = self.decoder_src(code)
        _, mask_dst = self.decoder_dst(code)
        return SwapOutput(swapped, mask_dst, mask_src)

    def reconstruct_dst(self, dst: Tensor) -> tuple[Tensor, Tensor]:
        return self.decoder_dst(self.inter(self.encoder(dst)))


class LIAE(SwapNet):
    inter_names = ("inter_AB", "inter_B")

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        deep, double = "t" in cfg.options, "d" in cfg.options
        ae_out = 2 * cfg.ae_dims
        self.inter_AB = Inter(self.enc_features, cfg.ae_dims, ae_out, self.code_side, deep=deep)
        self.inter_B = Inter(self.enc_features, cfg.ae_dims, ae_out, self.code_side, deep=deep)
        self.decoder = Decoder(2 * ae_out, cfg.d_dims, cfg.d_mask_dims, deep=deep, double=double)
        init_glorot(self)

    def forward(self, src: Tensor, dst: Tensor, extras: bool = False) -> TrainOutput:
        n, m = src.shape[0], dst.shape[0]
        z = self.encoder(torch.cat([src, dst]))
        ab = self.inter_AB(z)
        b = self.inter_B(z[n:])
        ab_src, ab_dst = ab[:n], ab[n:]
        parts = [torch.cat([ab_src, ab_src], 1), torch.cat([b, ab_dst], 1)]
        if extras:  # the swap code, detached: style terms must not move the dst code
            parts.append(torch.cat([ab_dst, ab_dst], 1).detach())
        img, mask = self.decoder(torch.cat(parts))
        if not extras:
            s, d = img.split([n, m])
            sm, dm = mask.split([n, m])
            return TrainOutput(s, sm, d, dm)
        s, d, w = img.split([n, m, m])
        sm, dm, wm = mask.split([n, m, m])
        return TrainOutput(s, sm, d, dm, w, wm)

    def swap(self, dst: Tensor) -> SwapOutput:
        n = dst.shape[0]
        z = self.encoder(dst)
        ab = self.inter_AB(z)
        b = self.inter_B(z)
        img, mask = self.decoder(torch.cat([torch.cat([ab, ab], 1), torch.cat([b, ab], 1)]))
        return SwapOutput(img[:n], mask[n:], mask[:n])

    def reconstruct_dst(self, dst: Tensor) -> tuple[Tensor, Tensor]:
        z = self.encoder(dst)
        return self.decoder(torch.cat([self.inter_B(z), self.inter_AB(z)], 1))


def build_model(cfg: ModelConfig) -> SwapNet:
    """A freshly initialised network for ``cfg`` (call under a seeded RNG for repeatable
    initial weights)."""
    return DF(cfg) if cfg.arch == "df" else LIAE(cfg)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
