"""The editor's engine client with the real engine process (qtbot, offscreen)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine_client import EngineClient
from engine.project.store import ProjectStore

pytestmark = pytest.mark.gui


@pytest.fixture
def root(tmp_path: Path) -> Path:
    with ProjectStore.create(tmp_path / "Client") as store:
        return store.root


def test_real_engine_runs_a_job_from_queued_to_done(qtbot, root: Path) -> None:
    client = EngineClient(root)
    try:
        states: list[str] = []
        client.jobs_changed.connect(lambda jobs: states.extend(j.state for j in jobs))
        progress: list[float] = []
        client.job_progress.connect(lambda _id, f, _t: progress.append(f))
        with qtbot.waitSignal(client.engine_state_changed, timeout=10_000):
            job = client.submit("noop", {"steps": 10, "step_s": 0.1})
        assert client.running
        with qtbot.waitSignal(client.job_finished, timeout=30_000) as finished:
            pass
        assert finished.args[0] == job.id
        assert states[0] == "queued" and "running" in states and states[-1] == "done"
        assert len(set(progress)) >= 3 and 0 < max(progress) <= 1.0  # several updates seen while it ran
        # --exit-when-idle: the engine stops once the queue is empty.
        qtbot.waitUntil(lambda: not client.running, timeout=10_000)
    finally:
        client.shutdown()


def test_failed_job_reports_its_error(qtbot, root: Path) -> None:
    client = EngineClient(root)
    try:
        with qtbot.waitSignal(client.job_failed, timeout=30_000) as failed:
            client.submit("noop", {"steps": 3, "step_s": 0.01, "fail_at": 1})
        assert "noop asked to fail at step 1" in failed.args[1]
    finally:
        client.shutdown()


def test_pause_resume_and_cancel_through_the_client(qtbot, root: Path) -> None:
    client = EngineClient(root)
    try:
        job = client.submit("noop", {"steps": 400, "step_s": 0.02})
        qtbot.waitUntil(lambda: client.queue.job(job.id).progress > 0.02, timeout=10_000)
        client.pause(job.id)
        qtbot.waitUntil(lambda: client.queue.job(job.id).state == "paused", timeout=5_000)
        client.resume(job.id)
        qtbot.waitUntil(lambda: client.queue.job(job.id).state == "running", timeout=10_000)
        client.cancel(job.id)
        qtbot.waitUntil(lambda: client.queue.job(job.id).state == "cancelled", timeout=3_000)
        assert client.queue.job(job.id).checkpoint["next_step"] > 0
    finally:
        client.shutdown()


def test_engine_crash_is_reported_with_the_log_tail(qtbot, root: Path, tmp_path: Path) -> None:
    # An "engine" that writes to the log and dies: what a segfault in a native library looks like.
    fake = tmp_path / "fake_python"
    fake.write_text("#!/bin/sh\necho 'Fatal Python error: Segmentation fault' >&2\nexit 139\n")
    fake.chmod(0o755)
    client = EngineClient(root, python=str(fake))
    try:
        with qtbot.waitSignal(client.engine_crashed, timeout=10_000) as crashed:
            client.submit("noop", {"steps": 1})
        code, tail = crashed.args
        assert code == 139 and "Segmentation fault" in tail
    finally:
        client.shutdown()


def test_quitting_sends_the_running_job_back_to_the_queue(qtbot, root: Path) -> None:
    client = EngineClient(root)
    job = client.submit("noop", {"steps": 500, "step_s": 0.02})
    qtbot.waitUntil(lambda: client.queue.job(job.id).progress > 0.02, timeout=10_000)
    client.shutdown(timeout_ms=5000)
    assert not client.running
    with ProjectStore.open(root) as store:
        row = store.query("SELECT state, checkpoint FROM jobs WHERE id = ?", (job.id,))[0]
    assert row["state"] == "queued" and '"next_step"' in row["checkpoint"]


def test_quitting_stops_the_engine_promptly_and_it_does_not_reclaim_the_job(qtbot, root: Path) -> None:
    import time

    client = EngineClient(root)
    job = client.submit("noop", {"steps": 2000, "step_s": 0.01})
    qtbot.waitUntil(lambda: client.queue.job(job.id).progress > 0.01, timeout=10_000)
    t = time.monotonic()
    client.shutdown(timeout_ms=8000)
    assert time.monotonic() - t < 3.0  # the worker exits by itself, no terminate/kill needed
    with ProjectStore.open(root) as store:
        state, progress = store.query("SELECT state, progress FROM jobs WHERE id = ?", (job.id,))[0]
    assert state == "queued" and progress < 0.5
