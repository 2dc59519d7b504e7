"""Directing the merge over time in the editor: merge keys and the quality strip.

Installed by the merge workspace (:mod:`app.merge_workspace`), it adds

- under the timeline, the clip's **key track** and **quality strip**
  (:mod:`widgets.timeline.merge_tracks`): double-click the key track to key the keyed
  settings (or, when none is keyed yet, every slider) at that frame, drag a key to move
  it, right-click or Delete to delete it; click the strip to go to a frame;
- a **key icon** beside each merge slider and beside the mask, colour, sharpen and
  seamless choices (those hold from key to key): ◆ the setting is keyed at this frame (click:
  delete that key), ◈ keyed elsewhere (click: key it here), ◇ not keyed (click: key it
  here). Moving the slider of a keyed setting keys the new value at the current frame;
- in the Merge dock, **Check Quality** (queues the ``qa`` job on the clip's newest
  render with the current model; by default it also runs after each render from the
  editor), the worst frames (click to go there) and **Export CSV…**;
- Merge menu actions: key / delete keys at this frame. (Face overrides, from the Merge menu
  and the right-click menus: :mod:`app.face_overrides`.)

Every edit is one undoable command (:meth:`ProjectDocument.execute`); a refused value
shows its message (naming the setting and range) in the status bar and stores nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import FacesmithError
from engine.project.changes import ChangeSet
from widgets.merge_settings_panel import SLIDERS
from widgets.timeline.merge_tracks import KeyTrack, QualityStrip

if TYPE_CHECKING:
    from app.merge_workspace import MergeWorkspace
    from engine.merge.keys import KeyedSettings, MergeKey
    from engine.merge.qa import FrameScores

KEY_ON, KEY_ELSEWHERE, KEY_OFF = "◆", "◈", "◇"
#: Settings the panel keys when the user keys "everything" (all sliders but smooth_mask).
_SLIDER_KEYS = ("erode", "blur", "face_scale", "offset_x", "offset_y", "sharpen_amount", "opacity",
                "smooth_alignment")
_ENUM_KEYS = ("mask", "color", "sharpen", "seamless")


class MergeKeys(QObject):
    """The presenter of merge keys, face overrides and the quality strip (module docstring)."""

    def __init__(self, workspace: MergeWorkspace, body_layout: QVBoxLayout) -> None:
        super().__init__(workspace)
        self.workspace = workspace
        self.window = window = workspace.window
        self.document = workspace.document
        self._keys: list[MergeKey] = []
        self._overrides: dict[int, dict[str, Any]] = {}
        self._keys_clip: int | None = None
        self._scores: list[FrameScores] = []
        self._qa_jobs: set[int] = set()
        # --- rows under the timeline
        self.key_track = KeyTrack(window.timeline)
        self.quality_strip = QualityStrip(window.timeline)
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(window.timeline, 1)
        column.addWidget(self.key_track)
        column.addWidget(self.quality_strip)
        window.timeline_dock.setWidget(holder)
        self.key_track.frame_requested.connect(self.go_to)
        self.quality_strip.frame_requested.connect(self.go_to)
        self.key_track.key_add_requested.connect(self.key_frame)
        self.key_track.key_move_requested.connect(self.move_key)
        self.key_track.key_delete_requested.connect(self.delete_frame_keys)
        # --- key icons beside the sliders
        self.key_buttons: dict[str, QToolButton] = {}
        for name in _SLIDER_KEYS:
            slider = workspace.panel.sliders.get(name)
            row = slider.parentWidget() if slider is not None else None
            if row is None or row.layout() is None:
                continue
            button = QToolButton()
            button.setAutoRaise(True)
            button.setText(KEY_OFF)
            button.setToolTip(f"key {name} at this frame (◆ keyed here: click to delete the key)")
            button.clicked.connect(lambda _c=False, n=name: self.toggle_key(n))
            row.layout().addWidget(button)
            self.key_buttons[name] = button
        panel, form = workspace.panel, workspace.panel.layout()
        enum_widgets = {"mask": next(iter(panel.mask_boxes.values())).parentWidget(), "color": panel.color,
                        "sharpen": panel.sharpen, "seamless": panel.seamless}
        for name, widget in enum_widgets.items():
            if not isinstance(form, QFormLayout):
                break
            row, _role = form.getWidgetPosition(widget)
            if row < 0:
                continue
            form.removeWidget(widget)
            holder_row = QWidget()
            line = QHBoxLayout(holder_row)
            line.setContentsMargins(0, 0, 0, 0)
            line.addWidget(widget, 1)
            button = QToolButton()
            button.setAutoRaise(True)
            button.setText(KEY_OFF)
            button.setToolTip(f"key {name} at this frame (it holds until the next key; ◆: click to delete)")
            button.clicked.connect(lambda _c=False, n=name: self.toggle_key(n))
            line.addWidget(button)
            form.setWidget(row, QFormLayout.ItemRole.FieldRole, holder_row)
            self.key_buttons[name] = button
        # --- quality
        self.qa_box = box = QGroupBox("Quality")
        qa_layout = QVBoxLayout(box)
        buttons = QHBoxLayout()
        self.qa_button = QPushButton("Check Quality")
        self.qa_button.setToolTip("score every frame of the clip's newest render with this model")
        self.csv_button = QPushButton("Export CSV…")
        buttons.addWidget(self.qa_button)
        buttons.addWidget(self.csv_button)
        qa_layout.addLayout(buttons)
        self.qa_after_render = QCheckBox("check quality after each render")
        self.qa_after_render.setChecked(True)
        qa_layout.addWidget(self.qa_after_render)
        self.qa_info = QLabel("No quality check yet.")
        self.qa_info.setWordWrap(True)
        qa_layout.addWidget(self.qa_info)
        self.worst_list = QListWidget()
        self.worst_list.setMaximumHeight(140)
        qa_layout.addWidget(self.worst_list)
        body_layout.insertWidget(max(body_layout.count() - 1, 0), box)
        self.qa_button.clicked.connect(self.check_quality)
        self.csv_button.clicked.connect(self._export_dialog)
        self.worst_list.itemActivated.connect(self._on_worst)
        self.worst_list.itemClicked.connect(self._on_worst)
        # --- menu actions
        menu = workspace.menu
        menu.addSeparator()
        self.key_action = self._action(menu, "&Key Settings at This Frame", "K", lambda: self.key_frame(self._frame()))
        self.unkey_action = self._action(menu, "&Delete Keys at This Frame", "Shift+K",
                                         lambda: self.delete_frame_keys(self._frame()))
        self.qa_action = self._action(menu, "Check &Quality", "", self.check_quality)
        self.document.changed.connect(self._on_changed)
        window.engine.job_finished.connect(self._on_job_finished)

    def _action(self, menu: Any, text: str, shortcut: str, slot: Any) -> QAction:
        a = QAction(text, self.window)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
        a.triggered.connect(lambda _c=False: slot())
        menu.addAction(a)
        return a

    # ------------------------------------------------------------------ state
    def _clip_id(self) -> int | None:
        clip = self.window.frame_presenter.clip
        return None if clip is None else clip.id

    def _frame(self) -> int:
        return int(self.window.frame_presenter.frame)

    def reload(self) -> None:
        """Read the current clip's keys, overrides and newest quality scores again."""
        from engine.merge.keys import clip_keys
        from engine.merge.overrides import clip_overrides
        from engine.merge.qa import load_scores

        clip_id = self._clip_id()
        self._keys_clip = clip_id
        store = self.document.store
        self._keys = [] if clip_id is None else clip_keys(store, clip_id)
        self._overrides = {} if clip_id is None else clip_overrides(store, clip_id)
        self._scores = [] if clip_id is None else load_scores(store, clip_id)
        by_frame: dict[int, list[tuple[str, str]]] = {}
        for k in self._keys:
            by_frame.setdefault(k.frame, []).append((k.setting, k.interp))
        self.key_track.set_keys(by_frame)
        self._show_scores()
        self._show_buttons()

    def keyed(self, base: Any = None) -> KeyedSettings | None:
        """The current clip's keys and overrides over ``base`` (default: the panel's
        settings), or None when the clip has neither."""
        from engine.merge.keys import KeyedSettings

        if self._keys_clip != self._clip_id():
            self.reload()
        if not self._keys and not self._overrides:
            return None
        return KeyedSettings(self.workspace.settings if base is None else base, tuple(self._keys), self._overrides)

    def frame_shown(self) -> None:
        """A new frame: show the keyed values at it on the sliders."""
        if self._keys_clip != self._clip_id():
            self.reload()
        keyed = self.keyed()
        if keyed is not None and keyed.keyed:
            values = {**self.workspace.settings.to_json(), **{k: list(v) if isinstance(v, tuple) else v
                                                               for k, v in keyed.values_at(self._frame()).items()}}
            self.workspace.panel.set_values(values)
        self._show_buttons()

    def settings_edited(self, settings: Any) -> None:
        """The user moved a slider: a keyed setting takes the new value as a key here."""
        keyed = self.keyed(settings)
        if keyed is None or not keyed.keyed:
            return
        frame, now = self._frame(), keyed.values_at(self._frame())
        # The sliders show keyed values rounded to their steps: only a real move keys.
        shown = {n: round(float(v) * SLIDERS[n][3]) / SLIDERS[n][3] if n in SLIDERS else v for n, v in now.items()}
        changed = {n: getattr(settings, n) for n in {k.setting for k in self._keys}
                   if _differs(getattr(settings, n), shown.get(n))}
        if changed:
            self._set_keys(frame, {n: list(v) if isinstance(v, tuple) else v for n, v in changed.items()})

    def _show_buttons(self) -> None:
        frame = self._frame()
        here = {k.setting for k in self._keys if k.frame == frame}
        anywhere = {k.setting for k in self._keys}
        for name, button in self.key_buttons.items():
            button.setText(KEY_ON if name in here else KEY_ELSEWHERE if name in anywhere else KEY_OFF)

    # ------------------------------------------------------------------ key edits
    def _execute(self, label: str, do: Any) -> ChangeSet | None:
        try:
            return self.document.execute(label, do)
        except FacesmithError as exc:
            self.window.statusBar().showMessage(str(exc), 8000)
            return None

    def _set_keys(self, frame: int, values: dict[str, Any]) -> ChangeSet | None:
        from engine.merge.keys import set_keys

        clip_id = self._clip_id()
        if clip_id is None:
            return None
        return self._execute("Key merge settings", lambda s: set_keys(s, clip_id, frame, values))

    def toggle_key(self, name: str) -> None:
        """The key icon beside a slider: delete the key here, or key the slider's value here."""
        from engine.merge.keys import delete_keys

        clip_id, frame = self._clip_id(), self._frame()
        if clip_id is None:
            return
        if any(k.frame == frame and k.setting == name for k in self._keys):
            self._execute("Delete merge key", lambda s: delete_keys(s, clip_id, frame, [name]))
        else:
            value = getattr(self.workspace.settings, name)
            self._set_keys(frame, {name: list(value) if isinstance(value, tuple) else value})

    def key_frame(self, frame: int) -> None:
        """Key at ``frame`` the settings already keyed (their values there), or, when none
        is keyed yet, every slider and the mask/colour choices with the panel's values."""
        keyed = self.keyed()
        if keyed is not None and keyed.keyed:
            values = keyed.values_at(frame)
        else:
            s = self.workspace.settings
            values = {n: getattr(s, n) for n in (*_SLIDER_KEYS, *_ENUM_KEYS)}
        self._set_keys(frame, {n: list(v) if isinstance(v, tuple) else v for n, v in values.items()})

    def move_key(self, from_frame: int, to_frame: int) -> None:
        from engine.merge.keys import move_keys

        clip_id = self._clip_id()
        if clip_id is not None:
            self._execute("Move merge keys", lambda s: move_keys(s, clip_id, from_frame, to_frame))

    def delete_frame_keys(self, frame: int) -> None:
        from engine.merge.keys import delete_keys

        clip_id = self._clip_id()
        if clip_id is not None:
            self._execute("Delete merge keys", lambda s: delete_keys(s, clip_id, frame))

    # ------------------------------------------------------------------ quality
    def check_quality(self) -> int | None:
        """Queue the ``qa`` job on the clip's newest render with the current model."""
        from engine.merge.qa import pick_render

        clip = self.window.frame_presenter.clip
        if clip is None:
            return None
        try:
            render = pick_render(self.document.store, clip, None, self.workspace.model_id)
        except FacesmithError as exc:
            self.qa_info.setText(str(exc))
            return None
        job = self.window.engine.submit("qa", {"clip": clip.name, "render": render.id})
        self._qa_jobs.add(job.id)
        self.qa_info.setText(f"checking render {render.id} of {clip.name}…")
        return job.id

    def _show_scores(self) -> None:
        from engine.merge.qa import SCORES, worst_frames

        rows = self._scores
        tips = {r.frame: f"frame {r.frame}: " + ", ".join(f"{n} {getattr(r, n):.3g}" for n in SCORES
                                                          if getattr(r, n) is not None) for r in rows}
        self.quality_strip.set_scores([r.frame for r in rows], [r.badness() if r.faces else None for r in rows], tips)
        self.worst_list.clear()
        for r in worst_frames(rows):
            name, value = r.worst() or ("", 0.0)
            item = QListWidgetItem(f"frame {r.frame} · badness {r.badness():.2f} · {name} {value:.3g}")
            item.setToolTip(tips.get(r.frame, ""))
            item.setData(256, r.frame)
            self.worst_list.addItem(item)
        if rows:
            self.qa_info.setText(f"{len(rows)} frames scored; worst first (click to go there)")

    def _on_worst(self, item: QListWidgetItem) -> None:
        self.go_to(int(item.data(256)))

    def export_csv(self, path: Path) -> int:
        """Write the shown scores to ``path``; the number of rows."""
        from engine.merge.qa import write_csv

        write_csv(path, self._scores)
        return len(self._scores)

    def _export_dialog(self) -> None:
        if not self._scores:
            self.window.statusBar().showMessage("no quality scores yet: Check Quality first", 5000)
            return
        name, _ = QFileDialog.getSaveFileName(self.window, "Export quality scores", str(self.document.root / "qa.csv"),
                                              "CSV (*.csv)")
        if name:
            self.window.statusBar().showMessage(f"wrote {self.export_csv(Path(name))} rows to {name}", 8000)

    # ------------------------------------------------------------------ navigation and refresh
    def go_to(self, frame: int) -> None:
        self.window.frame_presenter.request_frame(frame)

    def _on_changed(self, changes: ChangeSet) -> None:
        if changes.touches("merge_keys", "face_overrides", "qa_frames", "clips"):
            self.reload()
            self.frame_shown()  # the sliders show the values the keys now give this frame
            self.workspace.request()

    def _on_job_finished(self, job_id: int, _changes: ChangeSet) -> None:
        if self.qa_after_render.isChecked() and job_id not in self._qa_jobs:
            job = self.window.engine.queue.job(job_id)
            render_id = ((job.result or {}).get("data") or {}).get("render_id")
            if (job.kind == "render" and job.state == "done" and render_id is not None
                    and job.params.get("format", "mp4") in ("mp4", "mkv", "png")):
                qa = self.window.engine.submit("qa", {"clip": job.params["clip"], "render": int(render_id)})
                self._qa_jobs.add(qa.id)
                self.qa_info.setText(f"checking render {render_id}…")
        if job_id in self._qa_jobs:
            self._qa_jobs.discard(job_id)
            job = self.window.engine.queue.job(job_id)
            if job.state != "done":
                self.qa_info.setText(f"quality check failed: {job.error_text}")
            self.reload()


def _differs(a: Any, b: Any) -> bool:
    if b is None:
        return False
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) > 1e-6
    return tuple(a) != tuple(b) if isinstance(a, (list, tuple)) else a != b


def install(workspace: MergeWorkspace, body_layout: QVBoxLayout) -> MergeKeys:
    return MergeKeys(workspace, body_layout)
