"""CheckpointList: a model's checkpoints (latest and backups) with "Restore selected".

Plain :class:`CheckpointEntry` values in, ``restore_requested(path)`` out. Restoring the
latest checkpoint would change nothing, so the button is enabled only on a backup, and
only while the presenter allows it (not while a job trains the model).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6 import QtCore, QtWidgets

from widgets.qt_utils import signals_blocked
from widgets.training_monitor.model import CheckpointEntry, format_size, format_time

_PATH_ROLE = QtCore.Qt.ItemDataRole.UserRole


class CheckpointList(QtWidgets.QWidget):
    """Signals: ``restore_requested(str)`` — the checkpoint folder to make the latest."""

    restore_requested = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._entries: list[CheckpointEntry] = []
        self._allowed = True
        self._reason = ""
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setHeaderLabels(["checkpoint", "iteration", "saved", "optimizer", "size"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        # Every column fits its text; the checkpoint name takes what is left (elided, tooltip).
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3, 4):
            header.setSectionResizeMode(col, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tree.setToolTip("The model's checkpoints: 'latest' is what training continues from")
        self.restore_button = QtWidgets.QPushButton("&Restore Selected")
        self.restore_button.setMinimumWidth(self.restore_button.sizeHint().width())
        self.restore_button.setToolTip("Make the selected backup the model's latest checkpoint "
                                       "(the current latest is kept as a backup)")
        self.summary = QtWidgets.QLabel()
        self.summary.setWordWrap(True)
        row = QtWidgets.QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.summary, 1)
        row.addWidget(self.restore_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.tree, 1)
        layout.addLayout(row)
        self.tree.itemSelectionChanged.connect(self._update_button)
        self.restore_button.clicked.connect(self._request)
        self._update_button()

    # ------------------------------------------------------------------ data in
    def set_entries(self, entries: Sequence[CheckpointEntry]) -> None:
        """Show these checkpoints (latest first, then backups newest first); keeps the selection."""
        selected = self.selected_path()
        self._entries = list(entries)
        with signals_blocked(self.tree):
            self.tree.clear()
            for e in self._entries:
                item = QtWidgets.QTreeWidgetItem([
                    e.label, str(e.iteration), format_time(e.saved_at), "yes" if e.has_optimizer else "no",
                    format_size(e.size_bytes)])
                item.setData(0, _PATH_ROLE, e.path)
                item.setToolTip(0, f"{e.label}\n{e.path}")
                item.setTextAlignment(1, QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                if e.is_latest:
                    font = item.font(0)
                    font.setBold(True)
                    item.setFont(0, font)
                if not e.has_optimizer:
                    item.setToolTip(3, "a backup: weights (and a GAN's discriminator moments); the model's optimiser restarts its moments")
                self.tree.addTopLevelItem(item)
                if e.path == selected:
                    item.setSelected(True)
                    self.tree.setCurrentItem(item)
        self._update_button()

    def set_restore_allowed(self, allowed: bool, reason: str = "") -> None:
        """Enable restoring (a running job on the model forbids it; ``reason`` says so)."""
        self._allowed, self._reason = allowed, reason
        self._update_button()

    def select_path(self, path: str) -> bool:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, _PATH_ROLE) == path:
                self.tree.setCurrentItem(item)
                return True
        return False

    # ------------------------------------------------------------------ reading back
    def entries(self) -> list[CheckpointEntry]:
        return list(self._entries)

    def selected_path(self) -> str | None:
        items = self.tree.selectedItems()
        return items[0].data(0, _PATH_ROLE) if items else None

    def selected_entry(self) -> CheckpointEntry | None:
        path = self.selected_path()
        return next((e for e in self._entries if e.path == path), None)

    # ------------------------------------------------------------------ internals
    def _update_button(self) -> None:
        entry = self.selected_entry()
        ok = self._allowed and entry is not None and not entry.is_latest
        self.restore_button.setEnabled(ok)
        backups = sum(not e.is_latest for e in self._entries)
        if not self._entries:
            text = "no checkpoints yet"
        elif not self._allowed and self._reason:
            text = self._reason
        else:
            text = f"{backups} backup{'s' if backups != 1 else ''}"
        self.summary.setText(text)

    def _request(self) -> None:
        entry = self.selected_entry()
        if entry is not None and not entry.is_latest and self._allowed:
            self.restore_requested.emit(entry.path)
