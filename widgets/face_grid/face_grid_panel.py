"""FaceGridPanel: the face grid with its toolbar (sort, filters, tile size) and a count line.

The panel only turns its controls into calls on :attr:`FaceGridPanel.grid` and mirrors the
grid's state back into the controls (inside ``signals_blocked``), so a presenter may drive the
grid directly and the toolbar still tells the truth. Presenters connect to ``panel.grid``'s
signals; the panel adds none of its own.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QComboBox, QLabel, QSlider, QToolButton, QVBoxLayout, QWidget

from widgets.face_grid.face_grid_view import FaceGridView
from widgets.face_grid.geometry import MAX_TILE, MIN_TILE
from widgets.face_grid.model import FaceFilter
from widgets.person_label import certain_first, person_font, person_text, person_tip
from widgets.qt_utils import FlowLayout, signals_blocked

SORT_LABELS = {
    "frame": "Frame",
    "sharpness": "Sharpness",
    "yaw": "Yaw",
    "pitch": "Pitch",
    "size": "Face size",
    "person": "Person",
    "similarity": "Similar to selected",
}
# (label, value in FaceFilter); combos hold the index into these, since a None or False item
# data does not round-trip through QVariant reliably.
_ROLE_ITEMS = (("All roles", None), ("src", "src"), ("dst", "dst"))
_EXCLUDED_ITEMS = (("Excluded: shown", None), ("Excluded: hidden", False), ("Excluded: only", True))
_MASK_ITEMS = (("Masks: any", None), ("With mask", True), ("Without mask", False))


class FaceGridPanel(QWidget):
    """Toolbar + :class:`FaceGridView` + "1,234 of 100,000 faces".

    Attributes
    ----------
    grid : the FaceGridView; call its ``set_faces``/``select_faces``/``update_flags`` and
        connect to its signals.
    """

    def __init__(self, parent: QWidget | None = None, *, tile_size: int = 96) -> None:
        super().__init__(parent)
        self.grid = FaceGridView(tile_size=tile_size)
        self.sort_combo = QComboBox()
        for key, label in SORT_LABELS.items():
            self.sort_combo.addItem(label, key)
        self.sort_combo.setToolTip("Sort faces (Similar to selected: most alike to the current face first)")
        self.reverse_button = QToolButton()
        self.reverse_button.setText("⇅")
        self.reverse_button.setCheckable(True)
        self.reverse_button.setToolTip("Reverse the order")
        self.role_combo = self._combo(_ROLE_ITEMS, "Show src faces, dst faces or both")
        self.excluded_combo = self._combo(_EXCLUDED_ITEMS, "Show, hide or only show excluded faces")
        self.mask_combo = self._combo(_MASK_ITEMS, "Filter by whether the face has a mask")
        self.person_combo = QComboBox()
        self.person_combo.setToolTip("Show the faces of one person (their best face is the picture)")
        self.person_combo.setIconSize(QSize(24, 24))
        self.person_combo.addItem("All persons", None)
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(MIN_TILE, MAX_TILE)
        self.size_slider.setFixedWidth(90)
        self.size_slider.setToolTip("Tile size (Ctrl+wheel over the grid)")
        self.count_label = QLabel()
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        # Wraps onto a second row in a narrow dock instead of widening it (or being cut).
        bar = FlowLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        for w in (self.sort_combo, self.reverse_button, self.role_combo, self.excluded_combo, self.mask_combo,
                  self.person_combo):
            bar.addWidget(w)
        bar.addWidget(self.size_slider)
        bar.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.grid, 1)

        # activated, not currentIndexChanged: it comes only from the user, and also when the
        # same item is chosen again, which re-sorts "Similar to selected" against the face
        # selected now.
        self.sort_combo.activated.connect(self._on_sort_control)
        self.reverse_button.toggled.connect(self._on_sort_control)
        for combo in (self.role_combo, self.excluded_combo, self.mask_combo, self.person_combo):
            combo.currentIndexChanged.connect(self._on_filter_control)
        self.size_slider.valueChanged.connect(self.grid.set_tile_size)
        self.grid.sort_changed.connect(self._sync_sort)
        self.grid.filter_changed.connect(self._sync_filter)
        self.grid.counts_changed.connect(self._sync_counts)
        self.grid.tile_size_changed.connect(self._sync_tile_size)
        self._sync_tile_size(self.grid.tile_size())
        self._sync_counts(*self.grid.counts())

    def set_persons(self, persons: list[tuple[int, str, np.ndarray | None, bool]]) -> None:
        """The persons of the person filter: (id, name, RGB best-face picture or None,
        uncertain). Uncertain persons come last, marked (:mod:`widgets.person_label`)."""
        current = self.person_combo.currentData()
        combo = self.person_combo
        with signals_blocked(combo):
            combo.clear()
            combo.addItem("All persons", None)
            for pid, name, picture, uncertain in certain_first(persons, lambda p: p[3]):
                icon = QIcon(QPixmap.fromImage(_qimage(picture))) if picture is not None else QIcon()
                combo.addItem(icon, person_text(name, uncertain), pid)
                row = combo.count() - 1
                combo.setItemData(row, person_tip(name, uncertain), Qt.ItemDataRole.ToolTipRole)
                if uncertain:
                    combo.setItemData(row, person_font(combo.font(), True), Qt.ItemDataRole.FontRole)
            index = combo.findData(current)
            combo.setCurrentIndex(max(index, 0))

    @staticmethod
    def _combo(items: tuple[tuple[str, object], ...], tip: str) -> QComboBox:
        combo = QComboBox()
        for label, _value in items:
            combo.addItem(label)
        combo.setToolTip(tip)
        return combo

    # ------------------------------------------------------------------ controls -> grid
    def _on_sort_control(self) -> None:
        self.grid.set_sort(self.sort_combo.currentData(), reverse=self.reverse_button.isChecked())

    def _on_filter_control(self) -> None:
        current = self.grid.face_filter()
        wanted = replace(current, role=_ROLE_ITEMS[self.role_combo.currentIndex()][1],
                         excluded=_EXCLUDED_ITEMS[self.excluded_combo.currentIndex()][1],
                         has_mask=_MASK_ITEMS[self.mask_combo.currentIndex()][1])
        person = self.person_combo.currentData()
        wanted = replace(wanted, person_ids=None if person is None else (int(person),))
        self.grid.set_filter(**wanted.as_kwargs())

    # ------------------------------------------------------------------ grid -> controls
    def _sync_sort(self, key: str) -> None:
        with signals_blocked(self.sort_combo):
            self.sort_combo.setCurrentIndex(self.sort_combo.findData(key))
        with signals_blocked(self.reverse_button):
            self.reverse_button.setChecked(self.grid.sort_reversed())

    def _sync_filter(self, face_filter: FaceFilter) -> None:
        for combo, items, value in ((self.role_combo, _ROLE_ITEMS, face_filter.role),
                                    (self.excluded_combo, _EXCLUDED_ITEMS, face_filter.excluded),
                                    (self.mask_combo, _MASK_ITEMS, face_filter.has_mask)):
            index = next(i for i, (_label, v) in enumerate(items) if v is value or isinstance(v, str) and v == value)
            with signals_blocked(combo):
                combo.setCurrentIndex(index)
        persons = face_filter.person_ids
        index = self.person_combo.findData(persons[0]) if persons is not None and len(persons) == 1 else 0
        with signals_blocked(self.person_combo):
            self.person_combo.setCurrentIndex(max(index, 0))

    def _sync_counts(self, shown: int, total: int) -> None:
        self.count_label.setText(f"{shown:,} of {total:,} faces")

    def _sync_tile_size(self, px: int) -> None:
        with signals_blocked(self.size_slider):
            self.size_slider.setValue(px)


def _qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb)
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
