"""A list of persons with check boxes and thumbnails: which persons a merge swaps.

Pure widget (no store): the presenter gives it rows and the checked ids, and hears
``checked_changed(list[int])`` when the user ticks or clears a box. Nothing checked is
shown as "every face" (no merge targets chosen), all boxes ticked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

THUMB: int = 40


@dataclass(frozen=True)
class PersonRow:
    """One person of the clip: id, name, face count in the clip, an RGB thumbnail or None."""

    person_id: int
    name: str
    faces: int
    thumbnail: np.ndarray | None = None


def _icon(image: np.ndarray | None) -> QIcon:
    if image is None:
        pixmap = QPixmap(THUMB, THUMB)
        pixmap.fill(Qt.GlobalColor.darkGray)
        return QIcon(pixmap)
    rgb = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
    h, w = rgb.shape[:2]
    qimage = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QIcon(QPixmap.fromImage(qimage).scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                                  Qt.TransformationMode.SmoothTransformation))


class PersonChecklist(QWidget):
    """Signals: ``checked_changed(object)`` — the ticked person ids, after a user click."""

    checked_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Swap in this clip:")
        self.list = QListWidget()
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setToolTip("Tick the persons to swap in this clip (merge targets). Untick one to leave its "
                             "faces as they are in the render.")
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        layout.addWidget(self.hint)
        self._filling = False
        self.list.itemChanged.connect(self._on_item_changed)
        self.set_rows([], None)

    def set_rows(self, rows: Sequence[PersonRow], checked: Sequence[int] | None, *, clip_name: str = "") -> None:
        """Show ``rows``; ``checked`` None or empty: no targets chosen (every face swapped)."""
        self._filling = True
        try:
            self.list.clear()
            chosen = set(checked or ())
            for row in rows:
                item = QListWidgetItem(_icon(row.thumbnail), f"{row.name}  ·  {row.faces} faces")
                item.setData(Qt.ItemDataRole.UserRole, row.person_id)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                on = not chosen or row.person_id in chosen
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
                self.list.addItem(item)
        finally:
            self._filling = False
        self.title.setText(f"Swap in {clip_name}:" if clip_name else "Swap in this clip:")
        if not rows:
            self.hint.setText("Show a dst clip with extracted faces to choose whom to swap.")
        elif not chosen:
            self.hint.setText("Every face is swapped (no merge targets chosen).")
        else:
            self.hint.setText(f"Only the ticked persons are swapped ({len(chosen)} of {len(rows)}); "
                              "faces with no person are left as they are.")

    def checked_ids(self) -> list[int]:
        return [int(self.list.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]

    def all_ids(self) -> list[int]:
        return [int(self.list.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.list.count())]

    def set_checked(self, person_id: int, on: bool) -> None:
        """Tick or clear one person's box as a user click would (emits ``checked_changed``)."""
        for i in range(self.list.count()):
            item = self.list.item(i)
            if int(item.data(Qt.ItemDataRole.UserRole)) == person_id:
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _on_item_changed(self, _item: QListWidgetItem) -> None:
        if not self._filling:
            self.checked_changed.emit(self.checked_ids())
