"""The face graph's side panel: the coverage score, the gap list and its CSV export."""

from __future__ import annotations

import math

from PySide6 import QtCore, QtWidgets

from engine.curation.coverage import PLANES, Coverage
from widgets.qt_utils import signals_blocked

_NUMERIC = QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter


def _span(r: tuple[float, float]) -> str:
    return f"{r[0]:g}..{r[1]:g}" if all(abs(v - round(v)) < 1e-9 for v in r) else f"{r[0]:.3g}..{r[1]:.3g}"


def score_text(cov: Coverage | None) -> str:
    """The score label's text, e.g. ``pose coverage 34.3%: 80 of 233 dst faces ...``."""
    if cov is None:
        return "coverage: not computed"
    if math.isnan(cov.score):
        return f"{cov.plane} coverage: no dst faces"
    return (f"{cov.plane} coverage {cov.score * 100:.1f}%: {cov.covered_dst:,} of {cov.total_dst:,} dst faces "
            f"in bins with ≥ {cov.min_src} src faces")


class GapList(QtWidgets.QWidget):
    """Score label, a table of gaps (bin, dst, src) and an Export CSV button.

    Signals
    -------
    gap_activated(int) : the user selected the gap in this row (the coverage's gap index).
    export_requested() : the Export CSV button was pressed.
    """

    gap_activated = QtCore.Signal(int)
    export_requested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.score_label = QtWidgets.QLabel(score_text(None))
        self.score_label.setWordWrap(True)
        self.table = QtWidgets.QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["x", "y", "dst", "src"])
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        for col in (0, 1):
            header.setSectionResizeMode(col, QtWidgets.QHeaderView.ResizeMode.Stretch)
        for col in (2, 3):
            header.setSectionResizeMode(col, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.export_button = QtWidgets.QPushButton("Export CSV…")
        self.export_button.setEnabled(False)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.score_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.export_button)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.export_button.clicked.connect(self.export_requested)

    def set_coverage(self, cov: Coverage | None) -> None:
        self.score_label.setText(score_text(cov))
        gaps = cov.gaps if cov is not None else ()
        unit = PLANES[cov.plane].unit if cov is not None else ""
        with signals_blocked(self.table):
            self.table.clearContents()
            self.table.setRowCount(len(gaps))
            if cov is not None:
                self.table.setHorizontalHeaderLabels([f"{cov.axes[0]} {unit}".strip(), f"{cov.axes[1]} {unit}".strip(),
                                                      "dst", "src"])
            for row, gap in enumerate(gaps):
                cells = (_span(gap.x_range), _span(gap.y_range), f"{gap.dst_count:,}", f"{gap.src_count:,}")
                for col, text in enumerate(cells):
                    item = QtWidgets.QTableWidgetItem(text)
                    if col >= 2:
                        item.setTextAlignment(_NUMERIC)
                    self.table.setItem(row, col, item)
        self.export_button.setEnabled(bool(gaps))

    def select_row(self, row: int | None) -> None:
        """Show a gap as selected without reporting it back."""
        with signals_blocked(self.table):
            self.table.clearSelection()
            if row is not None and 0 <= row < self.table.rowCount():
                self.table.selectRow(row)

    def _on_selection(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.gap_activated.emit(rows[0].row())
