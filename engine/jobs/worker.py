"""The worker loop: claim the next job, run it, record how it ended, repeat.

``python -m engine worker --project P`` (or ``facesmith worker P``) runs it. A failing
job records its traceback and the loop goes on; SIGTERM or Ctrl+C asks the running job
to checkpoint and go back to the queue, then the worker exits, so nothing is lost when
the editor quits or a server shuts down.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Final

from engine.jobs.context import JobContext, JobInterrupted
from engine.jobs.messages import failure_summary
from engine.jobs.queue import STALE_AFTER_S, JobQueue, worker_id
from engine.jobs.registry import JobResult, get_kind
from engine.project.models import Job
from engine.project.store import ProjectStore

log = logging.getLogger("facesmith.engine")
POLL_S: Final = 0.25
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
        recovered = self.queue.recover_stale(stale_after_s=self.stale_after_s)
        if recovered:
            log.info("re-queued jobs of a dead worker: %s", recovered)
        try:
            while not self.shutdown.is_set():
                job = self.queue.claim(self.id, only=self.only_job)
                if job is None:
                    if self.exit_when_idle and not self._only_job_pending():
                        break
                    self.shutdown.wait(self.poll_s)
                    continue
                self.run_job(job)
                if self.only_job is not None:
                    break
        finally:
            log.info("worker %s stopped", self.id)
            self.store.close()
        if self.only_job is not None:
            return 0 if self.last_job is not None and self.last_job.state == "done" else 1
        return 0

    def _only_job_pending(self) -> bool:
        """With ``only_job``: keep waiting while it waits behind an exclusive job."""
        if self.only_job is None:
            return False
        return self.queue.job(self.only_job).state == "queued"

    def run_job(self, job: Job) -> None:
        """Run one claimed job and record how it ended (done, failed, cancelled, paused)."""
        kind = get_kind(job.kind)
        log.info("job %s (%s) started, attempt %s", job.id, job.kind, job.attempts)
        ctx = JobContext(self.store, job, self.id, on_progress=self.on_progress)
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
            self.queue.finish(job.id, self.id, state, result=result, error=error, status=status)
        if state == "done":
            log.info("job %s done in %.1f s: %s", job.id, time.monotonic() - started, result.message if result else "")
        self.last_job = self.queue.job(job.id)
