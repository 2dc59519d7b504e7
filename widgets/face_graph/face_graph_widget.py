"""FaceGraphWidget: src and dst faces on a yaw × pitch (or expression) plane, with coverage.

A pull-style view (STYLE.md): the presenter pushes plain data in — :class:`GraphPoints`
and one :class:`~engine.curation.coverage.Coverage` per plane — and the widget reports
what the user picked as face ids. It never reads the project.

- One :class:`FaceScatterItem` holds every point, built with ``data=face_ids``; positions
  and brushes are set in bulk.
- Click a point: that face is selected. Ctrl or Shift adds/removes it.
- Drag in rectangle mode (or Shift+drag in pan mode) or in lasso mode: the faces inside
  are selected (Ctrl adds to the selection).
- Click inside an outlined gap (away from points) or a row of the gap list: the gap's dst
  faces and the src faces nearest to it are selected, and ``gap_selected`` reports it.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from engine.curation.coverage import PLANES, Coverage, Gap, gaps_to_csv
from widgets.face_graph.coverage_layer import CoverageLayer
from widgets.face_graph.gap_list import GapList
from widgets.face_graph.legend import GraphLegend
from widgets.face_graph.model import (
    AXES,
    COLOUR_BY,
    RGBA,
    ROLE_COLOURS,
    ROLE_NAMES,
    GraphPoints,
    colour_codes,
    nearest_point,
    points_in_polygon,
    simplify_path,
)
from widgets.face_graph.plot_items import MODES, FaceScatterItem, SelectionViewBox
from widgets.qt_utils import FlowLayout, signals_blocked

POINT_SIZE = 5
HIT_RADIUS_PX = 5.0
_AXIS_LABELS = {
    "pose": ("Pose: yaw × pitch", "yaw (°)", "pitch (°)"),
    "expression": ("Expression: mouth × eyes", "mouth open", "eyes open"),
    "smile": ("Smile: mouth × smile", "mouth open", "smile"),
}
_ADD = QtCore.Qt.KeyboardModifier.ControlModifier | QtCore.Qt.KeyboardModifier.ShiftModifier


def _swatch(rgba: RGBA) -> str:
    r, g, b, _a = rgba
    return f"<span style='color: rgb({r},{g},{b})'>■</span>&nbsp;"


class FaceGraphWidget(QtWidgets.QWidget):
    """Scatter of faces by pose or expression with a coverage layer and a gap list.

    Signals
    -------
    selection_changed(np.ndarray) : face ids the user selected (int64, ascending).
    gap_selected(Gap) : the user selected a gap (after ``selection_changed``).
    export_gaps_requested() : the user asked to save the gap list (see :meth:`gaps_csv`).
    axes_changed(str) : the user switched the view (``"pose"``, ``"expression"``, ``"smile"``).
    """

    selection_changed = QtCore.Signal(object)
    gap_selected = QtCore.Signal(object)
    export_gaps_requested = QtCore.Signal()
    axes_changed = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._points = GraphPoints.empty()
        self._axes = "pose"
        self._colour_by = "role"
        self._coverages: dict[str, Coverage] = {}
        self._rows = np.empty(0, np.int64)  # rows of _points drawn (known position)
        self._x = np.empty(0)
        self._y = np.empty(0)
        self._selected = np.empty(0, np.int64)
        self._nearest_src: int | None = None
        self._brushes: dict[RGBA, QtGui.QBrush] = {}
        self._legend: list[tuple[str, RGBA]] = []

        self.view_box = SelectionViewBox()
        self.plot = pg.PlotWidget(viewBox=self.view_box)
        # No axis grid: pyqtgraph draws it across the whole view on every paint (about
        # 13 ms of a 30 ms repaint); the coverage bins already give the eye a grid.
        for side in ("left", "bottom"):
            self.plot.getAxis(side).enableAutoSIPrefix(False)  # no "(x0.001)" on expression axes
        self.coverage_layer = CoverageLayer(self.view_box)
        self.scatter = FaceScatterItem(size=POINT_SIZE, pen=pg.mkPen(None))
        self.highlight = FaceScatterItem(size=POINT_SIZE + 5, pen=pg.mkPen((255, 255, 255, 235), width=1.5))
        self.highlight.setZValue(20)
        self.view_box.addItem(self.scatter)
        self.view_box.addItem(self.highlight, ignoreBounds=True)
        self.gap_list = GapList()

        self.axes_combo = QtWidgets.QComboBox()
        for name in AXES:
            self.axes_combo.addItem(_AXIS_LABELS[name][0], name)
        self.colour_combo = QtWidgets.QComboBox()
        for name in COLOUR_BY:
            self.colour_combo.addItem(f"Colour: {name}", name)
        self.mode_buttons: dict[str, QtWidgets.QToolButton] = {}
        group = QtWidgets.QButtonGroup(self)
        for mode, text, tip in (("pan", "Pan", "drag pans, wheel zooms; Shift+drag selects a rectangle"),
                                ("rect", "Rectangle", "drag selects a rectangle; Ctrl adds"),
                                ("lasso", "Lasso", "drag selects a freehand region; Ctrl adds")):
            button = QtWidgets.QToolButton(text=text, checkable=True, toolTip=tip)
            group.addButton(button)
            self.mode_buttons[mode] = button
        self.mode_buttons["pan"].setChecked(True)
        self.counts_label = QtWidgets.QLabel()
        # The colour key lives in the plot's legend overlay; this keeps a one-line copy.
        self.legend_label = QtWidgets.QLabel()
        self.legend = GraphLegend(self.plot)

        bar = FlowLayout()
        bar.addWidget(self.axes_combo)
        bar.addWidget(self.colour_combo)
        for button in self.mode_buttons.values():
            bar.addWidget(button)
        bar.addWidget(self.counts_label)
        splitter = self.splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self.plot)
        splitter.addWidget(self.gap_list)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([900, 280])
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)

        self.axes_combo.currentIndexChanged.connect(self._on_axes_combo)
        self.colour_combo.currentIndexChanged.connect(
            lambda _i: self.set_colour_by(self.colour_combo.currentData()))
        for mode, button in self.mode_buttons.items():
            button.toggled.connect(lambda on, m=mode: on and self.set_mode(m))
        self.view_box.sigPointClicked.connect(self._on_click)
        self.view_box.sigRegionDrawn.connect(self._on_region)
        self.gap_list.gap_activated.connect(self._on_gap_row)
        self.gap_list.export_requested.connect(self.export_gaps_requested)
        self._apply_axes()

    # ------------------------------------------------------------------ data in
    def set_points(self, points: GraphPoints) -> None:
        """Show these faces (replacing all); a selection keeps the ids still present."""
        self._points = points
        self._rebuild_points()
        self._selected = self._selected[np.isin(self._selected, points.ids)]
        self._update_highlight()
        self.fit_view()

    def set_coverage(self, coverage: Coverage | None, *, plane: str | None = None) -> None:
        """Coverage for the plane ``coverage.plane`` (None clears ``plane``, default: the current)."""
        name = coverage.plane if coverage is not None else (plane or self._axes)
        if coverage is None:
            self._coverages.pop(name, None)
        else:
            self._coverages[name] = coverage
        if name == self._axes:
            self._show_coverage()

    def set_colour_by(self, colour_by: str) -> None:
        """Colour points by ``"role"``, ``"person"``, ``"sharpness"`` or ``"clip"``."""
        if colour_by not in COLOUR_BY:
            raise ValueError(f"colour_by must be one of {COLOUR_BY}, got {colour_by!r}")
        self._colour_by = colour_by
        with signals_blocked(self.colour_combo):
            self.colour_combo.setCurrentIndex(COLOUR_BY.index(colour_by))
        codes, brushes = self._colours()
        self.scatter.setBrushCodes(codes, brushes)
        self._update_labels()

    def set_axes(self, axes: str) -> None:
        """Plot ``"pose"`` (yaw × pitch), ``"expression"`` (mouth × eyes) or ``"smile"``."""
        if axes not in AXES:
            raise ValueError(f"axes must be one of {AXES}, got {axes!r}")
        self._axes = axes
        with signals_blocked(self.axes_combo):
            self.axes_combo.setCurrentIndex(AXES.index(axes))
        self._apply_axes()

    def set_mode(self, mode: str) -> None:
        """What a left drag does: ``"pan"``, ``"rect"`` (rectangle selection) or ``"lasso"``."""
        self.view_box.setMode(mode)
        button = self.mode_buttons[mode]
        if not button.isChecked():
            with signals_blocked(button):
                button.setChecked(True)

    def set_nearest_src_count(self, k: int | None) -> None:
        """How many nearest src faces a gap selection adds (None: the coverage's ``min_src``)."""
        self._nearest_src = k

    def select_faces(self, ids: np.ndarray | list[int]) -> None:
        """Highlight these faces (e.g. chosen in the face grid); no ``selection_changed`` echo."""
        with signals_blocked(self):
            self._selected = np.unique(np.asarray(ids, dtype=np.int64))
            self.coverage_layer.highlight_gap(None)
            self.gap_list.select_row(None)
            self._update_highlight()

    # ------------------------------------------------------------------ queries
    def selected_ids(self) -> np.ndarray:
        return self._selected.copy()

    def axes(self) -> str:
        return self._axes

    def colour_by(self) -> str:
        return self._colour_by

    def coverage(self) -> Coverage | None:
        """The coverage shown (of the current plane), if the presenter set one."""
        return self._coverages.get(self._axes)

    def shown_ids(self) -> np.ndarray:
        """Ids of the points drawn, in draw order (faces with an unknown position are not)."""
        return self.scatter.faceIds()

    def shown_role_counts(self) -> dict[str, int]:
        return self._points.role_counts(self._rows)

    def gaps_csv(self) -> str:
        """The shown gap list as CSV (what Export CSV saves)."""
        cov = self.coverage()
        return gaps_to_csv(cov) if cov is not None else gaps_to_csv([])

    def fit_view(self) -> None:
        """Zoom to the drawn faces (the plane's range when there are none)."""
        spec = PLANES[self._axes]
        (xlo, xhi), (ylo, yhi) = spec.ranges
        bx, by = spec.bin_size
        if len(self._x):
            xlo, xhi = max(xlo, self._x.min()) - bx / 2, min(xhi, self._x.max()) + bx / 2
            ylo, yhi = max(ylo, self._y.min()) - by / 2, min(yhi, self._y.max()) + by / 2
        self.view_box.setRange(xRange=(xlo, xhi), yRange=(ylo, yhi), padding=0.02)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt override
        """Gap list beside the plot when the graph is wide, under it when it is narrow (a side dock)."""
        super().resizeEvent(event)
        wide = event.size().width() >= 720
        want = QtCore.Qt.Orientation.Horizontal if wide else QtCore.Qt.Orientation.Vertical
        if self.splitter.orientation() != want:
            self.splitter.setOrientation(want)
            total = event.size().width() if wide else event.size().height()
            side = 280 if wide else max(total // 3, 140)
            self.splitter.setSizes([max(total - side, 1), side])

    # ------------------------------------------------------------------ internals
    def _brush(self, rgba: RGBA) -> QtGui.QBrush:
        # The same QBrush object for the same colour keeps pyqtgraph's symbol atlas small.
        brush = self._brushes.get(rgba)
        if brush is None:
            brush = self._brushes[rgba] = QtGui.QBrush(QtGui.QColor(*rgba))
        return brush

    def _colours(self) -> tuple[np.ndarray, list[QtGui.QBrush]]:
        codes, palette, self._legend = colour_codes(self._points, self._colour_by)
        return codes[self._rows], [self._brush(c) for c in palette]

    def _rebuild_points(self) -> None:
        x, y = self._points.xy(self._axes)
        rows = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
        self._rows, self._x, self._y = rows, x[rows], y[rows]
        codes, brushes = self._colours()
        self.scatter.setFaces(self._x, self._y, self._points.ids[rows], codes, brushes)
        self._update_labels()

    def _apply_axes(self) -> None:
        _title, xlabel, ylabel = _AXIS_LABELS[self._axes]
        self.plot.setLabel("bottom", xlabel)
        self.plot.setLabel("left", ylabel)
        self._rebuild_points()
        self._update_highlight()
        self._show_coverage()
        self.fit_view()

    def _show_coverage(self) -> None:
        cov = self.coverage()
        self.coverage_layer.set_coverage(cov)
        self.gap_list.set_coverage(cov)
        self.legend.set_entries(f"points: {self._colour_by}", self._legend, cov is not None)

    def _update_highlight(self) -> None:
        ids = self._points.ids[self._rows]
        mask = np.isin(ids, self._selected)
        clear = self._brush((0, 0, 0, 0))
        self.highlight.setFaces(self._x[mask], self._y[mask], ids[mask], np.zeros(int(mask.sum()), np.int64), [clear])
        self.highlight.setVisible(bool(mask.any()))

    def _update_labels(self) -> None:
        counts = self.shown_role_counts()
        role_mode = self._colour_by == "role"
        self.counts_label.setText(" · ".join(
            (_swatch(colour) if role_mode else "") + f"{name} {counts[name]:,}"
            for name, colour in zip(ROLE_NAMES, ROLE_COLOURS)
        ))
        legend = [] if role_mode else self._legend
        parts = [_swatch(colour) + label for label, colour in legend[:8]] + (["…"] if len(legend) > 8 else [])
        self.legend_label.setText(f"{self._colour_by}: " + " ".join(parts) if parts else "")
        self.legend.set_entries(f"points: {self._colour_by}", self._legend, self.coverage() is not None)

    def _set_selection(self, ids: np.ndarray, gap: Gap | None = None) -> None:
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        changed = not np.array_equal(ids, self._selected)
        self._selected = ids
        self.coverage_layer.highlight_gap(gap)
        cov = self.coverage()
        self.gap_list.select_row(cov.gaps.index(gap) if gap is not None and cov is not None else None)
        self._update_highlight()
        if changed or gap is not None:
            self.selection_changed.emit(ids.copy())
        if gap is not None:
            self.gap_selected.emit(gap)

    def select_gap(self, gap: Gap) -> None:
        """Select a gap as if the user clicked it: its dst faces and the nearest src faces."""
        cov = self.coverage()
        if cov is None or gap not in cov.gaps:
            raise ValueError("the gap is not one of the shown coverage's gaps")
        self._set_selection(cov.gap_face_ids(gap, self._nearest_src), gap)

    def _on_gap_row(self, row: int) -> None:
        cov = self.coverage()
        if cov is not None and 0 <= row < len(cov.gaps):
            self.select_gap(cov.gaps[row])

    def _on_axes_combo(self, _index: int) -> None:
        self.set_axes(self.axes_combo.currentData())
        self.axes_changed.emit(self._axes)

    def _on_click(self, pos: QtCore.QPointF, modifiers: QtCore.Qt.KeyboardModifier) -> None:
        px, py = self.view_box.viewPixelSize()
        row = nearest_point(self._x, self._y, (pos.x(), pos.y()), (px, py), HIT_RADIUS_PX)
        add = bool(modifiers & _ADD)
        if row is not None:
            fid = np.array([self._points.ids[self._rows[row]]], dtype=np.int64)
            if add:
                fid = np.setxor1d(self._selected, fid)
            self._set_selection(fid)
            return
        cov = self.coverage()
        gap = cov.gap_at(pos.x(), pos.y()) if cov is not None else None
        if gap is not None:
            self.select_gap(gap)
        elif not add:
            self._set_selection(np.empty(0, np.int64))

    def _on_region(self, polygon: np.ndarray, modifiers: QtCore.Qt.KeyboardModifier) -> None:
        inside = points_in_polygon(self._x, self._y, simplify_path(polygon))
        ids = self._points.ids[self._rows[inside]]
        if modifiers & QtCore.Qt.KeyboardModifier.ControlModifier:
            ids = np.union1d(self._selected, ids)
        self._set_selection(ids)


__all__ = ["MODES", "FaceGraphWidget", "GraphPoints"]
