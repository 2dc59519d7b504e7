"""Training on several machines: torchrun's arguments, the checks before anything is
queued, and a real two-rank gloo group meeting at a rendezvous endpoint on this machine."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from helpers import run_cli

from engine.project.store import ProjectStore
from engine.swap.ddp import torchrun_args
from engine.swap.request import TrainRequest

TINY = {"preset": "fast-64", "seed": 8, "metric_every": 1, "preview_every": 0, "preview_every_s": 0}


def test_torchrun_gets_this_nodes_place_at_the_rendezvous() -> None:
    assert torchrun_args(TrainRequest(devices=2)) == ["--standalone", "--nproc_per_node=2"]
    req = TrainRequest(devices=4, nnodes=3, node_rank=2, rdzv_endpoint="10.0.0.1:29400", rdzv_id="run7",
                       batch_size=12)
    assert torchrun_args(req) == ["--nnodes=3", "--node_rank=2", "--rdzv_backend=static",
                                  "--rdzv_endpoint=10.0.0.1:29400", "--rdzv_id=run7", "--nproc_per_node=4"]
    assert req.world == 12 and req.distributed
    one = TrainRequest(nnodes=1, rdzv_endpoint="[::1]:29500")
    assert one.distributed and torchrun_args(one)[:2] == ["--nnodes=1", "--node_rank=0"]
    assert "--rdzv_id=facesmith" in torchrun_args(one)


@pytest.mark.parametrize(("params", "message"), [
    ({"nnodes": 2, "node_rank": 2, "rdzv_endpoint": "10.0.0.1:29400"}, "node_rank 2 must be 0-1"),
    ({"nnodes": 2}, "nnodes 2 needs rdzv_endpoint"),
    ({"nnodes": 2, "rdzv_endpoint": "10.0.0.1"}, "rdzv_endpoint '10.0.0.1' must be HOST:PORT"),
    ({"nnodes": 2, "rdzv_endpoint": "10.0.0.1:99999"}, "must be HOST:PORT"),
    ({"nnodes": 2, "rdzv_endpoint": "host:port"}, "must be HOST:PORT"),
    ({"nnodes": 0}, "nnodes must be 1-1024"),
    ({"nnodes": 2, "rdzv_endpoint": "h:1", "rdzv_id": "a b"}, "rdzv_id 'a b'"),
    ({"nnodes": 3, "rdzv_endpoint": "h:1", "batch_size": 8}, "multiple of devices x nnodes"),
])
def test_bad_multi_machine_settings_are_refused(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainRequest(**params)


def test_the_command_refuses_them_and_queues_nothing(project: ProjectStore) -> None:
    root = str(project.root)
    res = run_cli("train", root, "--nnodes", "2", "--node-rank", "2", "--rdzv-endpoint", "10.0.0.1:29400")
    assert res.returncode == 1 and "node_rank 2 must be 0-1 (below nnodes 2)" in res.stderr, res.stderr
    res = run_cli("train", root, "--nnodes", "2", "--rdzv-endpoint", "10.0.0.1-29400")
    assert res.returncode == 1 and "rdzv_endpoint '10.0.0.1-29400' must be HOST:PORT" in res.stderr, res.stderr
    assert project.query("SELECT count(*) FROM jobs")[0][0] == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_gloo_ranks_meet_at_a_rendezvous_endpoint(project_copy: Path, job_runner: Any) -> None:
    run, series = job_runner
    job = run(project_copy, "train_swap", {**TINY, "iterations": 3, "devices": 2, "nnodes": 1,
                                           "rdzv_endpoint": f"127.0.0.1:{_free_port()}", "rdzv_id": "test"})
    assert job.state == "done", job.error_text
    assert job.result["data"]["devices"] == 2 and job.result["data"]["iteration"] == 3
    assert [s for s, _ in series(project_copy, job.id, "src_loss")] == [1, 2, 3]


@pytest.mark.slow
def test_two_machines_on_one_run_the_same_command_with_their_node_rank(project_copy: Path) -> None:
    """Node 0 runs the job, node 1 joins it and queues nothing (both here, one rank each)."""
    import os
    import subprocess
    import sys

    from helpers import ROOT

    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    same = ["-m", "engine", "train", str(project_copy), "--preset", "fast-64", "--iterations", "3", "--seed", "8",
            "--batch-size", "4", "--quiet", "--nnodes", "2", "--rdzv-endpoint", f"127.0.0.1:{_free_port()}"]
    nodes = [subprocess.Popen([sys.executable, *same, "--node-rank", str(r)], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for r in (0, 1)]
    try:
        outs = [p.communicate(timeout=300)[0].decode(errors="replace") for p in nodes]
    finally:
        for p in nodes:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in nodes] == [0, 0], outs
    assert "trained to iteration 3" in outs[0] and "node 1 of 2: joining the training" in outs[1]
    with ProjectStore.open(project_copy, readonly=True) as store:
        jobs = store.query("SELECT state, result FROM jobs WHERE kind = 'train_swap'")
        assert [r[0] for r in jobs] == ["done"]  # node 1 queued nothing
        assert '"devices": 2' in jobs[0][1]
