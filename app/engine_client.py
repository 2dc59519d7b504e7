"""EngineClient: the editor's side of the engine process.

The project database is the only channel (ARCHITECTURE.md section 1): the client queues
jobs and sets request flags in the ``jobs`` table, and polls it every 250 ms for what the
engine wrote. ``QProcess`` only supervises the process: it starts it when there is work,
reports a crash at once (exit code and the tail of ``logs/engine.log``), and stops it in
the order pause-request -> wait -> terminate -> kill when the editor quits.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Final

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from engine.jobs.queue import PAUSE_SHUTDOWN, JobQueue
from engine.jobs.worker import LOG_NAME
from engine.project.changes import ChangeSet
from engine.project.models import FINAL_STATES, Job
from engine.project.store import ProjectStore

POLL_MS: Final = 250
STDERR_LOG: Final = "engine-stderr.log"
MAX_RESTARTS: Final = 3


def log_tail(root: Path, lines: int = 20) -> str:
    """The last lines of the engine's logs, for a crash report."""
    out: list[str] = []
    for name in (LOG_NAME, STDERR_LOG):
        path = root / "logs" / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace").splitlines()
            out.extend(text[-lines:])
    return "\n".join(out[-lines:])


def engine_command(python: str = sys.executable) -> tuple[str, list[str]]:
    """The program and leading arguments that start the engine.

    From source that is ``python -m engine``. In the PyInstaller bundle the editor is a
    frozen executable that cannot run ``-m``; the engine is the ``facesmith`` executable
    next to it (build_installer.spec), which takes the same arguments.
    """
    if getattr(sys, "frozen", False):
        exe = Path(sys.executable).with_name("facesmith.exe" if sys.platform == "win32" else "facesmith")
        return str(exe), []
    return python, ["-m", "engine"]


