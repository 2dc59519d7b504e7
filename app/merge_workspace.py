"""The merge workspace: tune the merge with eyes on the result, then render.

The frame view shows the merged frame live while settings change. Merging runs in one
background thread that owns its own project connection and the loaded swap model; only
the newest request is worked on (a slider dragged across twenty values costs one or two
merges, not twenty). Settings are saved per clip (debounced) in the project, so reopening
restores them; "Render…" queues the render job with them and opens the finished file.

Keys: Ctrl+Shift+M merged view, Ctrl+Alt+M split view (original left, merged right, divided
at the face; Alt+drag moves the divider, Alt+double-click puts it back on the face),
hold X over the frame view to see the original, Ctrl+R render. "merging…" shows at once
while a frame is merged; the worker loads the model as soon as the Merge dock shows and
keeps it between frames. Merge keys and the quality strip: :mod:`app.merge_keys`; face
overrides: :mod:`app.face_overrides`.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QComboBox, QDockWidget, QLabel, QVBoxLayout, QWidget

from app import face_overrides, merge_keys
from app.background import MainThreadInbox
from app.dialogs import JobDialog
from app.merge_view import SplitDivider, split_image
from engine.errors import FacesmithError
from engine.project.changes import ChangeSet
from widgets.merge_settings_panel import MergeSettingsPanel

if TYPE_CHECKING:
    from app.main_window import MainWindow

META_KEY = "workspace.merge"


@dataclass(frozen=True)
class _Request:
    clip_id: int
    frame: int
    settings: dict[str, Any]
    model_id: int
    keyed: Any = None  # KeyedSettings: merge keys and face overrides over `settings`
    warm_only: bool = False  # load the model and the clip's faces, merge nothing
    seq: int = 0  # the workspace's request counter: the worker says when it is done with one


class MergePreviewWorker(threading.Thread):
    """Merges the newest requested frame; owns its ProjectStore and MergeEngine.

    Results go into ``inbox`` (:class:`app.background.MainThreadInbox`), never through a
    Qt signal from this thread: ``("ready", request, merged RGB, timings)``,
    ``("failed", request, text)``, and ``("done", seq)`` after every request it took.
    """

    def __init__(self, root: Path, inbox: MainThreadInbox) -> None:
        super().__init__(name="merge-preview", daemon=True)
        self._root = root
        self._inbox = inbox
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._pending: _Request | None = None
        self._forget = False
        self._stopping = False

    def request(self, req: _Request) -> None:
        with self._lock:
            self._pending = req
        self._wake.set()

    def forget(self) -> None:
        """Faces, masks or models changed: drop cached predictions before the next merge."""
        self._forget = True

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self.join(timeout=10)

    def run(self) -> None:
        from engine.merge.preview import MergeEngine
        from engine.merge.settings import MergeSettings
        from engine.project.store import ProjectStore

        store = ProjectStore.open(self._root)
        engine: MergeEngine | None = None
        try:
            while not self._stopping:
                self._wake.wait()
                self._wake.clear()
                with self._lock:
                    req, self._pending = self._pending, None
                if req is None or self._stopping:
                    continue
                try:
                    if engine is None or engine.model_id != req.model_id:
                        if engine is not None:
                            engine.close()
                        engine = MergeEngine(store, req.model_id)
                    if self._forget:
                        engine.forget()
                        self._forget = False
                    if req.warm_only:
                        engine.predictor.placements(req.clip_id, MergeSettings.from_json(req.settings).smooth_alignment)
                        continue
                    preview = engine.merge_frame(req.clip_id, req.frame, MergeSettings.from_json(req.settings),
                                                 req.keyed)
                    self._inbox.put(("ready", req, preview.image, preview.timings))
                except Exception as exc:  # shown in the status bar; the thread goes on
                    self._inbox.put(("failed", req, str(exc)))
                finally:
                    self._inbox.put(("done", req.seq))
        finally:
            if engine is not None:
                engine.close()
            store.close()


class MergeWorkspace(QObject):
    """Signals: ``preview_shown(float)`` — milliseconds from the request to the merged frame."""

    preview_shown = Signal(float)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        from engine.merge.settings import MergeSettings

        self.window = window
        self.document = window.document
        self.settings = MergeSettings()
        self.panel = MergeSettingsPanel()
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("the swap model used for the preview and the render")
        self.info = QLabel("Turn on Merge ▸ Merged View (Ctrl+Shift+M) to see the merged frame.")
        self.info.setWordWrap(True)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.model_combo)
        from app.presenters.targets_presenter import TargetsPresenter
        from widgets.person_checklist import PersonChecklist

        self.persons = PersonChecklist()  # merge targets of the shown dst clip
        self.targets = TargetsPresenter(window.document, self.persons, lambda: window.frame_presenter.clip,
                                        window.timeline, lambda: window.frame_presenter.frame, self)
        layout.addWidget(self.persons)
        layout.addWidget(self.panel)
        layout.addWidget(self.info)
        layout.addStretch(1)
        self.dock = QDockWidget("Merge", window)
        self.dock.setObjectName("dock_merge")
        self.dock.setWidget(body)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        window.tabifyDockWidget(window.faces_dock, self.dock)
        window.faces_dock.raise_()
        self.merged_action = self._action("&Merged View", "Ctrl+Shift+M", checkable=True)
        self.split_action = self._action("&Split View (original | merged)", "Ctrl+Alt+M", checkable=True)
        self.render_action = self._action("&Render…", "Ctrl+R")
        self.no_swap_action = self._action("&Don't Swap Here (In/Out Range)", "")
        self.swap_again_action = self._action("S&wap Here Again", "")
        self.no_swap_action.triggered.connect(lambda: self.targets.dont_swap_range())
        self.swap_again_action.triggered.connect(lambda: self.targets.swap_here_again())
        self.menu = menu = window.menuBar().addMenu("&Merge")
        for a in (self.merged_action, self.split_action, None, self.no_swap_action, self.swap_again_action, None,
                  self.render_action):
            menu.addSeparator() if a is None else menu.addAction(a)
        menu.addAction(self.dock.toggleViewAction())
        self.divider = SplitDivider(window.frame_view, self)
        self.divider.moved.connect(self._show)
        self._asked_seq = self._done_seq = 0
        self._inbox = MainThreadInbox(self._on_result, lambda: self._done_seq < self._asked_seq, self)
        self._worker: MergePreviewWorker | None = None
        self._original: np.ndarray | None = None
        self._merged: np.ndarray | None = None
        self._hold_original = False
        self._asked_at: dict[tuple[int, int], float] = {}
        self._render_jobs: set[int] = set()
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(500)
        self._save_timer.timeout.connect(self._save_settings)
        self.panel.settings_changed.connect(self._on_settings_changed)
        self.merged_action.toggled.connect(self._on_view_toggled)
        self.split_action.toggled.connect(lambda _on: self._show())
        self.render_action.triggered.connect(self.render_dialog)
        self.model_combo.currentIndexChanged.connect(lambda _i: self.request())
        window.frame_presenter.frame_shown.connect(self._on_frame_shown)
        window.engine.job_finished.connect(self._on_job_finished)
        self.document.changed.connect(self._on_changed)
        window.frame_view.installEventFilter(self)
        self.dock.visibilityChanged.connect(lambda shown: shown and self.warm())
        self.keys = merge_keys.install(self, layout)
        self.overrides = face_overrides.install(self)  # also in the face grid's and frame view's menus
        self._fill_models()
        self._load_state()

    # ------------------------------------------------------------------ construction helpers
    def _action(self, text: str, shortcut: str, *, checkable: bool = False) -> QAction:
        a = QAction(text, self.window)
        a.setShortcut(QKeySequence(shortcut))
        a.setCheckable(checkable)
        self.window.addAction(a)
        return a

    def _fill_models(self) -> None:
        current = self.model_id
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for m in reversed(self.document.store.models("swap")):
            self.model_combo.addItem(f"{m.name} · {m.arch} {m.resolution}px · it {m.iteration:,}", m.id)
        index = self.model_combo.findData(current) if current is not None else 0
        self.model_combo.setCurrentIndex(max(index, 0))
        self.model_combo.blockSignals(False)
        has_model = self.model_combo.count() > 0
        for a in (self.merged_action, self.split_action, self.render_action):
            a.setEnabled(has_model)
        if not has_model:
            self.info.setText("No swap model yet: train one (Train ▸ Train Swap Model…) to merge.")

    @property
    def model_id(self) -> int | None:
        data = self.model_combo.currentData() if hasattr(self, "model_combo") else None
        return None if data is None else int(data)

    # ------------------------------------------------------------------ settings
    def _clip_id(self) -> int | None:
        clip = self.window.frame_presenter.clip
        return None if clip is None else clip.id

    def _load_clip_settings(self) -> None:
        from engine.merge.settings import load_clip_settings

        clip_id = self._clip_id()
        if clip_id is None:
            return
        try:
            self.settings = load_clip_settings(self.document.store, clip_id)
        except FacesmithError as exc:
            self.window.statusBar().showMessage(str(exc), 8000)
        self.panel.set_values(self.settings.to_json())

    def _on_settings_changed(self, values: dict[str, Any]) -> None:
        from engine.merge.settings import MergeSettings

        try:
            self.settings = MergeSettings.from_json(values)
        except FacesmithError as exc:
            self.window.statusBar().showMessage(str(exc), 5000)
            return
        self._save_timer.start()
        self.keys.settings_edited(self.settings)
        self.request()

    def _save_settings(self) -> None:
        from engine.merge.settings import save_clip_settings

        clip_id = self._clip_id()
        if clip_id is not None:
            save_clip_settings(self.document.store, clip_id, self.settings)

    # ------------------------------------------------------------------ preview
    def request(self) -> None:
        """Ask for the current frame merged with the current settings (newest wins)."""
        clip_id, model_id = self._clip_id(), self.model_id
        if not self.merged_action.isChecked() or clip_id is None or model_id is None:
            return
        frame = self.window.frame_presenter.frame
        self._asked_at.setdefault((clip_id, frame), time.perf_counter())
        if self._merged is None:
            self.info.setText("merging…")  # at once: the first frame may wait for the model
        self._send(_Request(clip_id, frame, self.settings.to_json(), model_id, self.keys.keyed()))

    def _send(self, req: _Request) -> None:
        """Hand ``req`` to the worker (started on first use); its results come back through the inbox."""
        if self._worker is None:
            self._worker = MergePreviewWorker(self.document.root, self._inbox)
            self._worker.start()
        self._asked_seq += 1
        self._worker.request(dataclasses.replace(req, seq=self._asked_seq))
        self._inbox.expect()

    def warm(self) -> None:
        """Load the model (and the clip's faces) in the worker now, so that the first
        merged frame does not wait for them; the worker keeps them between frames."""
        clip_id, model_id = self._clip_id(), self.model_id
        if clip_id is None or model_id is None:
            return
        if self._worker is None:
            self._send(_Request(clip_id, -1, self.settings.to_json(), model_id, warm_only=True))

    def _on_frame_shown(self, clip_id: int, _frame: int) -> None:
        if getattr(self, "_shown_clip", None) != clip_id:
            self._shown_clip = clip_id
            self._load_clip_settings()
            self.targets.refresh()
        self.keys.frame_shown()
        self._original = self.window.frame_view.frame()
        self._merged = None
        self.request()

    def _on_result(self, item: tuple[Any, ...]) -> None:
        """A value from the worker, on the main thread (:class:`MainThreadInbox`)."""
        kind = item[0]
        if kind == "done":
            self._done_seq = max(self._done_seq, int(item[1]))
        elif kind == "ready":
            self._on_ready(*item[1:])
        else:
            self._on_failed(*item[1:])

    def _on_ready(self, req: _Request, image: np.ndarray, timings: dict[str, float]) -> None:
        if (req.clip_id, req.frame) != (self._clip_id(), self.window.frame_presenter.frame):
            return  # the user moved on
        if req.settings != self.settings.to_json():
            self.request()  # settings changed meanwhile; this one is still worth showing
        self._merged = image
        self._show()
        asked = self._asked_at.pop((req.clip_id, req.frame), None)
        if asked is not None:
            ms = (time.perf_counter() - asked) * 1000.0
            self.info.setText(f"merged in {timings.get('total', 0):.0f} ms (shown after {ms:.0f} ms)")
            self.preview_shown.emit(ms)

    def _on_failed(self, _req: _Request, text: str) -> None:
        self.info.setText(f"merge failed: {text}")
        self.window.statusBar().showMessage(f"merge preview: {text}", 8000)

    def _show(self) -> None:
        original, merged = self._original, self._merged
        if original is None:
            return
        if not self.merged_action.isChecked() or merged is None or self._hold_original:
            image = original
        elif self.split_action.isChecked() and merged.shape == original.shape:
            image = split_image(original, merged, self.divider.position(original.shape[1]))
        else:
            image = merged
        self.window.frame_view.set_frame(image)

    def _on_view_toggled(self, on: bool) -> None:
        self._save_state()
        if on:
            self._original = self.window.frame_view.frame() if self._original is None else self._original
            self.request()
        self._show()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """Hold X over the frame view to compare with the original."""
        if event.type() in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and event.key() == Qt.Key.Key_X:
            if not event.isAutoRepeat():
                self._hold_original = event.type() == QEvent.Type.KeyPress
                self._show()
            return True
        return False

    # ------------------------------------------------------------------ render
    def render_dialog(self) -> JobDialog | None:
        clip = self.window.frame_presenter.clip
        if clip is None or self.model_id is None:
            return None
        initial = {"clip": clip.name, "model": self.model_id, "settings": self.settings.to_json()}
        dialog = JobDialog("render", title=f"Render {clip.name}", initial=initial, parent=self.window,
                           hidden=frozenset({"clip", "model", "settings"}),
                           intro=f"Merge {clip.name} with the current settings and write it out. "
                                 "Empty start/stop: the clip's in/out range; empty out: a file under renders/.")
        dialog.accepted.connect(lambda: self._queue_render(dialog.params))
        dialog.open()
        return dialog

    def _queue_render(self, params: dict[str, Any]) -> None:
        job = self.window.engine.submit("render", params)
        self._render_jobs.add(job.id)

    def _on_job_finished(self, job_id: int, _changes: ChangeSet) -> None:
        if job_id not in self._render_jobs:
            return
        self._render_jobs.discard(job_id)
        job = self.window.engine.queue.job(job_id)
        out = _render_output(job.result or {})
        if out is not None:
            path = out if out.is_absolute() else self.document.root / out
            self.window.statusBar().showMessage(f"rendered {path}", 15000)
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    # ------------------------------------------------------------------ refresh and state
    def _on_changed(self, changes: ChangeSet) -> None:
        if changes.touches("models"):
            self._fill_models()
        if changes.touches("faces", "masks", "models", "merge_targets", "swap_ranges") and self._worker is not None:
            self._worker.forget()
            self.request()

    def _state(self) -> dict[str, Any]:
        return {"merged": self.merged_action.isChecked(), "split": self.split_action.isChecked(),
                "model": self.model_id}

    def _save_state(self) -> None:
        self.document.store.set_meta(META_KEY, json.dumps(self._state()))

    def _load_state(self) -> None:
        text = self.document.store.meta(META_KEY)
        state = json.loads(text) if text else {}
        if state.get("model") is not None:
            index = self.model_combo.findData(state["model"])
            if index >= 0:
                self.model_combo.setCurrentIndex(index)
        self.split_action.setChecked(bool(state.get("split", False)))
        if self.merged_action.isEnabled():
            self.merged_action.setChecked(bool(state.get("merged", False)))

    def close(self) -> None:
        if self._save_timer.isActive():
            self._save_timer.stop()
            self._save_settings()
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        self._inbox.discard()  # late results go with the worker


def _render_output(result: dict[str, Any]) -> Path | None:
    data = result.get("data") or {}
    for key in ("out", "path", "output"):
        if isinstance(data.get(key), str):
            return Path(data[key])
    return None


def install(window: MainWindow) -> MergeWorkspace:
    return MergeWorkspace(window)
