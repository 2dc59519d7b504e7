"""The training presenter on rows written by hand (no engine process): incremental polling,
which job the monitor follows, when restoring is allowed, and what is persisted."""

from __future__ import annotations

import json
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch

from app.document import ProjectDocument
from app.main_window import MainWindow
from app.training_workspace import META_KEY
from engine.jobs.queue import JobQueue
from engine.project.store import ProjectStore
from engine.swap import checkpoint
from engine.swap.config import get_preset
from widgets.training_monitor.preview_panel import image_from_array

pytestmark = pytest.mark.gui
PRESET = get_preset("fast-64")


def add_model(store: ProjectStore, iterations: list[int]) -> int:
    now = time.time()
    with store.transaction() as c:
        model_id = int(c.execute(
            "INSERT INTO models (kind, name, arch, face_type, resolution, config, iteration, path, created_at, "
            "updated_at) VALUES ('swap', 'df-ud 64px', 'df-ud', 'full', 64, ?, ?, '', ?, ?)",
            (json.dumps({"model": PRESET.model.to_json(), "train": PRESET.train.to_json()}), iterations[-1], now,
             now)).lastrowid)
        c.execute("UPDATE models SET path = ? WHERE id = ?", (f"models/{model_id}/", model_id))
    for it in iterations:
        checkpoint.save(store.root / "models" / str(model_id), weights={"w": torch.zeros(2)},
                        state={"kind": "swap", "iteration": it, "model_id": model_id,
                               "model_config": PRESET.model.to_json(), "train_config": PRESET.train.to_json()},
                        optimizer={"step": it}, keep_last=10)
    return model_id


def add_job(store: ProjectStore, model_id: int, state: str, *, metrics: int = 0, previews: int = 0) -> int:
    job = JobQueue(store).enqueue("train_swap", {"preset": "fast-64", "iterations": 1000})
    with store.transaction() as c:
        c.execute("UPDATE jobs SET state = ?, checkpoint = ?, progress = 0.05, status_text = 'iteration 50/1000', "
                  "heartbeat_at = ?, worker = 'elsewhere:1' WHERE id = ?",
                  (state, json.dumps({"model_id": model_id, "iteration": 40}), time.time(), job.id))
    write_metrics(store, job.id, range(10, 10 * metrics + 1, 10))
    folder = store.root / "previews" / str(job.id)
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(previews):
        image_from_array(np.full((64, 80, 3), 40 * k, np.uint8)).save(str(folder / f"{(k + 1) * 20:08d}.jpg"))
    if previews:
        with store.transaction() as c:
            c.execute("UPDATE jobs SET preview_path = ? WHERE id = ?", (f"previews/{job.id}/{previews * 20:08d}.jpg",
                                                                        job.id))
    return job.id


def write_metrics(store: ProjectStore, job_id: int, steps) -> None:  # noqa: ANN001
    rows = []
    for s in steps:
        rows += [(job_id, s, "src_loss", 1.0 / s, 0.0), (job_id, s, "dst_loss", 2.0 / s, 0.0),
                 (job_id, s, "ms_per_iter", 50.0, 0.0), (job_id, s, "samples_per_s", 320.0, 0.0),
                 (job_id, s, "lr", 4e-4, 0.0)]
    with store.transaction() as c:
        c.executemany("INSERT INTO job_metrics (job_id, step, name, value, t) VALUES (?, ?, ?, ?, ?)", rows)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    store = ProjectStore.create(tmp_path / "P")
    root = store.root
    store.close()
    return root


def open_window(qtbot, root: Path) -> MainWindow:
    win = MainWindow(ProjectDocument.open(root), start_engine=False)
    qtbot.addWidget(win)
    return win


