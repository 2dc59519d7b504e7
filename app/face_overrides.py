"""Face overrides in the editor: from the face grid's and the frame view's right-click menus,
and from the Merge menu.

A right-click on faces (the grid's selection, or the face under the cursor in the frame
view, or the frame view's selection when that face is in it) offers

- **Merge settings for this face…** (or for these faces): the merge settings panel showing
  what the first face is merged with now (clip settings, keys, its override); the settings
  the user changes become the faces' override (:mod:`engine.merge.overrides`), which wins
  over the keys;
- **Clear merge override**: the faces get their clip's settings and keys again;
- **Don't swap** (a toggle): the faces' "not swapped" flag (``faces.swap_excluded``).

The Merge menu keeps "Override Selected Faces with These Settings" (every keyable setting
of the merge panel), "Clear Overrides of Selected Faces" and "Don't Swap Selected Faces".

Each edit is one undoable command (:meth:`ProjectDocument.execute`). The widgets know none
of this: the menus call :meth:`FaceOverrides.add_actions` through the sections they were given
(``FaceGridView.add_menu_section``, ``FrameView.add_face_menu_section``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QMenu, QVBoxLayout, QWidget

from engine.errors import FacesmithError
from engine.merge.keys import KEYABLE
from widgets.merge_settings_panel import MergeSettingsPanel

if TYPE_CHECKING:
    from app.merge_workspace import MergeWorkspace
    from engine.project.changes import ChangeSet
    from engine.project.store import ProjectStore


class FaceOverrideDialog(QDialog):
    """The merge settings of one or more faces; :meth:`changed` is what the user changed."""

    def __init__(self, values: dict[str, Any], count: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Merge settings for this face" if count == 1 else f"Merge settings for {count} faces")
        layout = QVBoxLayout(self)
        intro = QLabel("What this face is merged with now (its clip's settings, keys and override). "
                       "The settings you change here become the override of "
                       + ("this face" if count == 1 else f"these {count} faces") + "; it wins over the keys.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.panel = MergeSettingsPanel()
        self.panel.set_values(values)
        self._initial = self.panel.values()  # as the sliders show them (rounded to their steps)
        layout.addWidget(self.panel)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def changed(self) -> dict[str, Any]:
        """setting -> value of the overridable settings the user changed."""
        now = self.panel.values()
        return {n: now[n] for n in KEYABLE if n in now and now[n] != self._initial.get(n)}


class FaceOverrides(QObject):
    """The face-override actions of the menus (module docstring)."""

    def __init__(self, workspace: MergeWorkspace) -> None:
        super().__init__(workspace)
        self.workspace = workspace
        self.window = window = workspace.window
        self.document = workspace.document
        self.dialog: FaceOverrideDialog | None = None  # the open "Merge settings for…" dialog
        window.faces_panel.grid.add_menu_section(self.add_actions)
        window.frame_view.add_face_menu_section(self.add_actions)
        menu = workspace.menu
        self.override_action = self._action(menu, "&Override Selected Faces with These Settings", self.override_selected)
        self.clear_override_action = self._action(menu, "&Clear Overrides of Selected Faces",
                                                  lambda: self.clear(self._selected_faces()))
        self.dont_swap_action = self._action(menu, "Do&n't Swap Selected Faces",
                                             lambda: self.set_not_swapped(self._selected_faces(), True))

    def _action(self, menu: QMenu, text: str, slot: Callable[[], Any]) -> QAction:
        a = QAction(text, self.window)
        a.triggered.connect(lambda _c=False: slot())
        menu.addAction(a)
        return a

    # ------------------------------------------------------------------ the right-click menus
    def add_actions(self, menu: QMenu, face_ids: np.ndarray | Sequence[int]) -> None:
        """Add "Merge settings for this face…", "Clear merge override" and "Don't swap" for ``face_ids``."""
        ids = [int(i) for i in np.asarray(face_ids).ravel()]
        if not ids:
            return
        what = "this face" if len(ids) == 1 else f"these {len(ids)} faces"
        menu.addAction(f"Merge settings for {what}…").triggered.connect(lambda _c=False: self.edit(ids))
        clear = menu.addAction("Clear merge override")
        clear.setEnabled(bool(self._overridden(ids)))
        clear.triggered.connect(lambda _c=False: self.clear(ids))
        no_swap = menu.addAction("Don't swap")
        no_swap.setCheckable(True)
        no_swap.setChecked(self._all_not_swapped(ids))
        no_swap.triggered.connect(lambda on: self.set_not_swapped(ids, bool(on)))

    def _overridden(self, ids: list[int]) -> set[int]:
        with_override = {int(r[0]) for r in self.document.store.query("SELECT face_id FROM face_overrides")}
        return with_override & set(ids)

    def _all_not_swapped(self, ids: list[int]) -> bool:
        columns = self.document.face_columns()
        flagged = columns["id"][np.asarray(columns["swap_excluded"], bool)]
        return bool(np.isin(np.asarray(ids, np.int64), flagged).all())

    # ------------------------------------------------------------------ edits
    def edit(self, face_ids: Sequence[int]) -> FaceOverrideDialog | None:
        """Open the merge settings of ``face_ids`` (those of the first face shown); OK
        stores the changed settings as their override, one undo step."""
        from engine.merge.keys import load_keyed
        from engine.merge.settings import load_clip_settings

        ids = [int(i) for i in face_ids]
        if not ids:
            return None
        store = self.document.store
        try:
            face = store.face(ids[0])
            shown = self.window.frame_presenter.clip
            # The shown clip's panel may be ahead of its saved settings (they save debounced).
            base = (self.workspace.settings if shown is not None and shown.id == face.clip_id
                    else load_clip_settings(store, face.clip_id))
            values = load_keyed(store, face.clip_id, base).for_face(face.id, face.frame).to_json()
        except FacesmithError as exc:
            self.window.statusBar().showMessage(str(exc), 8000)
            return None
        dialog = FaceOverrideDialog(values, len(ids), self.window)
        dialog.accepted.connect(lambda: self._store(ids, dialog.changed()))
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _store(self, ids: list[int], values: dict[str, Any]) -> None:
        from engine.merge.overrides import set_override

        if not values:
            self.window.statusBar().showMessage("no setting changed: the override stays as it was", 5000)
            return
        n = len(ids)
        self._execute(f"Merge settings for {n} face{'s' if n != 1 else ''}", lambda st: set_override(st, ids, values))

    def clear(self, face_ids: Sequence[int]) -> None:
        from engine.merge.overrides import clear_override

        ids = [int(i) for i in face_ids]
        if ids:
            self._execute("Clear merge override", lambda st: clear_override(st, ids))

    def set_not_swapped(self, face_ids: Sequence[int], on: bool) -> None:
        """Mark the faces "not swapped" (``on``) or swap them again."""
        from engine.merge.overrides import dont_swap

        ids = [int(i) for i in face_ids]
        if ids:
            self._execute("Don't swap faces" if on else "Swap faces again", lambda st: dont_swap(st, ids, on))

    def _execute(self, label: str, do: Callable[[ProjectStore], ChangeSet]) -> ChangeSet | None:
        try:
            return self.document.execute(label, do)
        except FacesmithError as exc:
            self.window.statusBar().showMessage(str(exc), 8000)
            return None

    # ------------------------------------------------------------------ the Merge menu
    def _selected_faces(self) -> list[int]:
        ids = [int(i) for i in self.window.frame_view.selected_ids()]
        return ids or [int(i) for i in self.window.faces_panel.grid.selected_ids()]

    def override_selected(self) -> None:
        """The selected faces (frame view, else face grid) get every keyable setting of the panel."""
        from engine.merge.overrides import set_override

        faces = self._selected_faces()
        if not faces:
            self.window.statusBar().showMessage("select faces (frame view or face grid) to override", 5000)
            return
        values = {n: v for n, v in self.workspace.settings.to_json().items() if n in KEYABLE}
        self._execute("Override faces", lambda st: set_override(st, faces, values))


def install(workspace: MergeWorkspace) -> FaceOverrides:
    return FaceOverrides(workspace)
