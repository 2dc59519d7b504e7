"""Checkpoints: atomic writes, crash leftovers, rotation, and refusing unsafe files."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.swap import checkpoint
from engine.swap.checkpoint import CheckpointError


def _save(folder: Path, it: int, **kw: Any) -> Path:
    w = {"layer.weight": torch.full((3, 2), float(it)), "layer.bias": torch.zeros(3)}
    opt = {"state": {0: {"step": torch.tensor(float(it)), "exp_avg": torch.ones(3, 2)}},
           "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "params": [0], "fused": None}]}
    return checkpoint.save(folder, weights=w, state={"iteration": it, "kind": "test"}, optimizer=opt, **kw)


def test_round_trip(tmp_path: Path) -> None:
    _save(tmp_path, 7)
    ck = checkpoint.load(checkpoint.find_latest(tmp_path))
    assert ck.state["iteration"] == 7 and ck.state["serial"] == 1
    assert torch.equal(ck.weights["layer.weight"], torch.full((3, 2), 7.0))
    assert ck.optimizer is not None and ck.optimizer["param_groups"][0]["betas"] == (0.9, 0.999)
    assert float(ck.optimizer["state"][0]["step"]) == 7.0


def test_the_newest_complete_checkpoint_wins_after_a_crash(tmp_path: Path) -> None:
    for it in (1, 2, 3):
        _save(tmp_path, it)
    # A crash between "latest -> backups" and "tmp -> latest": no latest at all.
    shutil.move(tmp_path / "latest", tmp_path / "backups" / "moved")
    # A crash while writing: a temporary folder without its state file.
    gone = subprocess.Popen(["true"])
    gone.wait()
    broken = tmp_path / f".tmp-{gone.pid}-dead"
    broken.mkdir()
    (broken / checkpoint.WEIGHTS).write_bytes(b"partial")
    assert checkpoint.read_state(checkpoint.find_latest(tmp_path))["iteration"] == 3
    # A truncated weights file makes a checkpoint incomplete, whatever its state says.
    with open(tmp_path / "backups" / "moved" / checkpoint.WEIGHTS, "r+b") as fh:
        fh.truncate(10)
    assert checkpoint.read_state(checkpoint.find_latest(tmp_path))["iteration"] == 2
    _save(tmp_path, 4)  # saving again continues after the newest complete one and cleans up
    st = checkpoint.read_state(tmp_path / "latest")
    assert st["iteration"] == 4 and st["serial"] == 3
    assert not broken.exists() and not (tmp_path / "backups" / "moved").exists()


def test_backups_keep_the_last_n_and_one_per_hour_without_optimizer(tmp_path: Path) -> None:
    for it in range(1, 7):
        _save(tmp_path, it, keep_last=2, keep_hourly=2)
        # Pretend each checkpoint was written an hour after the previous one.
        st_path = tmp_path / "latest" / checkpoint.STATE
        st = json.loads(st_path.read_text())
        st["saved_at"] = time.time() - (10 - it) * 3600
        st_path.write_text(json.dumps(st))
    backups = sorted(checkpoint.read_state(d)["iteration"] for d in (tmp_path / "backups").iterdir())
    assert backups == [2, 3, 4, 5]  # 4, 5 whole; 2, 3 hourly
    hourly = [d for d in (tmp_path / "backups").iterdir() if checkpoint.read_state(d)["iteration"] in (2, 3)]
    assert all(not (d / checkpoint.OPTIMIZER).exists() for d in hourly)
    ck = checkpoint.load(hourly[0])
    assert ck.optimizer is None and ck.weights  # still a usable model


class _Exploit:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_of_arbitrary_objects_is_refused_and_never_runs(tmp_path: Path) -> None:
    _save(tmp_path, 1)
    latest = tmp_path / "latest"
    marker = tmp_path / "pwned"
    with open(latest / checkpoint.OPTIMIZER, "wb") as fh:
        pickle.dump({"state": _Exploit(marker)}, fh)
    with pytest.raises(CheckpointError, match="refused: it is a pickle of arbitrary Python objects"):
        checkpoint.load(latest)
    torch.save({"state": {}, "hook": _Exploit(marker)}, latest / checkpoint.OPTIMIZER)  # torch's zip format
    with pytest.raises(CheckpointError, match="refused"):
        checkpoint.load(latest)
    assert not marker.exists()


def test_weights_that_are_not_safetensors_are_refused(tmp_path: Path) -> None:
    _save(tmp_path, 1)
    latest = tmp_path / "latest"
    data = pickle.dumps({"layer.weight": torch.zeros(3, 2)})
    (latest / checkpoint.WEIGHTS).write_bytes(data)
    st = json.loads((latest / checkpoint.STATE).read_text())
    st["files"][checkpoint.WEIGHTS] = len(data)
    (latest / checkpoint.STATE).write_text(json.dumps(st))
    with pytest.raises(CheckpointError, match="not a safetensors weights file"):
        checkpoint.load(latest)


def test_only_plain_optimizer_state_can_be_written(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="cannot go into a checkpoint"):
        checkpoint.save(tmp_path, weights={"w": torch.zeros(1)}, state={"iteration": 0},
                        optimizer={"state": {0: {"fn": print}}})
    assert checkpoint.find_latest(tmp_path) is None  # nothing half-written is left behind
    assert not list(tmp_path.glob(".tmp-*"))


def test_newer_format_versions_are_refused(tmp_path: Path) -> None:
    _save(tmp_path, 1)
    path = tmp_path / "latest" / checkpoint.STATE
    st = json.loads(path.read_text())
    st["version"] = 99
    path.write_text(json.dumps(st))
    with pytest.raises(CheckpointError, match="newer than this Facesmith reads"):
        checkpoint.read_state(tmp_path / "latest")
