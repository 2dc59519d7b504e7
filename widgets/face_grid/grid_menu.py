"""The face grid's right-click menu, built on demand for the faces it applies to, the
exclude/restore requests it shares with the Delete keys, and the tiles' tooltips.

The grid's own entries (exclude, restore, export, delete, show frame, sort by similarity)
only emit the grid's request signals. Editors add their own sections through
:meth:`FaceGridView.add_menu_section`: a callable that gets the menu and the target face
ids and adds its actions (the merge workspace adds "Merge settings for this face…",
"Clear merge override" and "Don't swap"). The widget never learns what they do, so it
stays free of the editor (STYLE.md: widgets take plain data and emit signals).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolTip

from widgets.face_grid.model import describe_face

if TYPE_CHECKING:
    from widgets.face_grid.face_grid_view import FaceGridView

#: ``section(menu, face_ids)``: adds actions for these faces (int64 ids, display order) to ``menu``.
MenuSection = Callable[[QMenu, np.ndarray], None]


def action_targets(view: FaceGridView) -> np.ndarray:
    """The faces an action applies to: the selection, else the current face."""
    ids = view.selected_ids()
    current = view.current_id()
    if ids.size == 0 and current is not None:
        ids = np.array([current], np.int64)
    return ids


def request_exclude(view: FaceGridView) -> None:
    """Ask to exclude the targets not excluded yet (Delete)."""
    ids = action_targets(view)
    ids = ids[~view.table().excluded[view.table().rows_of(ids)]]
    if ids.size:
        view.exclude_requested.emit(ids)


def request_restore(view: FaceGridView) -> None:
    """Ask to restore the excluded targets (Shift+Delete)."""
    ids = action_targets(view)
    ids = ids[view.table().excluded[view.table().rows_of(ids)]]
    if ids.size:
        view.restore_requested.emit(ids)


def grid_menu(view: FaceGridView, face_id: int | None, sections: list[MenuSection]) -> QMenu:
    """The menu for a right-click on ``face_id`` (None: on empty space); its actions apply
    to :func:`action_targets` (a right-click on an unselected face selects it first)."""
    table = view.table()
    faces = action_targets(view)
    rows = table.rows_of(faces)
    n = int(faces.size)
    menu = QMenu(view)
    exclude = QAction(f"Exclude {n} face(s)", menu)
    exclude.setShortcut(QKeySequence(Qt.Key.Key_Delete))
    exclude.setEnabled(bool((~table.excluded[rows]).any()) if n else False)
    exclude.triggered.connect(lambda: request_exclude(view))
    restore = QAction(f"Restore {n} face(s)", menu)
    restore.setShortcut(QKeySequence("Shift+Del"))
    restore.setEnabled(bool(table.excluded[rows].any()) if n else False)
    restore.triggered.connect(lambda: request_restore(view))
    menu.addAction(exclude)
    menu.addAction(restore)
    if n:
        menu.addSeparator()
        menu.addAction(f"Export {n} face(s)…", lambda: view.action_requested.emit("export", faces))
        menu.addAction(f"Delete {n} face(s) for good", lambda: view.action_requested.emit("delete", faces))
        for section in sections:
            menu.addSeparator()
            section(menu, faces)
    if face_id is not None:
        menu.addSeparator()
        menu.addAction("Show frame", lambda: view.face_activated.emit(face_id))
        menu.addAction("Sort by similarity to this face", lambda: view.set_sort("similarity", reference_id=face_id))
    return menu


def show_face_tip(view: FaceGridView, point: QPoint, global_point: QPoint) -> None:
    """The tooltip of the face under a viewport point (what the tile's marks mean)."""
    face_id = view.face_at(point)
    if face_id is None:
        QToolTip.hideText()
        return
    table = view.table()
    QToolTip.showText(global_point, describe_face(table, int(table.rows_of([face_id])[0])), view.viewport())
