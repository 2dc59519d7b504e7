"""The real worker process: SIGKILL at random moments, two workers, the job CLI."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ROOT, run_cli

from engine.jobs.queue import JobQueue
from engine.project.store import ProjectStore

pytestmark = pytest.mark.slow


def start_worker(root: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "engine", "worker", "--project", str(root), "--exit-when-idle", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT,
    )


def _until_working(root: Path, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        conn = sqlite3.connect(root / "project.db")
        try:
            if conn.execute("SELECT count(*) FROM jobs WHERE state = 'running' AND worker LIKE ?",
                            (f"%:{proc.pid}",)).fetchone()[0]:
                return
        except sqlite3.OperationalError:
            pass  # busy
        finally:
            conn.close()
        time.sleep(0.02)


def test_sigkill_at_20_random_moments_loses_nothing(tmp_path: Path, clip_copy) -> None:
    from engine.project.clips import add_clips

    rng = random.Random(1234)
    with ProjectStore.create(tmp_path / "Kill") as store:
        add_clips(store, [clip_copy("bbaf2n")], "dst")
        q = JobQueue(store)
        # An extraction in the cpu lane beside the io lane's jobs, killed with them.
        extract = q.enqueue("extract", {"every_nth": 5, "embed_sample": 1}).id
        ids = [q.enqueue("noop", {"steps": 8, "step_s": 0.04, "metrics": True}).id for _ in range(24)]
        root = store.root
    kills = 0
    while kills < 20:
        proc = start_worker(root)
        _until_working(root, proc)  # a loaded machine can take longer to start it than to kill it
        time.sleep(rng.uniform(0.05, 0.9))
        if proc.poll() is not None:
            break  # the queue ran dry before we got to kill it
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        conn = sqlite3.connect(root / "project.db")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
    assert kills >= 15
    # A restart finishes everything.
    proc = start_worker(root)
    assert proc.wait(timeout=120) == 0
    with ProjectStore.open(root) as store:
        jobs = {j.id: j for j in JobQueue(store).jobs()}
        assert sorted(jobs) == [extract, *ids]  # nothing lost, nothing added
        assert jobs.pop(extract).state == "done"
        # Every 5th frame of the 75 scanned once, whatever the kills interrupted.
        assert store.scalar("SELECT count(DISTINCT frame) FROM faces") == 15
        assert all(j.state == "done" for j in jobs.values()), [(j.id, j.state, j.error_text) for j in jobs.values()]
        # Work resumed from checkpoints rather than starting over every time.
        assert any(j.result["data"]["resumed_from"] > 0 for j in jobs.values())
        # Each step's metric exists (killed steps may repeat, none is missing).
        for job_id in ids:
            steps = {r[0] for r in store.query("SELECT step FROM job_metrics WHERE job_id = ?", (job_id,))}
            assert steps == set(range(8)), (job_id, steps)
        conn = store.connection
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_two_workers_never_run_the_same_job(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "Two") as store:
        q = JobQueue(store)
        ids = [q.enqueue("noop", {"steps": 2, "step_s": 0.01}).id for _ in range(40)]
        root = store.root
    a, b = start_worker(root), start_worker(root)
    assert a.wait(timeout=120) == 0 and b.wait(timeout=120) == 0
    log = (root / "logs" / "engine.log").read_text()
    starts = [line for line in log.splitlines() if "(noop) started" in line]
    started_ids = [int(line.split("job ")[1].split(" ")[0]) for line in starts]
    assert sorted(started_ids) == ids  # each job started exactly once
    pids = {line.split()[2] for line in starts}
    assert len(pids) == 2  # both workers did work
    with ProjectStore.open(root) as store:
        assert all(j.state == "done" for j in JobQueue(store).jobs())


def test_job_commands(tmp_path: Path) -> None:
    root = tmp_path / "C.facesmith"
    assert run_cli("new", str(root)).returncode == 0
    r = run_cli("queue", str(root), "noop", "--param", "steps=3", "-p", "step_s=0")
    assert r.returncode == 0 and "queued job 1 (noop)" in r.stdout
    r = run_cli("queue", str(root), "noop", "-p", "steps=lots")
    assert r.returncode == 1 and "steps='lots' is not int" in r.stderr
    r = run_cli("queue", str(root), "noop", "-p", "steps=500", "-p", "step_s=0.01")
    assert "queued job 2" in r.stdout
    assert "[2] noop         paused" in run_cli("pause", str(root), "2").stdout
    assert "[2] noop         queued" in run_cli("resume", str(root), "2").stdout
    assert "cancelled" in run_cli("cancel", str(root), "2").stdout
    r = run_cli("jobs", str(root))
    assert "[1] noop         queued" in r.stdout and "[2] noop         cancelled" in r.stdout
    r = run_cli("worker", str(root), "--exit-when-idle")
    assert r.returncode == 0
    assert "[1] noop         done" in run_cli("jobs", str(root)).stdout
    r = run_cli("run", str(root), "noop", "-p", "steps=5", "-p", "step_s=0.01")
    assert r.returncode == 0 and "job 3 done" in r.stdout and "100%" in r.stderr
    r = run_cli("run", str(root), "noop", "-p", "steps=5", "-p", "fail_at=2")
    assert r.returncode == 1 and "job 4 failed" in r.stderr and "noop asked to fail" in r.stderr
    r = run_cli("cancel", str(root), "99")
    assert r.returncode == 1 and "no job with id 99" in r.stderr


def test_sigterm_requeues_the_running_job(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "Term") as store:
        job = JobQueue(store).enqueue("noop", {"steps": 200, "step_s": 0.02})
        root = store.root
    proc = start_worker(root)
    with ProjectStore.open(root) as store:
        q = JobQueue(store)
        end = time.monotonic() + 20
        while q.job(job.id).progress < 0.05 and time.monotonic() < end:
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        back = q.job(job.id)
        assert back.state == "queued" and back.checkpoint["next_step"] > 0


def test_editor_and_engine_write_at_once_without_lock_errors(tmp_path: Path) -> None:
    """The engine writes metrics, progress and checkpoints flat out while the 'editor'
    makes hundreds of small edits: neither side ever sees 'database is locked'."""
    from engine.project.clips import add_clips
    from helpers import SAMPLES

    with ProjectStore.create(tmp_path / "Busy") as store:
        (clip,), _ = add_clips(store, [SAMPLES / "bbaf2n.mpg"], "dst")
        job = JobQueue(store).enqueue("noop", {"steps": 4000, "step_s": 0.0, "metrics": True})
        root = store.root
    proc = start_worker(root)
    edits = 0
    try:
        with ProjectStore.open(root) as editor:
            q = JobQueue(editor)
            while q.job(job.id).state in ("queued", "running") or edits < 50:
                cs = editor.set_clip_range(clip.id, edits % 10, 60 + edits % 10)
                editor.apply(cs.inverse())
                editor.faces(clip_id=clip.id)
                edits += 1
                if edits > 5000:
                    break
            assert q.job(job.id).state == "done"
    finally:
        assert proc.wait(timeout=60) == 0
    assert edits >= 50
    with ProjectStore.open(root) as store:
        assert store.scalar("SELECT count(*) FROM job_metrics WHERE job_id = ?", (job.id,)) == 4000
