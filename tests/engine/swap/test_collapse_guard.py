"""The collapse guard never keeps bad weights; checkpoints stay on a disk budget;
previews come on a clock; metrics stay unique over a kill and a resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import ROOT, run_cli

from engine.jobs.queue import JobQueue
from engine.project.store import ProjectStore
from engine.swap import checkpoint
from engine.swap.checkpoint import CheckpointRefused
from engine.swap.disk import disk_use, prune_backups

TINY = {"preset": "fast-64", "seed": 4, "metric_every": 1, "preview_every": 0, "preview_every_s": 0}


def _all_checkpoints_finite(folder: Path) -> list[int]:
    """The iterations of every checkpoint on disk, asserting each is finite."""
    its = []
    for st, d in checkpoint.candidates(folder):
        ck = checkpoint.load(d)
        assert checkpoint.nonfinite(ck.weights) is None, d
        if ck.optimizer is not None:
            assert checkpoint.nonfinite(ck.optimizer) is None, d
        its.append(int(st["iteration"]))
    return its


def test_inf_gradients_through_clipping_roll_back_to_a_good_checkpoint(project_copy: Path, job_runner: Any) -> None:
    run, series = job_runner
    # A checkpoint is due at nearly every step: without the guard the poisoned update
    # of iteration 6 would be saved and every rollback would return to it.
    job = run(project_copy, "train_swap", {**TINY, "iterations": 10, "checkpoint_every_s": 0.1,
                                           "keep_backups": 20, "fault_inf_grad_at": 6, "train": {"clip_grad": 1.0}})
    assert job.state == "done", job.error_text
    assert job.result["data"]["iteration"] == 10 and job.result["data"]["rollbacks"] == 1
    with ProjectStore.open(project_copy, readonly=True) as store:
        texts = [r[0] for r in store.query("SELECT text FROM job_events WHERE job_id = ? AND kind = 'rollback'",
                                           (job.id,))]
    assert len(texts) == 1 and "iteration 6: gradient norm is inf" in texts[0]
    folder = project_copy / "models" / str(job.result["data"]["model_id"])
    assert max(_all_checkpoints_finite(folder)) == 10
    assert all(torch.isfinite(v).all() for v in checkpoint.load(folder / "latest").weights.values())
    steps = [s for s, _ in series(project_copy, job.id, "src_loss")]
    assert steps == sorted(set(steps)) == list(range(1, 11))  # one row per step, the lost one redone


def test_weights_poisoned_without_clipping_are_never_checkpointed(project_copy: Path, job_runner: Any) -> None:
    run, _ = job_runner
    # No clipping: the inf gradient reaches the weights; the loss of that step is still
    # finite, so only the check before the checkpoint (or the next loss) can catch it.
    job = run(project_copy, "train_swap", {**TINY, "iterations": 9, "checkpoint_every_s": 0.1, "keep_backups": 20,
                                           "fault_inf_grad_at": 5, "train": {"clip_grad": 0.0}})
    assert job.state == "done", job.error_text
    assert job.result["data"]["rollbacks"] >= 1
    folder = project_copy / "models" / str(job.result["data"]["model_id"])
    assert max(_all_checkpoints_finite(folder)) == 9


def test_save_refuses_non_finite_tensors_and_rollback_skips_bad_checkpoints(tmp_path: Path) -> None:
    good = {"w": torch.ones(4)}
    checkpoint.save(tmp_path, weights=good, state={"iteration": 1}, optimizer={"state": {}, "param_groups": []})
    with pytest.raises(CheckpointRefused, match="NaN or an infinity"):
        checkpoint.save(tmp_path, weights={"w": torch.tensor([1.0, float("nan")])}, state={"iteration": 2})
    with pytest.raises(CheckpointRefused, match="optimizer"):
        checkpoint.save(tmp_path, weights=good, state={"iteration": 2},
                        optimizer={"state": {0: {"exp_avg": torch.tensor([float("inf")])}}, "param_groups": []})
    assert checkpoint.read_state(tmp_path / "latest")["iteration"] == 1  # nothing written
    checkpoint.save(tmp_path, weights={"w": torch.full((4,), 2.0)}, state={"iteration": 2})
    # A bad checkpoint an older version wrote becomes the newest: rollbacks pass over it.
    checkpoint.save(tmp_path, weights={"w": torch.full((4,), 3.0)}, state={"iteration": 3})
    from safetensors.torch import save_file

    latest = tmp_path / "latest" / checkpoint.WEIGHTS
    save_file({"w": torch.tensor([float("nan")] * 4)}, str(latest), metadata={"format": checkpoint.FORMAT})
    import json

    st = json.loads((tmp_path / "latest" / checkpoint.STATE).read_text())
    st["files"][checkpoint.WEIGHTS] = latest.stat().st_size
    (tmp_path / "latest" / checkpoint.STATE).write_text(json.dumps(st))
    found = checkpoint.load_newest_good(tmp_path)
    assert found is not None
    ck, passed = found
    assert ck.state["iteration"] == 2 and len(passed) == 1 and "not finite" in passed[0]
    assert ck.optimizer is None  # a backup: weights only


def test_extra_named_parts_are_saved_checked_and_restored(tmp_path: Path) -> None:
    disc = {"d.weight": torch.ones(2, 2)}
    disc_opt = {"state": {0: {"exp_avg": torch.zeros(2, 2)}}, "param_groups": [{"lr": 1e-4, "params": [0]}]}
    checkpoint.save(tmp_path, weights={"w": torch.ones(1)}, state={"iteration": 1},
                    optimizer={"state": {}, "param_groups": []}, modules={"disc": disc}, optimizers={"disc": disc_opt})
    ck = checkpoint.load(tmp_path / "latest")
    assert torch.equal(ck.modules["disc"]["d.weight"], disc["d.weight"])
    assert ck.optimizers["disc"]["param_groups"][0]["lr"] == 1e-4
    with pytest.raises(CheckpointRefused, match="disc.safetensors"):
        checkpoint.save(tmp_path, weights={"w": torch.ones(1)}, state={"iteration": 2},
                        modules={"disc": {"d.weight": torch.tensor([float("inf")])}})
    checkpoint.save(tmp_path, weights={"w": torch.ones(1)}, state={"iteration": 2}, modules={"disc": disc},
                    optimizers={"disc": disc_opt})
    backup = next((tmp_path / "backups").iterdir())
    assert (backup / "disc.safetensors").exists() and not (backup / "optimizer-disc.pt").exists()


def test_backups_stay_within_the_disk_budget(project_copy: Path, job_runner: Any) -> None:
    run, _ = job_runner
    job = run(project_copy, "train_swap", {**TINY, "iterations": 8, "checkpoint_every_s": 0.1, "keep_backups": 3,
                                           "keep_hourly": 0})
    assert job.state == "done", job.error_text
    model_id = job.result["data"]["model_id"]
    folder = project_copy / "models" / str(model_id)
    latest = folder / "latest"
    weights = (latest / checkpoint.WEIGHTS).stat().st_size
    optimizer = (latest / checkpoint.OPTIMIZER).stat().st_size
    backups = list((folder / "backups").iterdir())
    assert len(backups) == 3 and all(not (b / checkpoint.OPTIMIZER).exists() for b in backups)
    with ProjectStore.open(project_copy) as store:
        use = disk_use(store, model_id)[0]
        assert use.backups == 3 and use.weights_bytes == weights and use.optimizer_bytes == optimizer
        assert use.total_bytes <= 1.2 * (weights + optimizer) + 3 * weights, (use, weights, optimizer)
        assert use.total_bytes <= use.budget_bytes
    # Unchanged files are hard-linked: a save of the same weights costs no disk.
    ck = checkpoint.load(latest)
    checkpoint.save(folder, weights=ck.weights, state=ck.state, optimizer=ck.optimizer, keep_last=3, keep_hourly=0)
    assert os.stat(folder / "latest" / checkpoint.WEIGHTS).st_nlink >= 2  # shared with a backup
    with ProjectStore.open(project_copy) as store:
        assert disk_use(store, model_id)[0].total_bytes <= use.total_bytes
    # "prune backups", from the command line as the editor's action does it.
    out = run_cli("models-disk", str(project_copy))
    assert f"[{model_id}]" in out.stdout and "3 backups" in out.stdout
    out = run_cli("prune-backups", str(project_copy), "--model", str(model_id))
    assert out.returncode == 0, out.stderr
    assert not list((folder / "backups").iterdir()) and checkpoint.find_latest(folder) == folder / "latest"


def test_prune_is_refused_while_the_model_trains(project_copy: Path) -> None:
    with ProjectStore.open(project_copy) as store:
        job = JobQueue(store).enqueue("train_swap", {**TINY, "iterations": 5})
        with store.transaction() as c:
            c.execute("INSERT INTO models (id, kind, name, arch, face_type, resolution, config, iteration, path, "
                      "created_at, updated_at) VALUES (77, 'swap', 'm', 'df', 'full', 64, '{}', 0, 'models/77/', 0, 0)")
            (project_copy / "models" / "77" / "backups" / "x").mkdir(parents=True)
            c.execute("UPDATE jobs SET state = 'running', worker = 'x:1', heartbeat_at = ?, checkpoint = ? "
                      "WHERE id = ?", (time.time(), '{"model_id": 77}', job.id))
        from engine.swap.disk import PruneError

        with pytest.raises(PruneError, match="being trained by job"):
            prune_backups(store, 77)
        assert (project_copy / "models" / "77" / "backups" / "x").is_dir()  # nothing removed
        assert 77 not in prune_backups(store)  # all models: the training one is left alone


def test_a_preview_is_written_within_the_first_minute_of_a_cpu_run(project_copy: Path) -> None:
    with ProjectStore.open(project_copy) as store:
        # Default preview settings: iterations previews far away, the clock's at 60 s on a CPU.
        job = JobQueue(store).enqueue("train_swap", {"preset": "fast-64", "seed": 2, "iterations": 10_000,
                                                      "preview_every": 5000, "checkpoint_every_s": 3600})
    from engine.jobs.worker import Worker

    import threading

    w = Worker(project_copy, only_job=job.id, log_to_stderr=False)
    t = threading.Thread(target=w.run)
    t.start()
    try:
        with ProjectStore.open(project_copy, readonly=True) as store:
            q = JobQueue(store)
            deadline = time.monotonic() + 120
            while q.job(job.id).preview_path is None:
                assert time.monotonic() < deadline and t.is_alive(), q.job(job.id).status_text
                time.sleep(0.2)
            row = q.job(job.id)
            first = project_copy / row.preview_path
            assert first.exists() and first.stat().st_mtime - row.started_at < 60
            # The training monitor reads the row's newest path at once.
            assert row.preview_path.endswith("00000000.jpg")
    finally:
        with ProjectStore.open(project_copy) as store:
            JobQueue(store).cancel(job.id)
        t.join(120)


def test_preview_clock_adds_previews_between_iteration_previews(project_copy: Path, job_runner: Any) -> None:
    run, _ = job_runner
    job = run(project_copy, "train_swap", {**TINY, "iterations": 12, "preview_every": 1000, "preview_every_s": 0.2})
    assert job.state == "done", job.error_text
    shots = sorted((project_copy / "previews" / str(job.id)).glob("*.jpg"))
    assert shots[0].stem == "00000000" and len(shots) >= 3  # the start, then the clock's


@pytest.mark.slow
def test_metrics_stay_unique_after_a_kill_and_a_resume(project_copy: Path, job_runner: Any) -> None:
    run, series = job_runner
    with ProjectStore.open(project_copy) as store:
        job = JobQueue(store).enqueue("train_swap", {**TINY, "iterations": 40, "checkpoint_every_s": 2.5})
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "engine", "worker", str(project_copy)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 240
        while True:
            assert time.monotonic() < deadline and proc.poll() is None
            with ProjectStore.open(project_copy, readonly=True) as store:
                ck = (JobQueue(store).job(job.id).checkpoint or {}).get("iteration", 0)
                steps = [s for s, _ in series(project_copy, job.id, "src_loss")]
            if ck >= 1 and steps and max(steps) >= ck + 3:
                break  # rows past the checkpoint that the resume will redo
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with ProjectStore.open(project_copy) as store:
        JobQueue(store).recover_stale()
        killed_ck = JobQueue(store).job(job.id).checkpoint["iteration"]
    from engine.jobs.worker import Worker

    w = Worker(project_copy, only_job=job.id, log_to_stderr=False)
    w.run()
    assert w.last_job.state == "done", w.last_job.error_text
    with ProjectStore.open(project_copy, readonly=True) as store:
        rows = store.query("SELECT name, step, count(*) AS n FROM job_metrics WHERE job_id = ? "
                           "GROUP BY name, step HAVING n > 1", (job.id,))
        assert rows == []  # one row per (job, metric, step)
        resumed_at = store.scalar("SELECT t FROM job_events WHERE job_id = ? AND kind = 'resume'", (job.id,))
        late = store.query("SELECT t FROM job_metrics WHERE job_id = ? AND step > ?", (job.id, killed_ck))
        assert late and all(r[0] >= resumed_at for r in late)  # the killed run's rows were replaced
    steps = [s for s, _ in series(project_copy, job.id, "src_loss")]
    assert steps == list(range(1, 41))
