"""Backups carry the GAN: the discriminators' weights and optimizer state stay in every
backup, and a restored backup trains its discriminators on exactly as the checkpoint did."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.project.store import ProjectStore
from engine.swap import checkpoint
from engine.swap.config import ModelConfig, get_preset
from engine.swap.discriminators import GAN, OPTIMIZER_KEY
from engine.swap.request import TrainRequest
from engine.swap.restore import list_checkpoints, restore_checkpoint
from engine.swap.session import Session
from engine.swap.trainer import Trainer

TINY = {"preset": "fast-64", "seed": 4, "metric_every": 1, "preview_every": 0, "preview_every_s": 0}
GAN_ON = {"gan_power": 0.2, "gan_dims": 8}


def _moments(tr: Trainer) -> dict[int, dict[str, torch.Tensor]]:
    return tr.adversaries.optimizers[GAN].state_dict()["state"]


def _one_step(tr: Trainer) -> tuple[dict[str, torch.Tensor], float]:
    """One step; the patch discriminator's weights after it and the src loss."""
    losses = tr.step()
    weights = {k: v.clone() for k, v in tr.adversaries.weights().items() if k.startswith(GAN + ".")}
    return weights, float(losses.src)


def test_a_restored_backup_trains_the_gan_on_exactly_as_its_checkpoint_did(project_copy: Path,
                                                                           job_runner: Any) -> None:
    run, _ = job_runner
    job = run(project_copy, "train_swap", {**TINY, "iterations": 3, "train": GAN_ON})
    assert job.state == "done", job.error_text
    model_id = int(job.result["data"]["model_id"])
    folder = project_copy / "models" / str(model_id)
    with ProjectStore.open(project_copy) as store:
        # What the live checkpoint (iteration 3) does next: its discriminator moments, and
        # the discriminator after one more step from it.
        live = Session(None, store, TrainRequest(model=model_id, iterations=4), model_id).trainer
        assert live.iteration == 3
        live_moments = {i: {k: v.clone() for k, v in s.items()} for i, s in _moments(live).items()}
        assert live_moments and float(next(iter(live_moments.values()))["step"]) >= 3
        live_after, _ = _one_step(live)
        # Training on turns that checkpoint into a backup.
        Session(None, store, TrainRequest(model=model_id, iterations=5), model_id).run()
        backup = next(c for c in list_checkpoints(folder) if c.iteration == 3 and not c.is_latest)
        files = {f.name for f in backup.path.iterdir()}
        assert "optimizer-discriminators.pt" in files and checkpoint.OPTIMIZER not in files, files
        assert not backup.has_optimizer  # the model's moments stay in latest only (the disk budget)
        restore_checkpoint(store, model_id, backup.path)
        resumed = Session(None, store, TrainRequest(model=model_id, iterations=4), model_id)
        t = resumed.trainer
        assert t.iteration == 3
        moments = _moments(t)
        assert moments.keys() == live_moments.keys()
        for i, saved in live_moments.items():
            assert "exp_avg" in saved
            for k, v in saved.items():
                assert torch.equal(moments[i][k], v), (i, k)
        after, src_loss = _one_step(t)
        assert math.isfinite(src_loss)
        # The discriminator's step from the restored backup is the live checkpoint's step.
        for k, v in live_after.items():
            torch.testing.assert_close(after[k], v, rtol=0, atol=1e-7, msg=k)
        # Without its moments (what backups held before) the same step goes elsewhere.
        bare = checkpoint.load(backup.path)
        fresh = Trainer(t.model_cfg, t.train_cfg, t.src, t.dst, seed=t.seed)
        fresh.load(dataclasses.replace(bare, optimizers={}))
        assert fresh.iteration == 3 and not _moments(fresh)
        other, _ = _one_step(fresh)
        assert any(not torch.allclose(other[k], v, atol=1e-6) for k, v in live_after.items())
        resumed.run()
    after_run = checkpoint.load(checkpoint.find_latest(folder))
    assert after_run.state["iteration"] == 4 and math.isfinite(after_run.state["loss_history"]["src"][-1])
    assert GAN in after_run.optimizers[OPTIMIZER_KEY]


def test_checkpoints_of_the_older_layout_still_restore_the_discriminators(tmp_path: Path, make_face_set: Any) -> None:
    """Before backups kept them, the discriminators' moments were inside optimizer.pt."""
    model = ModelConfig("liae", "ud", 64, "full", ae_dims=32, e_dims=8, d_dims=8, d_mask_dims=8)
    cfg = get_preset("fast-64").train.updated({"batch_size": 4, "warmup": 0, **GAN_ON})
    src, dst = make_face_set(12, 64, 1), make_face_set(12, 64, 2)
    tr = Trainer(model, cfg, src, dst, seed=3)
    tr.step()
    tr.iteration += 1
    old_layout = {**tr.optimizer_state(), OPTIMIZER_KEY: tr.adversaries.optimizer_state()}
    path = checkpoint.save(tmp_path, weights=tr.weights(), state=tr.state(), optimizer=old_layout)
    back = Trainer(model, cfg, src, dst, seed=3)
    assert back.load(checkpoint.load(path))
    for i, s in _moments(tr).items():
        assert torch.equal(_moments(back)[i]["exp_avg"], s["exp_avg"])


def test_kept_optimizer_parts_stay_in_backups_and_others_go(tmp_path: Path) -> None:
    opt = {"state": {0: {"exp_avg": torch.ones(2)}}, "param_groups": [{"lr": 1e-4, "params": [0]}]}
    for it in (1, 2):
        checkpoint.save(tmp_path, weights={"w": torch.full((2,), float(it))}, state={"iteration": it},
                        optimizer=opt, optimizers={"disc": opt, "other": opt}, kept_in_backups=("disc",))
    backup = next((tmp_path / "backups").iterdir())
    assert {f.name for f in backup.iterdir()} == {checkpoint.WEIGHTS, checkpoint.STATE, "optimizer-disc.pt"}
    ck = checkpoint.load(backup)
    assert ck.optimizer is None and set(ck.optimizers) == {"disc"}
    with pytest.raises(checkpoint.CheckpointError, match="kept_in_backups names \\['gone'\\]"):
        checkpoint.save(tmp_path, weights={"w": torch.ones(2)}, state={"iteration": 3}, kept_in_backups=("gone",))
    assert checkpoint.read_state(tmp_path / "latest")["iteration"] == 2  # nothing written