def test_the_monitor_follows_the_running_job_and_reads_only_new_rows(qtbot, root: Path) -> None:
    with ProjectStore.open(root) as store:
        model_id = add_model(store, [0, 20, 40])
        old = add_job(store, model_id, "done", metrics=3)
        job_id = add_job(store, model_id, "running", metrics=5, previews=2)
        with store.transaction() as c:
            c.execute("INSERT INTO job_events (job_id, step, kind, text, t) VALUES (?, 30, 'rollback', 'loss NaN', 0)",
                      (job_id,))
    win = open_window(qtbot, root)
    ws, monitor = win.training_workspace, win.training_workspace.monitor
    assert ws.presenter.job_id == job_id  # nothing remembered yet: the running job
    assert monitor.plot.point_count("src_loss") == 5 and monitor.plot.point_count("ms_per_iter") == 0
    stats = monitor.stats()
    assert (stats.state, stats.iteration, stats.target) == ("running", 50, 1000)  # progress is fresher than rows
    assert stats.ms_per_iter == 50.0 and stats.eta_s == pytest.approx(950 * 0.05)
    assert monitor.preview.count() == 2 and monitor.preview.current_step() == 40
    assert list(monitor.plot.events()[0]) == [30] and monitor.plot.events()[2] == ("rollback",)
    assert [e.iteration for e in monitor.checkpoints.entries()] == [40, 20, 0]
    monitor.checkpoints.select_path(monitor.checkpoints.entries()[1].path)
    assert not monitor.checkpoints.restore_button.isEnabled()  # the job trains this model
    assert f"job {job_id} is training" in monitor.checkpoints.summary.text()
    assert [monitor.job_combo.itemData(i) for i in range(monitor.job_combo.count())] == [job_id, old]

    with ProjectStore.open(root) as store:
        write_metrics(store, job_id, [60, 70])
    plot = monitor.plot
    with mock.patch.object(plot, "append", wraps=plot.append) as append, \
            mock.patch.object(plot, "set_series", wraps=plot.set_series) as set_series:
        ws.presenter.poll()
        ws.presenter.poll()  # nothing new: nothing drawn
    assert plot.point_count("src_loss") == 7 and not set_series.called
    assert [(c.args[0], len(c.args[1])) for c in append.call_args_list] == [("src_loss", 2), ("dst_loss", 2)]

    with ProjectStore.open(root) as store:  # the job pauses: restoring becomes possible
        with store.transaction() as c:
            c.execute("UPDATE jobs SET state = 'paused', updated_at = ? WHERE id = ?", (time.time(), job_id))
    ws.presenter.poll()
    assert monitor.stats().state == "paused" and monitor.stats().iteration == 40  # the checkpoint on disk
    assert monitor.checkpoints.restore_button.isEnabled() and monitor.resume_button.isEnabled()

    # Choosing another job (in the monitor or the Jobs dock) follows it and is remembered.
    win.jobs_view.set_jobs(win.engine.jobs())
    win.jobs_view.select_job(old)
    assert ws.presenter.job_id == old and monitor.plot.point_count("src_loss") == 3
    assert json.loads(win.document.store.meta(META_KEY))["job"] == old
    monitor.job_combo.activated.emit(monitor.job_combo.findData(job_id))
    assert ws.presenter.job_id == job_id
    win.close()


def test_requests_that_the_queue_refuses_are_reported_not_raised(qtbot, root: Path) -> None:
    with ProjectStore.open(root) as store:
        model_id = add_model(store, [0])
        job_id = add_job(store, model_id, "done", metrics=1)
    win = open_window(qtbot, root)
    ws = win.training_workspace
    messages: list[str] = []
    ws.presenter.message.connect(messages.append)
    ws.presenter.pause()
    assert messages and f"cannot pause job {job_id}" in messages[0]
    assert ws.presenter.restore(str(root / "models" / str(model_id) / "latest"), confirm=False) is False
    assert "already the latest" in messages[-1]
    win.close()


def test_no_training_job_yet_shows_an_empty_monitor(qtbot, root: Path) -> None:
    win = open_window(qtbot, root)
    ws = win.training_workspace
    assert ws.presenter.job_id is None and ws.monitor.stats().state == ""
    assert not ws.monitor.pause_button.isEnabled() and ws.monitor.checkpoints.entries() == []
    ws.actions.train.trigger()
    assert ws.dialog.error().startswith("No src faces")  # an empty project cannot train
    ws.dialog.reject()
    ws.dock.hide()
    ws.actions.show_monitor.trigger()
    assert ws.dock.isVisibleTo(win)
    win.close()
