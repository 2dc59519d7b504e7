"""Restoring a swap model's backup (engine.swap.restore): the engine half of "restore this one".

Checkpoints are written with the real :func:`engine.swap.checkpoint.save` (tiny tensors),
so the restored folder is what the trainer would load.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch

from engine.swap import checkpoint, restore
from engine.swap.config import get_preset
from engine.swap.restore import RestoreError, list_checkpoints, restore_checkpoint

PRESET = get_preset("fast-64")


def save_model(store, iterations: list[int]) -> tuple[int, Path]:
    now = time.time()
    with store.transaction() as c:
        model_id = int(c.execute(
            "INSERT INTO models (kind, name, arch, face_type, resolution, config, iteration, path, created_at, "
            "updated_at) VALUES ('swap', 'm', 'df-ud', 'full', 64, ?, 0, '', ?, ?)",
            (json.dumps({"model": PRESET.model.to_json(), "train": PRESET.train.to_json()}), now, now)).lastrowid)
        c.execute("UPDATE models SET path = ? WHERE id = ?", (f"models/{model_id}/", model_id))
    folder = store.root / "models" / str(model_id)
    for it in iterations:
        checkpoint.save(folder, weights={"w": torch.full((4,), float(it))},
                        state={"kind": "swap", "iteration": it, "model_id": model_id,
                               "model_config": PRESET.model.to_json(), "train_config": PRESET.train.to_json()},
                        optimizer={"step": it}, keep_last=10)
    with store.transaction() as c:
        c.execute("UPDATE models SET iteration = ? WHERE id = ?", (iterations[-1], model_id))
    return model_id, folder


def test_the_torch_free_reader_agrees_with_the_checkpoint_module(project) -> None:
    assert (restore.WEIGHTS, restore.STATE, restore.OPTIMIZER, restore.LATEST, restore.BACKUPS, restore.FORMAT) == (
        checkpoint.WEIGHTS, checkpoint.STATE, checkpoint.OPTIMIZER, checkpoint.LATEST, checkpoint.BACKUPS,
        checkpoint.FORMAT)
    _, folder = save_model(project, [0, 10, 20, 30])
    (folder / "backups" / "broken").mkdir()  # incomplete: never listed
    listed = list_checkpoints(folder)
    assert [c.path for c in listed] == [d for _, d in checkpoint.candidates(folder)]
    assert [c.iteration for c in listed] == [30, 20, 10, 0] and listed[0].is_latest and listed[0].name == "latest"
    # The optimizer state lives in ``latest`` only: backups keep weights (the disk budget).
    assert listed[0].has_optimizer and not any(c.has_optimizer for c in listed[1:])
    assert all(c.size_bytes > 0 for c in listed)


def test_restore_makes_a_backup_the_latest_and_keeps_the_old_latest(project) -> None:
    model_id, folder = save_model(project, [0, 10, 20, 30])
    with project.transaction() as c:
        job_id = int(c.execute("INSERT INTO jobs (kind, params, state, created_at, updated_at) VALUES "
                               "('train_swap', '{}', 'paused', 0, 0)").lastrowid)
    backup = next(c for c in list_checkpoints(folder) if c.iteration == 10)
    changes = restore_checkpoint(project, model_id, backup.path, job_id=job_id)
    assert changes.touches("models") and changes.ids("models") == {model_id}
    latest = checkpoint.find_latest(folder)
    assert latest == folder / "latest"  # the newest serial: what training continues from
    state = checkpoint.read_state(latest)
    assert state["iteration"] == 10 and state["restored_from"] == backup.name
    loaded = checkpoint.load(latest)
    # A backup holds weights only: training continues from them with fresh optimizer moments.
    assert torch.equal(loaded.weights["w"], torch.full((4,), 10.0)) and loaded.optimizer is None
    assert backup.path.is_dir()  # the backup stays
    assert project.row("models", model_id)["iteration"] == 10
    assert 30 in [c.iteration for c in list_checkpoints(folder) if not c.is_latest]  # old latest: a backup now
    event = project.query("SELECT step, kind, text FROM job_events WHERE job_id = ?", (job_id,))
    assert [(e["step"], e["kind"]) for e in event] == [(10, "restore")] and "iteration 10" in event[0]["text"]
    # Reversible: restore the old latest again.
    old = next(c for c in list_checkpoints(folder) if c.iteration == 30)
    restore_checkpoint(project, model_id, old.path)
    assert checkpoint.read_state(checkpoint.find_latest(folder))["iteration"] == 30
    assert project.row("models", model_id)["iteration"] == 30
    assert not list(folder.glob(".tmp-*"))


def test_restore_is_refused_while_the_model_trains_and_for_wrong_folders(project, tmp_path: Path) -> None:
    model_id, folder = save_model(project, [0, 10, 20])
    with project.transaction() as c:
        c.execute("INSERT INTO jobs (kind, params, state, checkpoint, created_at, updated_at) VALUES "
                  "('train_swap', '{}', 'running', ?, 0, 0)", (json.dumps({"model_id": model_id}),))
    before = sorted(p.name for p in (folder / "backups").iterdir())
    backup = list_checkpoints(folder)[1]
    with pytest.raises(RestoreError, match="is training model"):
        restore_checkpoint(project, model_id, backup.path)
    assert sorted(p.name for p in (folder / "backups").iterdir()) == before
    assert checkpoint.read_state(folder / "latest")["iteration"] == 20 and not list(folder.glob(".tmp-*"))
    assert restore.training_job(project, model_id) is not None
    with project.transaction() as c:
        c.execute("UPDATE jobs SET state = 'done'")
    with pytest.raises(RestoreError, match="already the latest"):
        restore_checkpoint(project, model_id, folder / "latest")
    with pytest.raises(RestoreError, match="not a checkpoint of model"):
        restore_checkpoint(project, model_id, tmp_path)
    (folder / "backups" / "partial").mkdir()
    with pytest.raises(RestoreError, match="not a complete checkpoint"):
        restore_checkpoint(project, model_id, folder / "backups" / "partial")
    with pytest.raises(RestoreError, match="no swap model"):
        restore_checkpoint(project, 999, backup.path)
    assert project.row("models", model_id)["iteration"] == 20
