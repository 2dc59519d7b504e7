"""The face graph's legend: what the point colours and the coverage shading mean.

A small translucent panel in the plot's top-right corner (an overlay child of the plot
widget, so it never takes room from the toolbar or the gap list). It lists the point
colours of the current "Colour:" choice and, while a coverage grid is shown, the bin
colours and the gap outline, in the words of GLOSSARY (covered, thin, gap, src only).
Clicking it hides it (and clicking the ◂ tab brings it back), so it never hides points
for long.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from widgets.face_graph.model import RGBA

#: The coverage layer's colours (coverage_layer.py), as legend rows.
COVERAGE_ROWS: tuple[tuple[str, RGBA, str], ...] = (
    ("covered: enough src faces", (26, 152, 80, 255), "bin"),
    ("thin: a few src faces", (253, 174, 97, 255), "bin"),
    ("gap: dst faces, no src", (215, 48, 39, 255), "bin"),
    ("src only: nobody needs them", (90, 140, 220, 255), "bin"),
    ("gap outline (listed right)", (230, 40, 40, 255), "outline"),
)


def _swatch(rgba: RGBA, kind: str = "point") -> str:
    r, g, b, _a = rgba
    char = {"point": "●", "bin": "■", "outline": "□"}[kind]
    return f"<span style='color: rgb({r},{g},{b})'>{char}</span>"


class GraphLegend(QtWidgets.QLabel):
    """The legend overlay; :meth:`set_entries` refreshes it, ``toggled`` when clicked away."""

    def __init__(self, plot: QtWidgets.QWidget) -> None:
        super().__init__(plot)
        self.setObjectName("face_graph_legend")
        self.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.setStyleSheet("QLabel#face_graph_legend { background: rgba(20, 20, 24, 200); color: #ddd;"
                           " border: 1px solid #555; border-radius: 3px; padding: 4px 6px; }")
        self.setToolTip("What the colours mean. Click to hide the legend; click the ◂ tab to show it again.")
        self.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)
        self.reopen = QtWidgets.QToolButton(plot)
        self.reopen.setText("◂ Legend")
        self.reopen.setToolTip("Show the legend")
        self.reopen.setAutoRaise(True)
        self.reopen.hide()
        self.reopen.clicked.connect(self._show_again)
        self.entries: list[str] = []
        plot.installEventFilter(self)

    def set_entries(self, title: str, points: list[tuple[str, RGBA]], coverage: bool) -> None:
        rows = [f"<b>{title}</b>"] + [f"{_swatch(c)}&nbsp;{label}" for label, c in points[:8]]
        if len(points) > 8:
            rows.append(f"… {len(points) - 8} more")
        if coverage:
            rows.append("<b>coverage bins</b> (darker: more dst faces)")
            rows += [f"{_swatch(c, kind)}&nbsp;{label}" for label, c, kind in COVERAGE_ROWS]
        self.entries = [label for label, _c in points] + ([label for label, _c, _k in COVERAGE_ROWS] if coverage else [])
        self.setText("<br>".join(rows))
        self.adjustSize()
        self._place()

    def mousePressEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self.hide()
        self.reopen.show()
        self._place()

    def _show_again(self) -> None:
        self.reopen.hide()
        self.show()
        self._place()

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QtCore.QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        margin = 8
        self.move(max(parent.width() - self.width() - margin, 0), margin)
        self.reopen.adjustSize()
        self.reopen.move(max(parent.width() - self.reopen.width() - margin, 0), margin)
        self.raise_()
