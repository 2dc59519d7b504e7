"""ClipListView: the project's clips grouped by role, with size, length and face counts."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem, QWidget

from engine.project.models import Clip

_ROLE_TITLES = {"src": "src — the face to put in", "dst": "dst — the footage to change"}


class ClipListView(QTreeWidget):
    """Signals: ``clip_activated(int)`` (double-click), ``clip_selected(int)``."""

    clip_activated = Signal(int)
    clip_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["clip", "size", "frames", "fps", "faces"])
        self.setColumnWidth(0, 170)
        for col, width in ((1, 80), (2, 60), (3, 50)):
            self.setColumnWidth(col, width)
        self.setUniformRowHeights(True)
        self._roots: dict[str, QTreeWidgetItem] = {}
        for role in ("src", "dst"):
            root = QTreeWidgetItem([_ROLE_TITLES[role]])
            root.setFirstColumnSpanned(True)
            root.setFlags(root.flags() & ~Qt.ItemFlag.ItemIsSelectable)
            self.addTopLevelItem(root)
            root.setExpanded(True)
            root.setFirstColumnSpanned(True)
            self._roots[role] = root
        self.itemDoubleClicked.connect(self._on_double)
        self.itemSelectionChanged.connect(self._on_select)

    def set_clips(self, clips: list[Clip], face_counts: dict[int, tuple[int, int]]) -> None:
        """Show these clips; ``face_counts`` maps clip id to (faces, excluded)."""
        for root in self._roots.values():
            root.takeChildren()
        for clip in clips:
            faces, excluded = face_counts.get(clip.id, (0, 0))
            item = QTreeWidgetItem([
                clip.name, f"{clip.width}×{clip.height}", str(clip.frame_count), f"{float(clip.fps):g}",
                f"{faces - excluded}" + (f" (+{excluded} excl.)" if excluded else ""),
            ])
            item.setData(0, Qt.ItemDataRole.UserRole, clip.id)
            tip = str(clip.path)
            if clip.missing:
                item.setForeground(0, QBrush(QColor("#ff6060")))
                item.setText(0, f"{clip.name} (missing)")
                tip += "\nThe file is missing: relink it (File ▸ Relink clips…)."
            item.setToolTip(0, tip)
            self._roots[clip.role].addChild(item)
        for root in self._roots.values():
            root.setExpanded(True)

    def clip_ids(self) -> list[int]:
        return [root.child(i).data(0, Qt.ItemDataRole.UserRole)
                for root in self._roots.values() for i in range(root.childCount())]

    def _on_double(self, item: QTreeWidgetItem, _col: int) -> None:
        clip_id = item.data(0, Qt.ItemDataRole.UserRole)
        if clip_id is not None:
            self.clip_activated.emit(int(clip_id))

    def _on_select(self) -> None:
        items = self.selectedItems()
        if items and items[0].data(0, Qt.ItemDataRole.UserRole) is not None:
            self.clip_selected.emit(int(items[0].data(0, Qt.ItemDataRole.UserRole)))
