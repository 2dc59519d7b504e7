"""TrainingPresenter: the training monitor follows one ``train_swap`` job of the project.

It reads what the engine writes (ARCHITECTURE.md section 1: the database is the
contract) on the document's connection, incrementally, every ``POLL_MS``:

- metric rows after the last seen ``rowid`` (the loss curves and the speed figures);
- ``job_events`` after the last seen id (rollbacks, resumes, restores: curve markers);
- the job row (state, status, latest preview path, its model);
- the preview files of ``previews/<job>/`` when the latest preview changed;
- the model's checkpoint folders when the model row changed (every checkpoint updates it).

Each poll is a few indexed queries touching only new rows, so it costs well under a
millisecond while training and nothing once the job has ended (the timer stops; engine
signals and document changes wake it). The user's requests go to the engine client
(pause, resume, stop) or to :func:`engine.swap.restore.restore_checkpoint`.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from engine.errors import FacesmithError
from engine.jobs.queue import JobQueue
from engine.project.changes import ChangeSet
from engine.project.models import FINAL_STATES, Job
from widgets.training_monitor import CheckpointEntry, TrainingMonitor, TrainingStats, eta_seconds

if TYPE_CHECKING:
    from app.document import ProjectDocument
    from app.engine_client import EngineClient

POLL_MS: Final = 500
KIND: Final = "train_swap"
#: Series drawn on the loss plot, with their legend labels.
PLOTTED: Final = {"src_loss": "src loss", "dst_loss": "dst loss"}
#: Speed samples averaged for the ETA (metric rows are ``metric_every`` iterations apart).
ETA_WINDOW: Final = 5


def model_of(job: Job) -> int | None:
    """The model a training job trains: from its checkpoint, result, or parameters."""
    for source in ((job.checkpoint or {}).get("model_id"), ((job.result or {}).get("data") or {}).get("model_id"),
                   job.params.get("model")):
        if source is not None:
            return int(source)
    return None


def job_label(job: Job) -> str:
    model = model_of(job)
    what = f"model {model}" if model is not None else (job.params.get("preset") or "new model")
    return f"#{job.id} · {what} · {job.state}"


class TrainingPresenter(QObject):
    """Connects a :class:`TrainingMonitor` to the project's training jobs.

    Signals
    -------
    followed(int) : the monitor now follows this job (-1: none).
    message(str) : something for the status bar (a refused request, a restore done).
    """

    followed = Signal(int)
    message = Signal(str)

    def __init__(self, document: ProjectDocument, monitor: TrainingMonitor, engine: EngineClient,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.monitor = monitor
        self.engine = engine
        self.job_id: int | None = None
        self.model_id: int | None = None
        self.job: Job | None = None
        self._closed = False
        self._listing: object = None
        self._reset()
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        monitor.pause_requested.connect(self.pause)
        monitor.resume_requested.connect(self.resume)
        monitor.stop_requested.connect(self.stop)
        monitor.restore_requested.connect(self.restore)
        monitor.job_chosen.connect(self.follow)
        engine.jobs_changed.connect(self._on_jobs_changed)
        document.changed.connect(self._on_changed)
        self.refresh_jobs()

    def _reset(self) -> None:
        self._metric_rowid = 0
        self._event_id = 0
        self._events: list[tuple[int, str, str]] = []
        self._latest: dict[str, float] = {}
        self._last_step = 0
        self._ms: deque[float] = deque(maxlen=ETA_WINDOW)
        self._preview_key: object = None
        self._checkpoint_key: object = None

    # ------------------------------------------------------------------ following
    def training_jobs(self) -> list[Job]:
        return [j for j in JobQueue(self.document.store).jobs() if j.kind == KIND]

    def refresh_jobs(self) -> None:
        """The monitor's job list (rebuilt only when a label changed: a user may have it open)."""
        jobs = sorted(self.training_jobs(), key=lambda j: -j.id)
        listing = ([(j.id, job_label(j)) for j in jobs], self.job_id)
        if listing != self._listing:
            self._listing = listing
            self.monitor.set_jobs(*listing)

    def follow(self, job_id: int | None) -> None:
        """Show this training job (None: none); loads its whole history, then polls."""
        if self._closed:
            return
        if job_id == self.job_id and job_id is not None:
            self.poll()
            return
        self.job_id, self.model_id, self.job = job_id, None, None
        self._reset()
        self.monitor.clear()
        self.refresh_jobs()
        self.poll()
        if job_id is not None:
            self._timer.start()
        self.followed.emit(-1 if job_id is None else job_id)

    def latest_job(self) -> int | None:
        """The job to show when none is chosen: a running or waiting one, else the newest."""
        jobs = self.training_jobs()
        live = [j for j in jobs if j.state in ("running", "queued", "paused")]
        pick = live[0] if live else (max(jobs, key=lambda j: j.id) if jobs else None)
        return None if pick is None else pick.id

    # ------------------------------------------------------------------ polling
    def poll(self) -> None:
        """Read what changed since the last poll and show it."""
        if self._closed or self.job_id is None:
            self._timer.stop()
            return
        store = self.document.store
        try:
            job = JobQueue(store).job(self.job_id)
        except FacesmithError:  # deleted
            self.follow(None)
            return
        previous_state = self.job.state if self.job else None
        self.job = job
        model = model_of(job)
        if model != self.model_id:
            self.model_id, self._checkpoint_key = model, None
        self._read_metrics()
        self._read_events()
        self._read_previews(job)
        self._read_checkpoints()
        self._show_stats(job)
        if previous_state != job.state:
            self.refresh_jobs()
        if job.state in FINAL_STATES or job.state == "paused":
            self._timer.stop()  # woken again by the engine's jobs_changed or a document change
        elif not self._timer.isActive():
            self._timer.start()

    def _read_metrics(self) -> None:
        rows = self.document.store.connection.execute(
            "SELECT rowid, step, name, value FROM job_metrics WHERE job_id = ? AND rowid > ? ORDER BY rowid",
            (self.job_id, self._metric_rowid)).fetchall()
        if not rows:
            return
        self._metric_rowid = int(rows[-1][0])
        by_name: dict[str, list[tuple[int, float]]] = {}
        for _rowid, step, name, value in rows:
            by_name.setdefault(name, []).append((step, value))
        for name, points in by_name.items():
            steps = np.fromiter((p[0] for p in points), np.float64, len(points))
            values = np.fromiter((p[1] for p in points), np.float64, len(points))
            if name in PLOTTED:
                if self.monitor.plot.point_count(name) == 0:
                    self.monitor.plot.set_series(name, steps, values, label=PLOTTED[name])
                else:
                    self.monitor.plot.append(name, steps, values)
                self._last_step = int(steps[-1])  # after a rollback the newest step is an earlier one
            self._latest[name] = float(values[-1])
            if name == "ms_per_iter":
                self._ms.extend(values[-ETA_WINDOW:].tolist())

    def _read_events(self) -> None:
        rows = self.document.store.connection.execute(
            "SELECT id, step, kind, text FROM job_events WHERE job_id = ? AND id > ? ORDER BY id",
            (self.job_id, self._event_id)).fetchall()
        if not rows:
            return
        self._event_id = int(rows[-1][0])
        self._events.extend((int(r[1] or 0), str(r[3]), str(r[2])) for r in rows)
        self.monitor.plot.set_events([e[0] for e in self._events], [e[1] for e in self._events],
                                     [e[2] for e in self._events])

    def _read_previews(self, job: Job) -> None:
        key = job.preview_path
        if key == self._preview_key:
            return
        self._preview_key = key
        folder = self.document.root / "previews" / str(job.id)
        # Oldest first by the time they were written: after a rollback a newer preview
        # can carry an earlier step, and the newest must still be the one shown.
        files = sorted(folder.glob("*.jpg"), key=_written) if folder.is_dir() else []
        steps = [int(f.stem) if f.stem.isdigit() else i for i, f in enumerate(files)]
        self.monitor.set_previews([str(f) for f in files], steps)

    def _read_checkpoints(self) -> None:
        from engine.swap.restore import list_checkpoints, model_folder, training_job

        store = self.document.store
        row = store.row("models", self.model_id) if self.model_id is not None else None
        if row is None or row["kind"] != "swap":
            if self._checkpoint_key is not None or self.model_id is None:
                self.monitor.set_checkpoints([])
                self.monitor.set_restore_allowed(False, "no model yet" if self.model_id is None else "model deleted")
            self._checkpoint_key = None
            return
        running = training_job(store, self.model_id)
        key = (row["updated_at"], row["iteration"], running)
        if key == self._checkpoint_key:
            return
        self._checkpoint_key = key
        try:
            found = list_checkpoints(model_folder(store, self.model_id))
        except (FacesmithError, ValueError, OSError):
            found = []
        self.monitor.set_checkpoints([
            CheckpointEntry(str(c.path), c.name, c.iteration, c.saved_at, c.is_latest, c.has_optimizer, c.size_bytes)
            for c in found])
        self.monitor.set_restore_allowed(
            running is None, f"job {running} is training this model: pause or stop it to restore a checkpoint")

    def _show_stats(self, job: Job) -> None:
        row = self.document.store.row("models", self.model_id) if self.model_id is not None else None
        running = job.state == "running"
        target = int(job.params.get("iterations") or 0)
        iteration = self._last_step
        if running and target:
            # The progress row is fresher than the metric rows (written in batches).
            iteration = max(iteration, int(round(job.progress * target)))
        if row is not None and not running:
            iteration = int(row["iteration"])  # the checkpoint on disk (after a restore: the restored one)
        ms = float(np.mean(self._ms)) if self._ms else math.nan
        model = ""
        if row is not None:
            shape = f"{row['arch']} {row['resolution']} px {str(row['face_type']).replace('_', '-')} face"
            automatic = row["name"] == f"{row['arch']} {row['resolution']}px"  # engine.swap.session's default name
            model = f"model {row['id']} · {shape}" if automatic else f"model {row['id']} · {row['name']} · {shape}"
        status = job.status_text
        if job.state == "failed" and job.error_text and job.error_text.strip():
            status = job.error_text.strip().splitlines()[-1]
        self.monitor.set_stats(TrainingStats(
            state=job.state, status_text=status, iteration=iteration, target=target,
            ms_per_iter=self._latest.get("ms_per_iter", math.nan) if running else math.nan,
            samples_per_s=self._latest.get("samples_per_s", math.nan) if running else math.nan,
            eta_s=eta_seconds(iteration, target, ms) if running else math.nan,
            lr=self._latest.get("lr", math.nan), model=model))

    # ------------------------------------------------------------------ requests
    def pause(self) -> None:
        self._request("pause", self.engine.pause)

    def resume(self) -> None:
        self._request("resume", self.engine.resume)

    def stop(self) -> None:
        self._request("stop", self.engine.cancel)

    def _request(self, what: str, fn: object) -> None:
        if self.job_id is None:
            return
        try:
            fn(self.job_id)  # type: ignore[operator]
        except FacesmithError as exc:
            self.message.emit(f"cannot {what} job {self.job_id}: {exc}")
        self.poll()
        self._timer.start()

    def restore(self, path: str, *, confirm: bool = True) -> bool:
        """Make the checkpoint folder ``path`` the model's latest (asks first when ``confirm``)."""
        from engine.swap.restore import restore_checkpoint

        if self.model_id is None:
            return False
        entry = next((e for e in self.monitor.checkpoints.entries() if e.path == path), None)
        if confirm:
            at = f" (iteration {entry.iteration:,})" if entry else ""
            answer = QMessageBox.question(
                self.monitor, "Restore checkpoint",
                f"Make {Path(path).name}{at} the latest checkpoint of model {self.model_id}?\n\n"
                "Training continues from it. The current latest checkpoint is kept as a backup, so this can be "
                "undone by restoring that one.")
            if answer != QMessageBox.StandardButton.Yes:
                return False
        try:
            changes = restore_checkpoint(self.document.store, self.model_id, path, job_id=self.job_id)
        except (FacesmithError, OSError) as exc:
            self.message.emit(f"restore refused: {exc}")
            return False
        self._checkpoint_key = None
        self.document.notify(changes)
        self.poll()
        self.message.emit(changes.label)
        return True

    # ------------------------------------------------------------------ engine and document
    def _on_jobs_changed(self, jobs: list[Job]) -> None:
        if self._closed:
            return
        training = [j for j in jobs if j.kind == KIND]
        if not training:
            return
        current = self.job
        live = current is not None and current.state in ("running", "queued", "paused")
        starting = [j for j in training if j.state == "running" and j.id != self.job_id]
        if self.job_id is None or (not live and starting):
            self.follow((starting or training)[0].id)
            return
        mine = next((j for j in training if j.id == self.job_id), None)
        if mine is not None and (current is None or mine.state != current.state):
            self.poll()  # a new state shows at once; progress waits for the next tick
        elif mine is not None and not self._timer.isActive():
            self._timer.start()
        self.refresh_jobs()

    def _on_changed(self, changes: ChangeSet) -> None:
        if changes.touches("models") and not self._closed:
            self._checkpoint_key = None
            self.poll()

    def close(self) -> None:
        self._closed = True
        self._timer.stop()


def _written(path: Path) -> tuple[int, str]:
    try:
        return path.stat().st_mtime_ns, path.name
    except OSError:  # deleted meanwhile
        return 0, path.name
