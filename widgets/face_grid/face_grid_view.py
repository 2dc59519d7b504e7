"""FaceGridView: a virtualised grid of face thumbnails for 100,000+ faces.

A pull-style view (STYLE.md): the presenter pushes a :class:`FaceTable` and flag updates in,
and the grid sends the user's requests out as snake_case signals. It never changes a face by
itself — Delete only *asks* for an exclusion, which the presenter turns into an undoable
command and then reports back through :meth:`FaceGridView.update_flags`.

Why not ``QListView``: the grid's state lives in numpy arrays over the table's rows (display
order, selection), not in per-item Qt objects. ``QItemSelectionModel`` keeps a list of ranges,
so a lasso in the face graph that selects 20,000 scattered faces would become 20,000 ranges
that every paint and every ``selectedIndexes()`` walks; here it is one boolean array, and
``selected_ids()`` is one fancy index. Tiles are uniform, so layout and hit-testing are
arithmetic (:mod:`.geometry`), and painting touches only the visible tiles.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QContextMenuEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractScrollArea, QMenu, QWidget

from widgets.face_grid.grid_menu import MenuSection, grid_menu, request_exclude, request_restore, show_face_tip
from widgets.face_grid.geometry import MAX_TILE, MIN_TILE, SPACING, GridGeometry
from widgets.face_grid.model import SORT_KEYS, FaceFilter, FaceTable, filter_mask, sort_order
from widgets.face_grid.rubber_band import RubberBandDrag
from widgets.face_grid.selection import Move, click_mask, move_target, range_mask
from widgets.face_grid.thumbnails import ThumbnailLoader, ThumbnailSource
from widgets.face_grid.tile_painter import BACKGROUND, TilePainter

_IDS_DTYPE = np.int64
_MOVE_KEYS: dict[Qt.Key, Move] = {
    Qt.Key.Key_Left: "left", Qt.Key.Key_Right: "right", Qt.Key.Key_Up: "up", Qt.Key.Key_Down: "down",
    Qt.Key.Key_PageUp: "page_up", Qt.Key.Key_PageDown: "page_down", Qt.Key.Key_Home: "home", Qt.Key.Key_End: "end",
}


def _as_ids(ids: Iterable[int] | np.ndarray | int) -> np.ndarray:
    return np.asarray(ids, dtype=_IDS_DTYPE).reshape(-1)


class FaceGridView(QAbstractScrollArea):
    """The face grid.

    Signals
    -------
    selection_changed(object): np.ndarray of the selected face ids (display order), on every
        change the user makes — or a filter or flag update makes; never from :meth:`select_faces`.
    exclude_requested(object): ids to exclude (Delete), only faces not excluded yet.
    restore_requested(object): ids to restore (Shift+Delete), only excluded faces.
    face_activated(int): a face was double-clicked (or Enter): show its frame.
    sort_changed(str): the sort key (or its direction) changed; the argument is the key.
    filter_changed(object): the :class:`FaceFilter` changed.
    counts_changed(int, int): (faces shown, faces in the table).
    tile_size_changed(int): the tile size changed (Ctrl+wheel, Ctrl+plus/minus).
    action_requested(str, object): a context-menu action on ids: ``"export"`` (face set out),
        ``"delete"`` (for good). Editors add their own entries with :meth:`add_menu_section`.
    """

    selection_changed = Signal(object)
    exclude_requested = Signal(object)
    restore_requested = Signal(object)
    face_activated = Signal(int)
    sort_changed = Signal(str)
    filter_changed = Signal(object)
    counts_changed = Signal(int, int)
    tile_size_changed = Signal(int)
    action_requested = Signal(str, object)

    def __init__(self, parent: QWidget | None = None, *, tile_size: int = 96) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setFrameShape(QAbstractScrollArea.Shape.NoFrame)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.viewport().setAutoFillBackground(False)
        self._table = FaceTable.empty()
        self._sort_key = "frame"
        self._reverse = False
        self._reference_id: int | None = None
        self._filter = FaceFilter()
        self._sorted = np.empty(0, np.int64)       # all rows, in sort order
        self._order = np.empty(0, np.int64)        # the shown rows, in display order
        self._position = np.empty(0, np.int64)     # display position of each row, -1 if hidden
        self._selected = np.zeros(0, np.bool_)     # per row
        self._current = -1                          # row with the keyboard focus
        self._anchor = -1                           # row where a Shift range starts
        self._tile = int(np.clip(tile_size, MIN_TILE, MAX_TILE))
        self._painter = TilePainter()
        self._scroll_direction = 1
        self._last_scroll = 0
        self._band = RubberBandDrag(self.viewport(), self.verticalScrollBar(), self._on_band)
        self._press_selection: np.ndarray | None = None  # the selection when the left button went down
        self._menu_sections: list[MenuSection] = []
        self.paint_count = 0  # for benchmarks and tests: paints of the viewport so far
        self.loader = ThumbnailLoader(self)
        self.loader.thumbnails_ready.connect(self._on_thumbnails_ready)
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        app = QCoreApplication.instance()
        if app is not None:  # no worker may outlive the event loop that receives its results
            app.aboutToQuit.connect(self.shutdown)

    # ================================================================== data in
    def set_faces(self, table: FaceTable) -> None:
        """Show these faces. The sort, filter, scroll offset, selection and current face are
        kept for the ids still present; cached thumbnails stay (ids are stable)."""
        old = self._table
        selected_ids = old.id[self._selected] if self._selected.any() else np.empty(0, np.int64)
        current_id = int(old.id[self._current]) if self._current >= 0 else None
        anchor_id = int(old.id[self._anchor]) if self._anchor >= 0 else None
        shown_before = self.counts()
        self._table = table
        self._selected = np.zeros(len(table), np.bool_)
        if selected_ids.size:
            rows = table.rows_of(selected_ids)
            self._selected[rows[rows >= 0]] = True
        self._current = self._row_of(current_id)
        self._anchor = self._row_of(anchor_id)
        if self._reference_id is not None and self._row_of(self._reference_id) < 0:
            self._reference_id = None
        self._sorted = self._compute_sort()
        self._apply_filter(emit_selection=False)
        if self.counts() != shown_before:
            self.counts_changed.emit(*self.counts())

    def update_flags(self, ids: Iterable[int] | np.ndarray, *, excluded: bool | np.ndarray | None = None,
                     has_mask: bool | np.ndarray | None = None) -> None:
        """Cheap refresh after a change set touched these faces' flags (no re-sort). Faces the
        filter now hides drop out of the view and the selection; the current face moves to the
        face that takes its place, so culling with Delete keeps going down the grid."""
        self._table = self._table.with_flags(_as_ids(ids), excluded=excluded, has_mask=has_mask)
        hides = (excluded is not None and self._filter.excluded is not None) or (
            has_mask is not None and self._filter.has_mask is not None)
        if hides:
            shown_before = self.counts()
            current_position = int(self._position[self._current]) if self._current >= 0 else -1
            self._apply_filter(emit_selection=True)
            if current_position >= 0 and self._current < 0 and self._order.size:
                self._current = int(self._order[min(current_position, self._order.size - 1)])
                self._anchor = self._current
            if self.counts() != shown_before:
                self.counts_changed.emit(*self.counts())
        self.viewport().update()

    def set_thumbnail_source(self, source: ThumbnailSource | None) -> None:
        """Where thumbnails come from; drops the cache."""
        self.loader.set_source(source)
        self.viewport().update()

    def invalidate_thumbnails(self, ids: Iterable[int] | np.ndarray) -> None:
        """These faces' crops changed: reload their thumbnails (the old ones show until then)."""
        self.loader.invalidate(_as_ids(ids).tolist(), keep_old=True)
        self.viewport().update()

    # ================================================================== sort and filter
    def set_sort(self, key: str, *, reference_id: int | None = None, reverse: bool = False) -> None:
        """Order the faces by ``key`` (one of :data:`SORT_KEYS`). For ``similarity`` the
        reference is ``reference_id``, else the current face, else the first selected one;
        with none of them the order stays by frame until a face is chosen."""
        if key not in SORT_KEYS:
            raise ValueError(f"unknown sort key {key!r}; expected one of {SORT_KEYS}")
        changed = (key, reverse) != (self._sort_key, self._reverse)
        self._sort_key, self._reverse = key, reverse
        if key == "similarity":
            if reference_id is None:
                reference_id = self._reference_candidate()
            self._reference_id = reference_id if self._row_of(reference_id) >= 0 else None
        else:
            self._reference_id = None
        self._sorted = self._compute_sort()
        self._apply_filter(emit_selection=False)
        if self._current >= 0 and self._position[self._current] >= 0:
            self.scroll_to_face(int(self._table.id[self._current]))
        else:
            self.verticalScrollBar().setValue(0)
        if changed:
            self.sort_changed.emit(key)

    def sort_key(self) -> str:
        return self._sort_key

    def sort_reversed(self) -> bool:
        return self._reverse

    def sort_reference(self) -> int | None:
        """The face the ``similarity`` sort measures against (None when not sorting by it)."""
        return self._reference_id

    def set_filter(self, *, role: str | None = None, clip_ids: Iterable[int] | None = None,
                   person_ids: Iterable[int] | None = None, excluded: bool | None = None,
                   has_mask: bool | None = None) -> None:
        """Show only the faces that match (None = any). Replaces the whole filter; see
        :class:`FaceFilter` for the meaning of each criterion. Hidden faces leave the selection."""
        new = FaceFilter(role=role, clip_ids=None if clip_ids is None else tuple(clip_ids),
                         person_ids=None if person_ids is None else tuple(person_ids),
                         excluded=excluded, has_mask=has_mask)
        if new == self._filter:
            return
        shown_before = self.counts()
        self._filter = new
        self._apply_filter(emit_selection=True)
        self.filter_changed.emit(new)
        if self.counts() != shown_before:
            self.counts_changed.emit(*self.counts())

    def face_filter(self) -> FaceFilter:
        return self._filter

    # ================================================================== selection
    def select_faces(self, ids: Iterable[int] | np.ndarray, *, scroll: bool = True) -> None:
        """Select exactly these faces (those shown; others are ignored) without emitting
        ``selection_changed`` — the inbound half of a two-way selection binding. The first of
        them becomes the current face; with ``scroll`` the grid scrolls to it unless a selected
        face is already in view."""
        rows = self._table.rows_of(_as_ids(ids))
        rows = rows[rows >= 0]
        rows = rows[self._position[rows] >= 0]
        self._selected = np.zeros(len(self._table), np.bool_)
        self._selected[rows] = True
        if rows.size:
            first = int(rows[np.argmin(self._position[rows])])
            self._current = self._anchor = first
            if scroll and not self._any_selected_in_view():
                self.scroll_to_face(int(self._table.id[first]))
        self.viewport().update()

    def selected_ids(self) -> np.ndarray:
        """The selected face ids (int64) in display order."""
        return self._table.id[self._order[self._selected[self._order]]]

    def current_id(self) -> int | None:
        return None if self._current < 0 else int(self._table.id[self._current])

    def select_all(self) -> None:
        selected = np.zeros(len(self._table), np.bool_)
        selected[self._order] = True
        self._set_selection(selected)

    def clear_selection(self) -> None:
        self._set_selection(np.zeros(len(self._table), np.bool_))

    # ================================================================== view
    def table(self) -> FaceTable:
        return self._table

    def shown_ids(self) -> np.ndarray:
        """The ids of the faces shown, in display order."""
        return self._table.id[self._order]

    def counts(self) -> tuple[int, int]:
        """(faces shown, faces in the table)."""
        return int(self._order.size), len(self._table)

    def tile_size(self) -> int:
        return self._tile

    def set_tile_size(self, px: int) -> None:
        """Tile edge in px (clamped to 48–256); the face at the viewport's centre stays put."""
        self._zoom_to(int(px), self.viewport().rect().center())

    def scroll_to_face(self, face_id: int, *, center: bool = False) -> None:
        row = self._row_of(face_id)
        if row < 0 or self._position[row] < 0:
            return
        bar = self.verticalScrollBar()
        bar.setValue(self._geometry().scroll_to_show(
            int(self._position[row]), bar.value(), self.viewport().height(), center=center))

    def face_at(self, point: QPoint) -> int | None:
        """The id of the face under a viewport point, or None."""
        position = self._position_at(point)
        return None if position < 0 else int(self._table.id[self._order[position]])

    def face_rect(self, face_id: int) -> QRect:
        """The tile of a face in viewport coordinates (empty when it is not shown)."""
        row = self._row_of(face_id)
        if row < 0 or self._position[row] < 0:
            return QRect()
        return self._tile_rect(int(self._position[row]))

    def role_tag_rect(self, face_id: int) -> QRect:
        """Where the face's role tag (text) is drawn: the pixel snapshot ignores it."""
        self._painter.configure(self._tile, self.devicePixelRatioF())
        return self._painter.tag_rect(self.face_rect(face_id))

    def visible_ids(self) -> np.ndarray:
        """Ids of the faces whose tiles intersect the viewport, in display order."""
        first, stop = self._visible_positions()
        return self._table.id[self._order[first:stop]]

    def shutdown(self) -> None:
        """Drop pending thumbnail loads and wait for the running ones (on close)."""
        self.loader.cancel_pending(wait=True)

    # ================================================================== internals: data
    def _row_of(self, face_id: int | None) -> int:
        if face_id is None:
            return -1
        return int(self._table.rows_of([face_id])[0])

    def _reference_candidate(self) -> int | None:
        if self._current >= 0 and self._selected[self._current]:
            return int(self._table.id[self._current])
        selected = self.selected_ids()
        if selected.size:
            return int(selected[0])
        return None if self._current < 0 else int(self._table.id[self._current])

    def _compute_sort(self) -> np.ndarray:
        if self._sort_key == "similarity" and self._reference_id is None:
            return self._table.frame_order
        return sort_order(self._table, self._sort_key, self._reference_id, reverse=self._reverse)

    def _apply_filter(self, *, emit_selection: bool) -> None:
        """Recompute the shown rows from the sorted rows and the filter."""
        n = len(self._table)
        if self._filter.is_identity:
            self._order = self._sorted
        else:
            shown = filter_mask(self._table, **self._filter.as_kwargs())
            self._order = self._sorted[shown[self._sorted]]
        self._position = np.full(n, -1, np.int64)
        self._position[self._order] = np.arange(self._order.size, dtype=np.int64)
        hidden = self._position < 0
        if self._current >= 0 and hidden[self._current]:
            self._current = -1
        if self._anchor >= 0 and hidden[self._anchor]:
            self._anchor = -1
        if self._selected.size == n and (self._selected & hidden).any():
            selected = self._selected & ~hidden
            if emit_selection:
                self._set_selection(selected)
            else:
                self._selected = selected
        self._relayout()

    def _set_selection(self, selected: np.ndarray) -> None:
        """The user's selection changed: store it, repaint, and emit if it differs."""
        changed = not np.array_equal(selected, self._selected)
        self._selected = selected
        self.viewport().update()
        if changed:
            self.selection_changed.emit(self.selected_ids())

    def _any_selected_in_view(self) -> bool:
        first, stop = self._visible_positions()
        return bool(self._selected[self._order[first:stop]].any())

    # ================================================================== internals: layout
    def _geometry(self) -> GridGeometry:
        return GridGeometry(int(self._order.size), self._tile, self.viewport().width())

    def _relayout(self) -> None:
        geo = self._geometry()
        bar = self.verticalScrollBar()
        height = self.viewport().height()
        bar.setRange(0, max(0, geo.content_height - height))
        bar.setPageStep(max(1, height - geo.cell // 2))
        bar.setSingleStep(max(1, geo.cell // 3))
        self.viewport().update()

    def _tile_rect(self, position: int) -> QRect:
        x, y = self._geometry().tile_origin(position)
        return QRect(x, y - self.verticalScrollBar().value(), self._tile, self._tile)

    def _position_at(self, point: QPoint) -> int:
        return self._geometry().position_at(point.x(), point.y() + self.verticalScrollBar().value())

    def _visible_positions(self) -> tuple[int, int]:
        top = self.verticalScrollBar().value()
        return self._geometry().position_range(top, top + self.viewport().height())

    def _thumbnail_px(self) -> int:
        return round(self._tile * self.devicePixelRatioF())

    def _zoom_to(self, px: int, anchor: QPoint) -> None:
        px = int(np.clip(px, MIN_TILE, MAX_TILE))
        if px == self._tile:
            return
        bar = self.verticalScrollBar()
        geo = self._geometry()
        position = geo.position_range(anchor.y() + bar.value(), anchor.y() + bar.value())[0]
        offset = anchor.y() + bar.value() - geo.tile_origin(position)[1] if self._order.size else 0
        self._tile = px
        self._relayout()
        if self._order.size:
            new_y = self._geometry().tile_origin(position)[1]
            bar.setValue(round(new_y + offset * px / geo.tile) - anchor.y())
        self.tile_size_changed.emit(px)

    def resizeEvent(self, event) -> None:  # noqa: ANN001, N802
        super().resizeEvent(event)
        self._relayout()

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802
        # Blit what stays on screen and paint only the strip that scrolled in.
        if abs(dy) < self.viewport().height():
            self.viewport().scroll(0, dy)
        else:
            self.viewport().update()

    def _on_scrolled(self, value: int) -> None:
        self._scroll_direction = 1 if value >= self._last_scroll else -1
        self._last_scroll = value

    # ================================================================== painting
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        self.paint_count += 1
        viewport = self.viewport()
        p = QPainter(viewport)
        clip = event.rect()
        p.fillRect(clip, BACKGROUND)
        scroll = self.verticalScrollBar().value()
        geo = self._geometry()
        self._painter.configure(self._tile, self.devicePixelRatioF())
        first, stop = geo.position_range(clip.top() + scroll - SPACING, clip.bottom() + scroll + SPACING)
        self._painter.paint_rows(p, self._table, self._order[first:stop], self._selected, self._current,
                                 self.loader, origins=[geo.tile_origin(k) for k in range(first, stop)], scroll=scroll)
        p.end()
        self._request_thumbnails(geo, scroll)

    def _request_thumbnails(self, geo: GridGeometry, scroll: int) -> None:
        """Ask for the visible faces' thumbnails, then a page ahead in the scroll direction."""
        height = self.viewport().height()
        first, stop = geo.position_range(scroll, scroll + height)
        if self._scroll_direction >= 0:
            ahead = geo.position_range(scroll + height, scroll + 2 * height)
        else:
            ahead = geo.position_range(max(0, scroll - height), scroll)
        wanted = np.concatenate([self._order[first:stop], self._order[ahead[0]:ahead[1]]])
        self.loader.request(self._table.id[wanted].tolist(), self._thumbnail_px())

    def _on_thumbnails_ready(self, ids: np.ndarray) -> None:
        # Prefetched faces arrive too; repaint only when one of them is on screen.
        if np.isin(ids, self.visible_ids()).any():
            self.viewport().update()

    # ================================================================== mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            super().mousePressEvent(event)
            return
        position = self._position_at(event.position().toPoint())
        mods = event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        if event.button() == Qt.MouseButton.RightButton:
            if position >= 0 and not self._selected[self._order[position]]:
                self._click(position, ctrl=False, shift=False)
            return
        if position >= 0:
            self._click(position, ctrl=ctrl, shift=shift)
        elif not (ctrl or shift):
            self.clear_selection()
        self._band.press(event.position().toPoint())
        self._press_selection = self._selected.copy()

    def _click(self, position: int, *, ctrl: bool, shift: bool) -> None:
        anchor = int(self._position[self._anchor]) if self._anchor >= 0 else -1
        selected, moves_anchor = click_mask(self._selected, self._order, position, anchor, ctrl=ctrl, shift=shift)
        self._current = int(self._order[position])
        if moves_anchor:
            self._anchor = self._current
        self._set_selection(selected)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if not (event.buttons() & Qt.MouseButton.LeftButton and self._band.move(event.position().toPoint())):
            super().mouseMoveEvent(event)

    def _on_band(self, rect: QRect) -> None:
        if self._press_selection is None:
            return
        positions = self._geometry().positions_in_rect(rect.left(), rect.top(), rect.right(), rect.bottom())
        selected = self._press_selection.copy()
        selected[self._order[positions]] = True
        self._selected = selected  # emitted once, on release
        self.viewport().update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        before, self._press_selection = self._press_selection, None
        if event.button() == Qt.MouseButton.LeftButton and self._band.release():
            if before is not None and not np.array_equal(before, self._selected):
                self.selection_changed.emit(self.selected_ids())
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        position = self._position_at(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and position >= 0:
            row = int(self._order[position])
            if row != self._current or not self._selected[row]:
                self._click(position, ctrl=False, shift=False)
            self.face_activated.emit(int(self._table.id[row]))
            return
        super().mouseDoubleClickEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120
            if steps:
                self._zoom_to(round(self._tile + 8 * steps), event.position().toPoint())
            event.accept()
            return
        super().wheelEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802
        menu = self.context_menu(event.pos())
        menu.exec(event.globalPos())
        menu.deleteLater()

    def context_menu(self, point: QPoint) -> QMenu:
        """The right-click menu at a viewport point (:mod:`.grid_menu`; built on demand)."""
        return grid_menu(self, self.face_at(point), self._menu_sections)

    def add_menu_section(self, section: MenuSection) -> None:
        """Add ``section(menu, face_ids)`` to every right-click menu on faces: the editor's
        own actions for the faces the menu applies to."""
        self._menu_sections.append(section)

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.ToolTip:
            show_face_tip(self, event.pos(), event.globalPos())
            return True
        return super().viewportEvent(event)

    # ================================================================== keyboard
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key, mods = event.key(), event.modifiers()
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            request_restore(self) if shift else request_exclude(self)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if self._current >= 0:
                self.face_activated.emit(int(self._table.id[self._current]))
        elif event.matches(QKeySequence.StandardKey.SelectAll):
            self.select_all()
        elif key == Qt.Key.Key_Escape:
            self.clear_selection()
        elif key == Qt.Key.Key_Space and self._current >= 0:
            selected = self._selected.copy()
            selected[self._current] = not selected[self._current] if ctrl else True
            self._anchor = self._current
            self._set_selection(selected)
        elif ctrl and key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal, Qt.Key.Key_Minus):
            step = 16 if key != Qt.Key.Key_Minus else -16
            self._zoom_to(self._tile + step, self.viewport().rect().center())
        elif key in _MOVE_KEYS:
            self._move_current(_MOVE_KEYS[key], shift=shift, ctrl=ctrl)
        else:
            super().keyPressEvent(event)

    def _move_current(self, move: Move, *, shift: bool, ctrl: bool) -> None:
        """Arrow keys, Page Up/Down, Home/End: move the current face; Shift extends the
        selection from the anchor, Ctrl moves without selecting."""
        count = int(self._order.size)
        geo = self._geometry()
        here = int(self._position[self._current]) if self._current >= 0 else -1
        position = move_target(move, here, count, columns=geo.columns, page_rows=self.viewport().height() // geo.cell,
                               first_visible=self._visible_positions()[0])
        if position < 0:
            return
        self._current = int(self._order[position])
        if shift:
            if self._anchor < 0:
                self._anchor = self._current
            self._set_selection(range_mask(len(self._table), self._order, int(self._position[self._anchor]), position))
        elif not ctrl:
            self._anchor = self._current
            self._set_selection(range_mask(len(self._table), self._order, position, position))
        self.scroll_to_face(int(self._table.id[self._current]))
        self.viewport().update()

    def closeEvent(self, event) -> None:  # noqa: ANN001, N802
        self.shutdown()
        super().closeEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(6 * (self._tile + SPACING) + SPACING + 16, 4 * (self._tile + SPACING) + SPACING)

