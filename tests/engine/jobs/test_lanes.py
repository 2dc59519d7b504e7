"""Lanes: jobs side by side, the user's order within a lane, reclaim by live workers,
attempts that count crashes in a row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import ROOT

from engine.jobs.context import JobContext
from engine.jobs.lanes import LaneNeed, LaneState, cpu_threads, describe, need_of
from engine.jobs.queue import MAX_CRASHES, JobQueue
from engine.jobs.registry import JobResult, get_kind, job_kind
from engine.jobs.worker import Worker
from engine.project.store import ProjectStore


@dataclass(frozen=True)
class HoldParams:
    seconds: float = 1.0


def _hold(ctx: JobContext, p: HoldParams) -> JobResult:
    """Sleep in small steps, recording the threads its lane gives it."""
    end = time.monotonic() + p.seconds
    seen = set()
    while time.monotonic() < end:
        ctx.check()
        seen.add(ctx.cpu_threads())
        time.sleep(0.02)
    return JobResult(data={"lane": ctx.lane, "threads": sorted(seen)})


job_kind("test_hold_cpu", HoldParams, description="test: holds the cpu lane", resource="cpu")(_hold)
job_kind("test_hold_gpu", HoldParams, description="test: holds a gpu lane", resource="gpu:1")(_hold)
job_kind("test_make_faces", HoldParams, description="test: an extraction", resource="cpu", makes_faces=True)(_hold)


@dataclass(frozen=True)
class NewKindParams:
    x: int = 0


job_kind("test_new_exclusive", NewKindParams, description="a kind that knows nothing of lanes", exclusive=True)(
    lambda ctx, p: JobResult())
job_kind("test_new_light", NewKindParams, description="a light kind that knows nothing of lanes")(
    lambda ctx, p: JobResult())


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACESMITH_GPUS", "0")
    monkeypatch.setenv("FACESMITH_CPU_JOBS", "1")


def _wait(cond, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_kinds_declare_their_resource_with_defaults_for_new_kinds() -> None:
    assert get_kind("train_swap").resource == "gpu:1"
    assert get_kind("extract").resource == "cpu"
    assert get_kind("probe_clips").resource == "io"
    assert get_kind("render").cpu_fallback and get_kind("apply_xseg").cpu_fallback
    # Kinds added without a word about lanes still get a sensible one.
    assert get_kind("test_new_exclusive").resource == "cpu"
    assert get_kind("test_new_light").resource == "io"
    with pytest.raises(ValueError, match="gpu:N"):
        job_kind("test_bad", NewKindParams, description="x", resource="gpu")


def test_lane_rules() -> None:
    assert need_of("gpu:1", {}, cpu_fallback=False, gpus=0) == LaneNeed("compute")
    assert need_of("gpu:1", {}, cpu_fallback=True, gpus=0) == LaneNeed("cpu")
    assert need_of("gpu:1", {"device": "cpu"}, cpu_fallback=True, gpus=2) == LaneNeed("cpu")
    assert need_of("gpu:1", {"devices": 2}, cpu_fallback=False, gpus=2) == LaneNeed("gpu", 2)
    held = LaneState(("gpu:0",))
    assert held.assign(LaneNeed("gpu"), gpus=2, cpu_cap=1) == "gpu:1"
    assert held.assign(LaneNeed("gpu", 2), gpus=2, cpu_cap=1) is None
    assert LaneState(("cpu",)).assign(LaneNeed("cpu"), gpus=0, cpu_cap=1) is None
    assert LaneState(("cpu",)).assign(LaneNeed("compute"), gpus=0, cpu_cap=1) == "compute"
    # Two cores, no GPU: training takes all but one core while extraction runs, then all.
    assert cpu_threads("compute", ["compute", "cpu"], 2) == 1 and cpu_threads("cpu", ["compute", "cpu"], 2) == 1
    assert cpu_threads("compute", ["compute"], 8) == 8
    assert cpu_threads("compute", ["compute", "cpu"], 8) == 7
    assert describe("compute") == "CPU (no GPU)" and describe("gpu:0,1") == "GPUs 0,1"


def test_jobs_queued_after_one_that_makes_faces_wait_for_it(project: ProjectStore, no_gpu: None) -> None:
    """Extract, then train: the training must see the extracted faces, so it waits,
    although it would have a lane of its own. Training queued first runs beside it."""
    q = JobQueue(project)
    assert get_kind("extract").makes_faces and get_kind("import_dfl").makes_faces
    assert not get_kind("train_swap").makes_faces
    early_train = q.enqueue("test_hold_gpu", {"seconds": 0.1})
    extract = q.enqueue("test_make_faces", {"seconds": 0.1})
    train = q.enqueue("test_hold_gpu", {"seconds": 0.1})
    light = q.enqueue("noop", {"steps": 1, "step_s": 0.0})
    first = q.claim("w")
    assert first is not None and first.id == early_train.id
    second = q.claim("w")
    assert second is not None and second.id == extract.id  # beside the earlier training
    third = q.claim("w")
    assert third is not None and third.id == light.id  # io jobs never wait
    q.finish(first.id, "w", "done")
    assert q.claim("w") is None  # the compute lane is free, but the faces are not ready
    q.finish(second.id, "w", "done")
    fourth = q.claim("w")
    assert fourth is not None and fourth.id == train.id


def test_two_lanes_run_at_once_and_the_order_holds_within_a_lane(project: ProjectStore, no_gpu: None) -> None:
    q = JobQueue(project)
    train = q.enqueue("test_hold_gpu", {"seconds": 4.0})  # the "training" (compute lane: no GPU)
    cpu_a = q.enqueue("test_hold_cpu", {"seconds": 2.5})
    cpu_b = q.enqueue("test_hold_cpu", {"seconds": 0.1})
    light = q.enqueue("noop", {"steps": 3, "step_s": 0.05})
    q.reorder([train.id, cpu_b.id, cpu_a.id, light.id])  # the user wants b before a
    w = Worker(project.root, exit_when_idle=True, log_to_stderr=False)
    t = threading.Thread(target=w.run)
    t.start()
    _wait(lambda: q.job(train.id).state == "running" and q.job(cpu_b.id).state in ("running", "done"))
    assert q.job(train.id).lane == "compute"
    t.join(60)
    jobs = {j.id: j for j in q.jobs()}
    assert all(j.state == "done" for j in jobs.values()), [(j.id, j.state, j.error_text) for j in jobs.values()]
    tr, a, b = jobs[train.id], jobs[cpu_a.id], jobs[cpu_b.id]
    # Side by side: both cpu jobs ran while the training job did ...
    assert a.started_at < tr.finished_at and b.started_at < tr.finished_at
    # ... but one at a time in their lane (cap 1), in the user's order.
    assert b.finished_at <= a.started_at
    # On a shared CPU each got its share of the cores, and said so.
    assert tr.result["data"]["lane"] == "compute" and a.result["data"]["lane"] == "cpu"
    assert any("sharing the CPU" in note for _, note in tr.result["data"]["threads"])


def start_worker(root: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "engine", "worker", str(root), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)


@pytest.mark.slow
def test_a_live_worker_reclaims_a_dead_workers_job(project: ProjectStore) -> None:
    q = JobQueue(project)
    long_job = q.enqueue("noop", {"steps": 400, "step_s": 0.05})
    victim = q.enqueue("noop", {"steps": 30, "step_s": 0.05})
    # A worker on another machine claimed a third job and went silent 28 s ago.
    foreign = q.enqueue("noop", {"steps": 2, "step_s": 0.01})
    with project.transaction() as c:
        c.execute("UPDATE jobs SET state = 'running', worker = 'elsewhere:1', lane = 'io', heartbeat_at = ? "
                  "WHERE id = ?", (time.time() - 28, foreign.id))
    dead = start_worker(project.root)
    _wait(lambda: q.job(victim.id).state == "running" and q.job(long_job.id).state == "running")
    # The live worker (in this process) starts while the other one runs both jobs ...
    w = Worker(project.root, log_to_stderr=False)
    t = threading.Thread(target=w.run)
    t.start()
    try:
        time.sleep(1.0)
        assert q.job(victim.id).worker != w.id  # ... and takes nothing that is alive
        dead.send_signal(signal.SIGKILL)
        dead.wait()
        killed_at = time.monotonic()
        _wait(lambda: q.job(victim.id).state == "done" and q.job(foreign.id).state == "done", timeout=60)
        assert time.monotonic() - killed_at < 35
        back = q.job(victim.id)
        assert back.attempts == 0 and back.result["data"]["resumed_from"] > 0  # continued, not restarted
    finally:
        w.shutdown.set()
        t.join(30)
    assert q.job(long_job.id).state == "queued"  # the shutdown sent it back, it was not lost


@pytest.mark.slow
def test_paused_and_resumed_30_times_then_crashed_once_still_runs(project: ProjectStore) -> None:
    q = JobQueue(project)
    job = q.enqueue("noop", {"steps": 2000, "step_s": 0.05})
    proc = start_worker(project.root)
    try:
        for _ in range(30):
            _wait(lambda: q.job(job.id).state == "running")
            q.pause(job.id)
            _wait(lambda: q.job(job.id).state == "paused")
            q.resume(job.id)
        _wait(lambda: q.job(job.id).state == "running")
        assert q.job(job.id).attempts == 0  # pauses and resumes are not crashes
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert q.recover_stale() == [job.id]
        crashed = q.job(job.id)
        assert crashed.state == "queued" and crashed.attempts == 1  # one crash counted
        at = crashed.checkpoint["next_step"]
        proc = start_worker(project.root)
        _wait(lambda: q.job(job.id).state == "running" and q.job(job.id).checkpoint["next_step"] > at + 3)
        # It runs on, and having got past its checkpoint its crashes are no longer in a row.
        assert q.job(job.id).attempts == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    back = q.job(job.id)
    assert back.state == "queued" and back.attempts == 0 and back.checkpoint["next_step"] > at


def test_failed_after_n_crashes_in_a_row_naming_the_last(project: ProjectStore) -> None:
    q = JobQueue(project)
    job = q.enqueue("noop", {"steps": 5})
    for n in range(1, MAX_CRASHES + 1):
        with project.transaction() as c:
            c.execute("UPDATE jobs SET state = 'running', worker = 'elsewhere:9', lane = 'io', heartbeat_at = 0, "
                      "status_text = 'step 3/5', progress = 0.6 WHERE id = ?", (job.id,))
        assert q.recover_stale() == [job.id]
        back = q.job(job.id)
        if n < MAX_CRASHES:
            assert back.state == "queued" and back.attempts == n
    assert back.state == "failed"
    assert f"died {MAX_CRASHES} times in a row" in back.error_text
    assert "elsewhere:9 stopped at 60 % (step 3/5)" in back.error_text


def test_an_orphaned_row_never_blocks_its_lane(project: ProjectStore, no_gpu: None) -> None:
    q = JobQueue(project)
    orphan = q.enqueue("test_hold_gpu", {"seconds": 0.1})
    with project.transaction() as c:  # its engine died a moment ago on another machine: not yet reclaimed
        c.execute("UPDATE jobs SET state = 'running', worker = 'elsewhere:2', lane = 'compute', heartbeat_at = ? "
                  "WHERE id = ?", (time.time() - 40, orphan.id))
    fresh = q.enqueue("test_hold_gpu", {"seconds": 0.1})
    claimed = q.claim("here:1")
    assert claimed is not None and claimed.id == fresh.id and claimed.lane == "compute"
