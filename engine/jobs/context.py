"""JobContext: what a running job uses to report and to listen.

A job reports through rows (progress, metrics, events, checkpoint) and files (previews),
never through stdout. It listens for cancel and pause with :meth:`JobContext.check`
between steps. A heartbeat thread with its own connection writes ``heartbeat_at`` and
reads the request flags, so a job deep in a long step still shows it is alive and a
cancel is seen within a fraction of a second of the next check.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np

from engine.jobs.lanes import cpu_threads, describe
from engine.jobs.queue import PAUSE_SHUTDOWN, STALE_AFTER_S, JobQueue, _pid_dead
from engine.project.models import Job
from engine.project.store import ProjectStore, connect

log = logging.getLogger("facesmith.engine")

HEARTBEAT_S: Final = 1.0
#: The heartbeat thread's tick: flags are read and pending progress written this often,
#: so with the editor polling every 250 ms progress shows within 300 ms.
FLAG_POLL_S: Final = 0.04
METRIC_FLUSH_S: Final = 1.0
METRIC_FLUSH_ROWS: Final = 500

StopReason = Literal["cancel", "pause", "shutdown", "lost"]


class JobInterrupted(Exception):
    """Raised by :meth:`JobContext.check` when the job must stop now."""

    def __init__(self, reason: StopReason) -> None:
        self.reason = reason
        super().__init__(reason)


class _Heartbeat(threading.Thread):
    """Beats every ``HEARTBEAT_S`` and polls the cancel/pause flags every ``FLAG_POLL_S``."""

    def __init__(self, db_path: Path, job_id: int, worker: str) -> None:
        super().__init__(name=f"heartbeat-{job_id}", daemon=True)
        self._db_path = db_path
        self._job_id = job_id
        self._worker = worker
        self._stop_event = threading.Event()
        self.cancel = False
        self.pause = 0
        self.lost = False
        #: lanes held by the running jobs of live workers (this one's included), read each beat
        self.held: tuple[str, ...] = ()
        #: (fraction, text) set by the job thread, written by this thread on its next tick.
        self.pending_progress: tuple[float, str] | None = None
        #: set once by the job thread when the run got past where its last run stopped
        self.reset_attempts = False

    def run(self) -> None:
        conn = connect(self._db_path)
        last_beat = 0.0
        try:
            while not self._stop_event.is_set():
                now = time.time()
                try:
                    pending, self.pending_progress = self.pending_progress, None
                    if self.reset_attempts:
                        conn.execute("UPDATE jobs SET attempts = 0 WHERE id = ? AND worker = ? AND attempts > 0",
                                     (self._job_id, self._worker))
                        self.reset_attempts = False
                    if pending is not None:
                        conn.execute("UPDATE jobs SET progress = ?, status_text = ?, updated_at = ? "
                                     "WHERE id = ? AND worker = ? AND state = 'running'", (*pending, now, self._job_id, self._worker))
                    if now - last_beat >= HEARTBEAT_S:
                        cur = conn.execute(
                            "UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND worker = ? AND state = 'running'",
                            (now, self._job_id, self._worker),
                        )
                        last_beat = now
                        if cur.rowcount == 0:
                            self.lost = True
                        rows = conn.execute("SELECT lane, worker, heartbeat_at FROM jobs WHERE state = 'running' "
                                            "AND lane IS NOT NULL").fetchall()
                        self.held = tuple(r[0] for r in rows if now - (r[2] or 0.0) < STALE_AFTER_S
                                          and not _pid_dead(r[1]))
                    row = conn.execute("SELECT cancel_requested, pause_requested FROM jobs WHERE id = ?",
                                       (self._job_id,)).fetchone()
                    if row is not None:
                        self.cancel = bool(row[0])
                        self.pause = int(row[1])
                except Exception as exc:  # a busy database must not kill the heartbeat
                    log.warning("heartbeat of job %s: %s", self._job_id, exc)
                self._stop_event.wait(FLAG_POLL_S)
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)
        pending, self.pending_progress = self.pending_progress, None
        if pending is not None:  # the last value before the job ended
            conn = connect(self._db_path)
            try:
                conn.execute("UPDATE jobs SET progress = ?, status_text = ?, updated_at = ? "
                             "WHERE id = ? AND worker = ? AND state = 'running'", (*pending, time.time(), self._job_id, self._worker))
            finally:
                conn.close()


class JobContext:
    """The running job's window on the project.

    Parameters
    ----------
    store : the worker's store (used from the job's thread only).
    job : the claimed job row.
    worker : the worker id that owns the job.
    on_progress : called with (fraction, text) on every progress call (the CLI's bar).
    """

    def __init__(self, store: ProjectStore, job: Job, worker: str,
                 on_progress: Callable[[float, str], None] | None = None) -> None:
        self.store = store
        self.job = job
        self.worker = worker
        self.checkpoint: dict[str, Any] | None = job.checkpoint
        self._claimed_checkpoint = job.checkpoint
        self._progressed = False
        self._on_progress = on_progress
        self._metrics: list[tuple[int, int, str, float, float]] = []
        self._last_flush = time.monotonic()
        self._preview_n = 0
        #: Set by the worker on SIGTERM: the job checkpoints and goes back to the queue.
        self.shutdown_event = threading.Event()
        self._heartbeat = _Heartbeat(store.db_path, job.id, worker)
        self._heartbeat.start()

    @property
    def job_id(self) -> int:
        return self.job.id

    @property
    def project_root(self) -> Path:
        return self.store.root

    @property
    def lane(self) -> str | None:
        """The lane this job holds (``gpu:0``, ``compute``, ``cpu``, ``io``; None outside a worker)."""
        return self.job.lane

    @property
    def gpu_index(self) -> int | None:
        """The first GPU of a ``gpu:N`` lane: the device the job should run on."""
        lane = self.job.lane or ""
        return int(lane[4:].split(",")[0]) if lane.startswith("gpu:") else None

    def cpu_threads(self) -> tuple[int, str]:
        """Threads this job should use now, and a note for its status line when it shares
        the processor (``""`` alone). Cheap: the heartbeat reads the lanes held each beat."""
        held = list(self._heartbeat.held)
        if not held and self.job.lane:  # before the heartbeat's first reading
            held = list(JobQueue(self.store).held_lanes().held) or [self.job.lane]
        n = cpu_threads(self.job.lane, held)
        others = [describe(h) for h in held if h != self.job.lane] + \
            [describe(h) for h in held if h == self.job.lane][1:]
        if not others or self.job.lane not in ("compute", "cpu"):
            return n, ""
        return n, f"sharing the CPU with {len(others)} other job{'s' if len(others) > 1 else ''}: {n} thread{'s' if n > 1 else ''}"

    # ------------------------------------------------------------------ reporting
    def progress(self, fraction: float, text: str = "") -> None:
        """Report progress (0..1) and a short status.

        Cheap enough to call every step: the value is handed to the heartbeat thread,
        which writes the latest one on its next tick (so a job never waits on the
        database for progress, and the row is never more than a tick behind).
        """
        fraction = min(max(float(fraction), 0.0), 1.0)
        if self._on_progress is not None:
            self._on_progress(fraction, text)
        if not self._progressed and self.job.attempts and fraction > self.job.progress + 1e-9:
            # Past the point where the last run died: its crashes are no longer in a row.
            self._progressed = True
            self._heartbeat.reset_attempts = True
        self._heartbeat.pending_progress = (fraction, text)

    def metric(self, step: int, name: str, value: float) -> None:
        """Record one value of a series (loss, ms/iter); written in batches."""
        self._metrics.append((self.job.id, int(step), name, float(value), time.time()))
        if len(self._metrics) >= METRIC_FLUSH_ROWS or time.monotonic() - self._last_flush > METRIC_FLUSH_S:
            self.flush()

    def event(self, kind: str, text: str, step: int | None = None) -> None:
        """Record something the user should see on the job's timeline (a rollback, a warning)."""
        log.info("job %s %s: %s", self.job.id, kind, text)
        with self.store.transaction() as c:
            c.execute("INSERT INTO job_events (job_id, step, kind, text, t) VALUES (?, ?, ?, ?, ?)",
                      (self.job.id, step, kind, text, time.time()))

    def preview(self, image: np.ndarray, *, step: int | None = None) -> Path:
        """Save a preview image (RGB uint8) as ``previews/<job>/<step>.jpg``; its path goes in the row."""
        import cv2

        self._preview_n += 1
        name = f"{step if step is not None else self._preview_n:08d}.jpg"
        folder = self.store.root / "previews" / str(self.job.id)
        folder.mkdir(parents=True, exist_ok=True)
        ok, data = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:
            raise ValueError("could not encode the preview image")
        target = folder / name
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data.tobytes())
        os.replace(tmp, target)
        rel = target.relative_to(self.store.root).as_posix()
        with self.store.transaction() as c:
            c.execute("UPDATE jobs SET preview_path = ?, updated_at = ? WHERE id = ?", (rel, time.time(), self.job.id))
        return target

    def flush(self) -> None:
        """Write buffered metrics now."""
        if self._metrics:
            rows, self._metrics = self._metrics, []
            with self.store.transaction() as c:
                # One row per (job, metric, step): a step written again (a resumed run) replaces it.
                c.executemany("INSERT INTO job_metrics (job_id, step, name, value, t) VALUES (?, ?, ?, ?, ?) "
                              "ON CONFLICT (job_id, name, step) DO UPDATE SET value = excluded.value, t = excluded.t",
                              rows)
        self._last_flush = time.monotonic()

    def discard_metrics_after(self, step: int) -> int:
        """Drop this job's metric rows past ``step``: a resume from the checkpoint at
        ``step`` redoes that segment, and the killed run's rows of it are not the model's."""
        self._metrics = [m for m in self._metrics if m[1] <= step]
        with self.store.transaction() as c:
            cur = c.execute("DELETE FROM job_metrics WHERE job_id = ? AND step > ?", (self.job.id, int(step)))
        return cur.rowcount

    # ------------------------------------------------------------------ listening
    def stop_reason(self) -> StopReason | None:
        hb = self._heartbeat
        if hb.lost:
            return "lost"
        if hb.cancel:
            return "cancel"
        if self.shutdown_event.is_set():
            return "shutdown"
        if hb.pause:
            return "shutdown" if hb.pause == PAUSE_SHUTDOWN else "pause"
        return None

    def cancelled(self) -> bool:
        return self._heartbeat.cancel

    def pause_requested(self) -> bool:
        return bool(self._heartbeat.pause)

    def check(self, save: Callable[[], dict[str, Any]] | None = None) -> None:
        """Stop here if asked to: save a checkpoint (for a pause) and raise JobInterrupted."""
        reason = self.stop_reason()
        if reason is None:
            return
        if save is not None and reason in ("pause", "shutdown"):
            self.save_checkpoint(save())
        raise JobInterrupted(reason)

    def save_checkpoint(self, data: dict[str, Any]) -> None:
        """Persist where the job is, so a resume (or a crash recovery) continues from here.

        Buffered metrics go in the same transaction: a checkpoint past a step whose
        metrics were lost in a crash would leave a hole in the loss curve for good.
        """
        self.checkpoint = data
        # Past the checkpoint the run was claimed with: it is not crash-looping.
        progressed = not self._progressed and data != self._claimed_checkpoint
        with self.store.transaction() as c:
            self.flush()
            c.execute("UPDATE jobs SET checkpoint = ?, updated_at = ? WHERE id = ? AND worker = ?",
                      (json.dumps(data), time.time(), self.job.id, self.worker))
            if progressed:
                JobQueue(self.store).progressed(self.job.id, self.worker)
                self._progressed = True

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._heartbeat.stop()