class EngineClient(QObject):
    """Queues jobs, watches them, and keeps an engine process running while there is work.

    Signals
    -------
    jobs_changed(list[Job]) : jobs whose row changed since the last poll.
    job_progress(int, float, str) : a running job's progress and status text.
    job_finished(int, ChangeSet) : a job is done; views refresh from its change set.
    job_failed(int, str) : a job failed; the string is its one-line summary (the exception's
        message; the traceback is in the job's details).
    engine_state_changed(bool) : the engine process started (True) or stopped (False).
    engine_crashed(int, str) : the process died with this exit code; the log tail.
    """

    jobs_changed = Signal(list)
    job_progress = Signal(int, float, str)
    job_finished = Signal(int, object)
    job_failed = Signal(int, str)
    engine_state_changed = Signal(bool)
    engine_crashed = Signal(int, str)

    def __init__(self, root: Path, parent: QObject | None = None, *, python: str = sys.executable,
                 poll_ms: int = POLL_MS, auto_start: bool = True) -> None:
        super().__init__(parent)
        self.root = root
        # Its own connection: polling never waits on the document's transactions.
        self._store = ProjectStore.open(root)
        self.queue = JobQueue(self._store)
        self._python = python
        self.auto_start = auto_start
        self._known: dict[int, tuple[str, float, str]] = {}
        self._last_update = 0.0
        self._restarts: list[float] = []
        self._stopping = False
        self._gave_up = False
        self._last_exit = 0.0
        self.process = QProcess(self)
        program, prefix = engine_command(python)
        self.process.setProgram(program)
        self.process.setArguments([*prefix, "worker", "--project", str(root), "--exit-when-idle"])
        self.process.setWorkingDirectory(str(root))
        (root / "logs").mkdir(exist_ok=True)
        self.process.setStandardOutputFile(QProcess.nullDevice())
        self.process.setStandardErrorFile(str(root / "logs" / STDERR_LOG), QProcess.OpenModeFlag.Append)
        self.process.finished.connect(self._on_finished)
        self.process.errorOccurred.connect(self._on_error)
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self.poll)
        self._timer.start()
        for job in self.queue.jobs():
            self._known[job.id] = (job.state, job.progress, job.status_text)
            self._last_update = max(self._last_update, job.updated_at)

    # ------------------------------------------------------------------ requests
    def submit(self, kind: str, params: dict | None = None, *, priority: int = 0) -> Job:
        """Queue a job (parameters validated now) and make sure an engine will run it."""
        job = self.queue.enqueue(kind, params or {}, priority=priority)
        self._known[job.id] = (job.state, job.progress, job.status_text)
        self.jobs_changed.emit([job])
        self.ensure_engine()
        return job

    def cancel(self, job_id: int) -> Job:
        return self._request(self.queue.cancel(job_id))

    def pause(self, job_id: int) -> Job:
        return self._request(self.queue.pause(job_id))

    def resume(self, job_id: int) -> Job:
        job = self._request(self.queue.resume(job_id))
        self.ensure_engine()
        return job

    def _request(self, job: Job) -> Job:
        self.poll()
        return job

    def jobs(self) -> list[Job]:
        return self.queue.jobs()

    # ------------------------------------------------------------------ the process
    @property
    def running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def ensure_engine(self, *, force: bool = False) -> None:
        """Start the engine if jobs wait and none runs (``force``: even after crash loops)."""
        if self.running or self._stopping or (self._gave_up and not force):
            return
        self._gave_up = False
        if self.queue.pending_count() == 0:
            return
        self.process.start()
        if self.process.waitForStarted(5000):
            self.engine_state_changed.emit(True)

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._last_exit = time.monotonic()
        self.engine_state_changed.emit(False)
        self.poll()
        if self._stopping:
            return
        crashed = status == QProcess.ExitStatus.CrashExit or code != 0
        if crashed:
            self.engine_crashed.emit(code if status == QProcess.ExitStatus.NormalExit else -1, log_tail(self.root))
            now = time.monotonic()
            self._restarts = [t for t in self._restarts if now - t < 60] + [now]
            if len(self._restarts) > MAX_RESTARTS:
                self._gave_up = True  # crashing in a loop: the user has to look at it
                return
        if self.auto_start:
            self.ensure_engine()  # work queued while it was finishing

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.engine_crashed.emit(-1, f"the engine could not start ({self._python}): {self.process.errorString()}")

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Stop the engine: running jobs checkpoint and go back to the queue first."""
        self._stopping = True
        self._timer.stop()
        if self.running:
            pid = self.process.processId()
            with self._store.transaction() as c:
                c.execute("UPDATE jobs SET pause_requested = ?, updated_at = ? WHERE state = 'running' "
                          "AND worker LIKE ?", (PAUSE_SHUTDOWN, time.time(), f"%:{pid}"))
            if not self.process.waitForFinished(timeout_ms):
                self.process.terminate()
                if not self.process.waitForFinished(3000):
                    self.process.kill()
                    self.process.waitForFinished(2000)
        self._store.close()

    # ------------------------------------------------------------------ polling
    def poll(self) -> None:
        """Read the jobs that changed since the last poll and emit what happened."""
        changed = self.queue.jobs(since_update=self._last_update - 0.5)
        fresh: list[Job] = []
        for job in changed:
            key = (job.state, job.progress, job.status_text)
            old = self._known.get(job.id)
            self._last_update = max(self._last_update, job.updated_at)
            if old == key:
                continue
            self._known[job.id] = key
            fresh.append(job)
            if job.state == "running":
                self.job_progress.emit(job.id, job.progress, job.status_text)
            elif old is None or old[0] != job.state:
                if job.state == "done":
                    summary = (job.result or {}).get("changes") or {}
                    self.job_finished.emit(job.id, ChangeSet.from_summary(summary, label=f"job {job.id}"))
                elif job.state == "failed":
                    self.job_failed.emit(job.id, job.status_text or "failed")
        if fresh:
            self.jobs_changed.emit(fresh)
        # Jobs queued by someone else (the CLI): start an engine for them, but not more
        # often than every few seconds (a job waiting behind another engine's exclusive
        # job would otherwise make ours start and exit in a loop).
        if self.auto_start and not self.running and not self._stopping and time.monotonic() - self._last_exit > 5:
            if any(s[0] == "queued" for s in self._known.values()):
                self.ensure_engine()


def is_final(job: Job) -> bool:
    return job.state in FINAL_STATES
