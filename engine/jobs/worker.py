"""The worker loop: claim the jobs free lanes allow, run them side by side, record how each
ended, repeat.

Each claimed job runs on its own thread with its own connection to the project (the
heavy parts of jobs release the GIL or run in processes of their own: extraction's
analysis pool, torch's kernels). Every ``RECLAIM_S`` the loop also re-queues the jobs of
dead workers, so a job whose engine was killed continues within ``STALE_AFTER_S`` plus a
tick even when no new engine starts.

``python -m engine worker --project P`` (or ``facesmith worker P``) runs it. A failing
job records its traceback and the loop goes on; SIGTERM or Ctrl+C asks the running job
to checkpoint and go back to the queue, then the worker exits, so nothing is lost when
the editor quits or a server shuts down.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any, Final

from engine.errors import JobError
from engine.jobs.context import JobContext, JobInterrupted
from engine.jobs.messages import failure_summary
from engine.jobs.queue import STALE_AFTER_S, JobQueue, worker_id
from engine.jobs.registry import JobResult, get_kind
from engine.project.models import Job
from engine.project.store import ProjectStore

log = logging.getLogger("facesmith.engine")
POLL_S: Final = 0.25
#: How often a live worker looks for the running jobs of dead ones.
RECLAIM_S: Final = 2.0
LOG_NAME: Final = "engine.log"


@contextlib.contextmanager
def project_logging(project_root: Path, *, to_stderr: bool = True) -> Iterator[None]:
    """Log to ``logs/engine.log`` in the project (and stderr) while the worker runs;
    the editor shows the log's tail when the engine crashes."""
    logger = logging.getLogger("facesmith")
    (project_root / "logs").mkdir(exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(process)d %(levelname)s %(message)s")
    handlers: list[logging.Handler] = [
        RotatingFileHandler(project_root / "logs" / LOG_NAME, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    ]
    if to_stderr:
        handlers.append(logging.StreamHandler())
    for h in handlers:
        h.setFormatter(fmt)
        logger.addHandler(h)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        for h in handlers:
            logger.removeHandler(h)
            h.close()


def _torch_threads() -> int | None:
    """The torch threads of this thread, when torch is loaded (never imported for it)."""
    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else None


class Worker:
    """Runs the jobs of one project.

    Parameters
    ----------
    exit_when_idle : stop once no job can be claimed (scripts, servers, tests).
    only_job : run just this job (``facesmith run``), then stop.
    stale_after_s : heartbeat age after which a running job's worker counts as dead.
    """

    def __init__(
        self,
        project: str | Path,
        *,
        exit_when_idle: bool = False,
        only_job: int | None = None,
        stale_after_s: float = STALE_AFTER_S,
        poll_s: float = POLL_S,
        on_progress: Callable[[float, str], None] | None = None,
        log_to_stderr: bool = True,
    ) -> None:
        # Checked here (bad projects fail at once); the loop opens its own connection in
        # run(), on the thread that runs it.
        ProjectStore.open(project).close()
        self.project = project
        self.id = worker_id()
        self.exit_when_idle = exit_when_idle or only_job is not None
        self.only_job = only_job
        self.stale_after_s = stale_after_s
        self.poll_s = poll_s
        self.on_progress = on_progress
        self.shutdown = threading.Event()
        self.last_job: Job | None = None
        self.log_to_stderr = log_to_stderr
        self._last_reclaim = 0.0

    def install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: object) -> None:
            log.info("worker %s: signal %s, stopping after the current step", self.id, signum)
            self.shutdown.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run(self) -> int:
        """The loop; returns 0 (or, with ``only_job``, 0 for done and 1 otherwise)."""
        self.store = ProjectStore.open(self.project)
        self.queue = JobQueue(self.store)
        with project_logging(self.store.root, to_stderr=self.log_to_stderr):
            return self._loop()

    def _loop(self) -> int:
        log.info("worker %s started on %s", self.id, self.store.root)
        self._reclaim()
        running: dict[int, threading.Thread] = {}
        try:
            while True:
                for job_id in [j for j, t in running.items() if not t.is_alive()]:
                    running.pop(job_id).join()
                if self.shutdown.is_set():
                    if not running:
                        break
                    self.shutdown.wait(self.poll_s)  # the running jobs checkpoint and stop
                    continue
                if self.only_job is not None and self.last_job is not None and not running:
                    break
                if time.monotonic() - self._last_reclaim >= RECLAIM_S:
                    self._reclaim()
                claimed = False
                if self.only_job is None or (self.last_job is None and not running):
                    job = self.queue.claim(self.id, only=self.only_job, stale_after_s=self.stale_after_s)
                    if job is not None and self.only_job is not None:
                        self.run_job(job)  # one job: on this thread, as the caller set it up
                        continue
                    if job is not None:
                        claimed = True
                        t = threading.Thread(target=self._run_thread, args=(job, _torch_threads()),
                                             name=f"job-{job.id}", daemon=True)
                        running[job.id] = t
                        t.start()
                if claimed:
                    continue  # another lane may be free too
                if not running and self.exit_when_idle and not self._only_job_pending() and not self._waiting():
                    break
                self.shutdown.wait(self.poll_s)
        finally:
            for t in running.values():
                t.join()
            log.info("worker %s stopped", self.id)
            self.store.close()
        if self.only_job is not None:
            return 0 if self.last_job is not None and self.last_job.state == "done" else 1
        return 0

    def _reclaim(self) -> None:
        self._last_reclaim = time.monotonic()
        recovered = self.queue.recover_stale(stale_after_s=self.stale_after_s)
        if recovered:
            log.info("re-queued jobs of a dead worker: %s", recovered)

    def _waiting(self) -> bool:
        """With ``exit_when_idle``: jobs wait that this worker could run once another
        engine's job frees its lane (or its dead engine's job is reclaimed)."""
        if self.only_job is not None:
            return False
        for (kind,) in self.store.query("SELECT DISTINCT kind FROM jobs WHERE state = 'queued'"):
            try:
                get_kind(kind)
            except JobError:
                continue  # queued by a newer engine: not ours to wait for
            return True
        return False

    def _only_job_pending(self) -> bool:
        """With ``only_job``: keep waiting while it waits for its lane."""
        if self.only_job is None:
            return False
        return self.queue.job(self.only_job).state == "queued"

    def _run_thread(self, job: Job, torch_threads: int | None) -> None:
        if torch_threads is not None:
            # OpenMP's thread count is per thread: a new one would start at every core
            # and ignore what the process (a test, a script) chose.
            sys.modules["torch"].set_num_threads(torch_threads)
        try:
            self.run_job(job)
        except Exception:  # the job's end could not be recorded: the reclaim re-queues it
            log.exception("job %s: the worker could not record how it ended", job.id)

    def run_job(self, job: Job) -> None:
        """Run one claimed job and record how it ended (done, failed, cancelled, paused)."""
        kind = get_kind(job.kind)
        log.info("job %s (%s) started in lane %s%s", job.id, job.kind, job.lane,
                 f" after {job.attempts} crash(es)" if job.attempts else "")
        # Its own connection: jobs run on their own threads, side by side.
        store = ProjectStore.open(self.project)
        try:
            self._run_job(kind, job, store)
        finally:
            store.close()

    def _run_job(self, kind: Any, job: Job, store: ProjectStore) -> None:
        queue = JobQueue(store)
        ctx = JobContext(store, job, self.id, on_progress=self.on_progress)
        ctx.shutdown_event = self.shutdown
        started = time.monotonic()
        state, result, error, status = "done", None, None, None
        try:
            result = kind.run(ctx, kind.parse(job.params)) or JobResult()
        except JobInterrupted as stop:
            state, status = {
                "cancel": ("cancelled", "cancelled"),
                "pause": ("paused", "paused"),
                "shutdown": ("queued", "waiting to continue"),
                "lost": ("lost", ""),
            }[stop.reason]
            log.info("job %s stopped: %s", job.id, stop.reason)
            if stop.reason == "shutdown":
                # Asked to shut down through the row (the editor quitting): the job is back
                # in the queue, and this worker must not claim it again.
                self.shutdown.set()
        except Exception as exc:
            error = traceback.format_exc()
            state, status = "failed", failure_summary(exc)
            log.error("job %s failed:\n%s", job.id, error)
        finally:
            # The heartbeat stops (and writes its last progress) before the end is recorded.
            try:
                ctx.close()
            except Exception:
                log.exception("job %s: could not flush its last metrics", job.id)
        if state != "lost":  # a job re-queued as stale is someone else's now
            queue.finish(job.id, self.id, state, result=result, error=error, status=status)
        if state == "done":
            log.info("job %s done in %.1f s: %s", job.id, time.monotonic() - started, result.message if result else "")
        self.last_job = queue.job(job.id)
