"""The job queue and the worker loop, in-process: lifecycle, validation, order, failures."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from engine.errors import JobError
from engine.jobs.queue import JobQueue
from engine.jobs.registry import kinds, parse_cli_params
from engine.jobs.worker import Worker
from engine.project.store import ProjectStore


@pytest.fixture
def queue(project: ProjectStore) -> JobQueue:
    return JobQueue(project)


def run_worker(root: Path, **kw) -> Worker:
    w = Worker(root, exit_when_idle=True, log_to_stderr=False, **kw)
    w.run()
    return w


def test_kinds_registered() -> None:
    assert {"noop", "probe_clips"} <= set(kinds())


@pytest.mark.parametrize(
    "params, message",
    [
        ({"stepz": 3}, "unknown parameter(s) stepz"),
        ({"steps": "many"}, "steps='many' is not int"),
        ({"steps": True}, "is not int"),
        ({"steps": -1}, "steps must be >= 0"),
        ({"step_s": "fast"}, "is not float"),
    ],
)
def test_bad_parameters_are_refused_when_queued(queue: JobQueue, params: dict, message: str) -> None:
    with pytest.raises(JobError, match=message.replace("(", r"\(").replace(")", r"\)")):
        queue.enqueue("noop", params)
    assert queue.jobs() == []


def test_unknown_kind_is_refused(queue: JobQueue) -> None:
    with pytest.raises(JobError, match="unknown job kind 'train_everything'"):
        queue.enqueue("train_everything", {})


def test_cli_params_are_json_or_text() -> None:
    assert parse_cli_params(["steps=5", "step_s=0.5", "name=abc", "ids=[1,2]", "flag=true"]) == {
        "steps": 5, "step_s": 0.5, "name": "abc", "ids": [1, 2], "flag": True}
    with pytest.raises(JobError, match="name=value"):
        parse_cli_params(["oops"])


def test_job_runs_to_done_with_progress_metrics_and_result(queue: JobQueue, project: ProjectStore) -> None:
    job = queue.enqueue("noop", {"steps": 4, "step_s": 0.0, "metrics": True})
    assert job.state == "queued" and job.params["steps"] == 4
    run_worker(project.root)
    done = queue.job(job.id)
    assert done.state == "done" and done.progress == 1.0 and done.finished_at and done.started_at
    assert done.result["data"] == {"steps_run": 4, "resumed_from": 0}
    values = project.query("SELECT step, value FROM job_metrics WHERE job_id = ? ORDER BY step", (job.id,))
    assert [tuple(r) for r in values] == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 3.0)]


def test_failing_job_records_traceback_and_worker_goes_on(queue: JobQueue, project: ProjectStore) -> None:
    bad = queue.enqueue("noop", {"steps": 3, "step_s": 0.0, "fail_at": 1})
    good = queue.enqueue("noop", {"steps": 2, "step_s": 0.0})
    run_worker(project.root)
    failed = queue.job(bad.id)
    assert failed.state == "failed"
    assert "Traceback" in failed.error_text and "noop asked to fail at step 1" in failed.error_text
    assert "RuntimeError" in failed.status_text
    assert queue.job(good.id).state == "done"


def test_priority_then_creation_order_and_reorder(queue: JobQueue, project: ProjectStore) -> None:
    a = queue.enqueue("noop", {"steps": 0})
    b = queue.enqueue("noop", {"steps": 0})
    c = queue.enqueue("noop", {"steps": 0}, priority=5)
    d = queue.enqueue("noop", {"steps": 0})
    queue.reorder([d.id, a.id])  # the user drags d to the top while jobs wait
    order = []
    w = Worker(project.root, exit_when_idle=True, log_to_stderr=False)
    real = w.run_job
    w.run_job = lambda job: (order.append(job.id), real(job))  # type: ignore[method-assign]
    w.run()
    assert order == [c.id, d.id, a.id, b.id]


def test_cancel_waiting_and_running(queue: JobQueue, project: ProjectStore) -> None:
    waiting = queue.enqueue("noop", {"steps": 1})
    assert queue.cancel(waiting.id).state == "cancelled"
    with pytest.raises(JobError, match="already cancelled"):
        queue.cancel(waiting.id)
    long = queue.enqueue("noop", {"steps": 1000, "step_s": 0.05})
    w = Worker(project.root, exit_when_idle=True, log_to_stderr=False)
    t = threading.Thread(target=w.run)
    t.start()
    try:
        _wait_state(queue, long.id, "running")
        t0 = time.monotonic()
        queue.cancel(long.id)
        _wait_state(queue, long.id, "cancelled", timeout=5)
        assert time.monotonic() - t0 < 1.0
    finally:
        t.join(10)


def test_pause_checkpoints_and_resume_continues(queue: JobQueue, project: ProjectStore) -> None:
    job = queue.enqueue("noop", {"steps": 40, "step_s": 0.02})
    w = Worker(project.root, exit_when_idle=True, log_to_stderr=False)
    t = threading.Thread(target=w.run)
    t.start()
    _wait(lambda: queue.job(job.id).progress >= 0.2)
    queue.pause(job.id)
    _wait_state(queue, job.id, "paused")
    t.join(10)
    paused = queue.job(job.id)
    assert paused.checkpoint["next_step"] >= 8 and paused.state == "paused"
    with pytest.raises(JobError, match="not paused"):
        queue.resume(queue.enqueue("noop", {"steps": 0}).id)
    queue.resume(job.id)
    run_worker(project.root)
    done = queue.job(job.id)
    assert done.state == "done"
    assert done.result["data"]["resumed_from"] == paused.checkpoint["next_step"]


def test_pausing_a_waiting_job_holds_it(queue: JobQueue, project: ProjectStore) -> None:
    held = queue.enqueue("noop", {"steps": 0})
    other = queue.enqueue("noop", {"steps": 0})
    queue.pause(held.id)
    run_worker(project.root)
    assert queue.job(held.id).state == "paused" and queue.job(other.id).state == "done"


def test_shutdown_sends_the_job_back_to_the_queue(queue: JobQueue, project: ProjectStore) -> None:
    job = queue.enqueue("noop", {"steps": 100, "step_s": 0.02})
    w = Worker(project.root, exit_when_idle=True, log_to_stderr=False)
    t = threading.Thread(target=w.run)
    t.start()
    _wait(lambda: queue.job(job.id).progress >= 0.1)
    w.shutdown.set()  # what SIGTERM does
    t.join(10)
    back = queue.job(job.id)
    assert back.state == "queued" and back.checkpoint["next_step"] >= 10
    run_worker(project.root)
    assert queue.job(job.id).result["data"]["resumed_from"] == back.checkpoint["next_step"]


def test_stale_running_job_is_requeued(queue: JobQueue, project: ProjectStore) -> None:
    job = queue.enqueue("noop", {"steps": 2, "step_s": 0.0})
    # A worker on another machine claimed it and stopped beating 31 s ago.
    with project.transaction() as c:
        c.execute("UPDATE jobs SET state = 'running', worker = 'elsewhere:123', heartbeat_at = ?, attempts = 1 "
                  "WHERE id = ?", (time.time() - 31, job.id))
    fresh = queue.enqueue("noop", {"steps": 0})
    with project.transaction() as c:
        c.execute("UPDATE jobs SET state = 'running', worker = 'elsewhere:124', heartbeat_at = ? WHERE id = ?",
                  (time.time(), fresh.id))
    assert queue.recover_stale() == [job.id]
    back = queue.job(job.id)
    assert back.state == "queued" and back.attempts == 2  # a crash counts; the claims did not
    assert "engine elsewhere:123 stopped" in back.error_text
    run_worker(project.root)
    # Done, and its run got past its checkpoint: the crashes are no longer "in a row".
    assert queue.job(job.id).state == "done" and queue.job(job.id).attempts == 0
    assert queue.job(fresh.id).state == "running"  # its worker is alive elsewhere


def test_probe_clips_job_reports_missing_files(queue: JobQueue, project: ProjectStore, clip_copy) -> None:
    from engine.project.clips import add_clips

    a = clip_copy("bbaf2n")
    b = clip_copy("lbax4n")
    add_clips(project, [a, b], "dst")
    b.unlink()
    job = queue.enqueue("probe_clips", {})
    run_worker(project.root)
    done = queue.job(job.id)
    assert done.state == "done", done.error_text
    assert done.result["message"] == "2 clips checked, 1 with problems"
    assert "lbax4n: file missing" in done.result["data"]["problems"][0]


def _wait(cond, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.01)


def _wait_state(queue: JobQueue, job_id: int, state: str, timeout: float = 10.0) -> None:
    _wait(lambda: queue.job(job_id).state == state, timeout)


def test_a_kind_is_loaded_without_the_heavy_others() -> None:
    import subprocess
    import sys

    code = ("import sys; from engine.jobs.registry import get_kind; get_kind('noop'); "
            "print('torch' in sys.modules, 'engine.jobs.kinds.extract' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
