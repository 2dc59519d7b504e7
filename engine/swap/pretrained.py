"""Start a new model from a pretrained one, as DeepFaceLab users do.

A pretrained model (trained with ``pretrain`` on a generic face folder or on a project's
faces) learned what faces look like. :func:`start_from_pretrained` copies it into a
project as a **new** model: the encoder and the inter layers are kept; the decoders are
kept too or re-initialised (the user's choice: kept decoders start from a generic face,
fresh ones from noise but without another identity's bias). The new model starts at
iteration 0 with fresh optimiser moments and ``pretrain`` off, so continuing it trains on
the project's src and dst faces without the end-of-pretraining reset (which would throw
the kept inter layers away).

The source may be in another project: only its checkpoint folder is read (any complete
checkpoint, with the same pickle-free loading as everywhere).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from engine.swap import checkpoint
from engine.swap.archs import build_model
from engine.swap.checkpoint import CheckpointError
from engine.swap.config import ModelConfig, TrainConfig
from engine.swap.discriminators import split_weights

#: Weight-name prefixes of the parts that are kept whatever the choice.
KEPT_ALWAYS = ("encoder.", "inter.", "inter_AB.", "inter_B.")


def _source(path: str | Path) -> Path:
    p = Path(path)
    if (p / checkpoint.STATE).exists():
        return p
    latest = checkpoint.find_latest(p) if p.is_dir() else None
    if latest is None:
        raise CheckpointError(f"{p}: no complete swap-model checkpoint here (give a model folder such as "
                              f"'Project/models/3' or one of its checkpoint folders)")
    return latest


def check_source(path: str | Path) -> Path:
    """The checkpoint folder of the pretrained swap model at ``path``; refused otherwise."""
    src = _source(path)
    state = checkpoint.read_state(src)
    if state.get("kind") != "swap":
        raise CheckpointError(f"{src}: not a swap model checkpoint (kind {state.get('kind')!r})")
    return src


def start_from_pretrained(store: Any, source: str | Path, *, keep_decoders: bool = False, name: str | None = None,
                          seed: int = 0) -> int:
    """Copy the pretrained model at ``source`` into ``store`` as a new model; its id.

    Nothing is written when the source is not a readable swap checkpoint.
    """
    from engine.swap.session import model_folder

    src = check_source(source)
    ckpt = checkpoint.load(src, with_optimizer=False)
    model_cfg = ModelConfig.from_json(ckpt.state["model_config"])
    train_cfg = TrainConfig.from_json(ckpt.state["train_config"]).updated({"pretrain": False})
    weights, _ = split_weights(ckpt.weights)  # the discriminators judged the pretraining faces: not kept
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = build_model(model_cfg).state_dict()
    if set(fresh) != set(weights):
        raise CheckpointError(f"{src}: the weights do not match a {model_cfg.arch_string} model")
    out = {k: (v if keep_decoders or k.startswith(KEPT_ALWAYS) else fresh[k]) for k, v in weights.items()}
    now = time.time()
    origin = {"from": str(src), "iteration": int(ckpt.state.get("iteration", 0)), "decoders": "kept" if keep_decoders
              else "reset"}
    config = json.dumps({"model": model_cfg.to_json(), "train": train_cfg.to_json(), "preset": None,
                         "pretrained": origin})
    with store.transaction() as c:
        cur = c.execute(
            "INSERT INTO models (kind, name, arch, face_type, resolution, config, iteration, path, created_at, "
            "updated_at) VALUES ('swap', ?, ?, ?, ?, ?, 0, '', ?, ?)",
            (name or f"{model_cfg.arch_string} {model_cfg.resolution}px (from pretrained)", model_cfg.arch_string,
             model_cfg.face_type, model_cfg.resolution, config, now, now))
        model_id = int(cur.lastrowid)
        c.execute("UPDATE models SET path = ? WHERE id = ?", (f"models/{model_id}/", model_id))
    state = {"kind": "swap", "iteration": 0, "model_config": model_cfg.to_json(), "train_config": train_cfg.to_json(),
             "seed": seed or model_id, "model_id": model_id, "target": 0, "pretrained": origin,
             "loss_history": {"every": 1, "src": [], "dst": []}}
    try:
        checkpoint.save(model_folder(store, model_id), weights=out, state=state)
    except BaseException:
        with store.transaction() as c:
            c.execute("DELETE FROM models WHERE id = ?", (model_id,))
        raise
    return model_id
