"""LossPlot: training curves, raw and smoothed, with event markers and a log-scale toggle.

A pull-style view (STYLE.md): the presenter pushes whole series or appended chunks as
numpy arrays (``set_series`` / ``append``) and the widget redraws each curve with one bulk
``setData``. It never reads the project; the user's view choices come back as signals so
the presenter can persist them.

Smoothing is TensorBoard's *debiased* exponential moving average: the plain EMA starts
at zero and crawls up for the first ``1 / (1 - alpha)`` points, which would draw a loss
that seems to *rise* at the start of every run; dividing by ``1 - alpha**n`` removes
that. It is computed incrementally (the EMA state is kept per series), so appending a
chunk costs only the chunk, whatever the length of the run.

Event markers (a collapse-guard rollback, a resume, a restored checkpoint) are vertical
lines at their iteration with the event's text as tooltip; ``set_events`` replaces them
all at once.

A series' steps only grow. Points whose step is not after the last one *rewind* it: the
points from that step on are dropped and the new ones continue from there. That is what
a rollback or a restored checkpoint does to the model (its own loss history goes back
with it), and it keeps the x values sorted, which clipping to the view relies on; the
event marker at that step says what happened.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.qt_utils import signals_blocked

RGB = tuple[int, int, int]
#: Colours of the series a swap trainer writes; other names cycle through PALETTE.
SERIES_COLOURS: Final[dict[str, RGB]] = {"src_loss": (64, 156, 255), "dst_loss": (255, 150, 60)}
PALETTE: Final[tuple[RGB, ...]] = ((92, 200, 120), (200, 110, 230), (230, 210, 80), (120, 220, 220))
#: Marker colours by event kind (engine.swap.session and engine.swap.restore write these).
EVENT_COLOURS: Final[dict[str, RGB]] = {
    "rollback": (255, 90, 90), "restore": (255, 190, 60), "resume": (150, 150, 160),
    "pretrain": (90, 160, 255), "warning": (230, 210, 80),
}
DEFAULT_SMOOTHING: Final = 0.9


def ema(values: npt.ArrayLike, alpha: float, state: tuple[float, int] = (0.0, 0)
        ) -> tuple[np.ndarray, tuple[float, int]]:
    """Debiased EMA of ``values`` continuing from ``state``; returns (smoothed, new state).

    Non-finite values are skipped (the previous smoothed value repeats), so one NaN in a
    series does not wipe out the rest of its curve. ``alpha = 0`` returns the values.
    """
    last, count = state
    raw = np.asarray(values, dtype=np.float64)
    out = np.empty(len(raw), dtype=np.float64)
    keep = 1.0 - alpha
    for i, v in enumerate(raw.tolist()):  # a Python loop over floats: ~0.1 us a point
        if math.isfinite(v):
            last = last * alpha + keep * v
            count += 1
        out[i] = last / (1.0 - alpha**count) if count else math.nan
    return out, (last, count)


class _Buffer:
    """A growable float64 array (amortised O(1) appends; views are stable)."""

    def __init__(self) -> None:
        self._data = np.empty(0, dtype=np.float64)
        self.size = 0

    def set(self, values: np.ndarray) -> None:
        self._data = np.array(values, dtype=np.float64)
        self.size = len(self._data)

    def truncate(self, n: int) -> None:
        self.size = min(self.size, n)

    def extend(self, values: np.ndarray) -> None:
        n = self.size + len(values)
        if n > len(self._data):
            grown = np.empty(max(n, 2 * len(self._data), 256), dtype=np.float64)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size:n] = values
        self.size = n

    @property
    def view(self) -> np.ndarray:
        return self._data[: self.size]


@dataclass(eq=False)
class _Series:
    label: str
    colour: RGB
    raw_item: pg.PlotDataItem
    smooth_item: pg.PlotDataItem
    steps: _Buffer = field(default_factory=_Buffer)
    values: _Buffer = field(default_factory=_Buffer)
    smoothed: _Buffer = field(default_factory=_Buffer)
    state: tuple[float, int] = (0.0, 0)


class LossPlot(QtWidgets.QWidget):
    """Curves of named series against the iteration.

    Parameters
    ----------
    smoothing : EMA weight of the smoothed curves, 0 (off) to 0.999.
    log_scale : start with a logarithmic y axis (losses fall over decades).

    Signals
    -------
    log_scale_changed(bool) : the user toggled the log scale.
    smoothing_changed(float) : the user changed the smoothing weight.
    raw_visible_changed(bool) : the user showed or hid the raw curves.
    """

    log_scale_changed = QtCore.Signal(bool)
    smoothing_changed = QtCore.Signal(float)
    raw_visible_changed = QtCore.Signal(bool)

    def __init__(self, parent: QtWidgets.QWidget | None = None, *, smoothing: float = DEFAULT_SMOOTHING,
                 log_scale: bool = True, y_label: str = "loss") -> None:
        super().__init__(parent)
        self._series: dict[str, _Series] = {}
        self._alpha = float(smoothing)
        self._raw_visible = True
        self._events: list[pg.InfiniteLine] = []
        self._event_data: tuple[np.ndarray, tuple[str, ...], tuple[str, ...]] = (np.empty(0), (), ())

        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(140)
        item = self.plot.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setLabel("bottom", "iteration")
        item.setLabel("left", y_label)
        item.getAxis("bottom").enableAutoSIPrefix(False)
        # Long runs have 100,000s of points: draw at most a few per pixel, only what is visible.
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        self.legend = item.addLegend(offset=(-8, 8))

        self.log_check = QtWidgets.QCheckBox("&Log scale")
        self.log_check.setToolTip("Logarithmic loss axis: shows progress late in a run, when losses change little")
        self.raw_check = QtWidgets.QCheckBox("Ra&w")
        self.raw_check.setChecked(True)
        self.raw_check.setToolTip("Show the raw values behind the smoothed curves")
        self.smoothing_spin = QtWidgets.QDoubleSpinBox()
        self.smoothing_spin.setRange(0.0, 0.999)
        self.smoothing_spin.setDecimals(3)
        self.smoothing_spin.setSingleStep(0.05)
        self.smoothing_spin.setValue(self._alpha)
        self.smoothing_spin.setToolTip("Weight of the exponential moving average (0: no smoothing, 0.99: very smooth)")
        smoothing_label = QtWidgets.QLabel("&Smoothing")
        smoothing_label.setBuddy(self.smoothing_spin)
        self.reset_button = QtWidgets.QToolButton(text="Fit")
        self.reset_button.setToolTip("Fit the view to all data")
        bar = QtWidgets.QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for w in (self.log_check, self.raw_check, smoothing_label, self.smoothing_spin):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.reset_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.plot, 1)

        self.set_log_scale(log_scale)
        self.log_check.toggled.connect(self._on_log_toggled)
        self.raw_check.toggled.connect(self._on_raw_toggled)
        self.smoothing_spin.valueChanged.connect(self._on_smoothing)
        self.reset_button.clicked.connect(self.fit)

    # ------------------------------------------------------------------ data in
    def set_series(self, name: str, steps: npt.ArrayLike, values: npt.ArrayLike, *, label: str | None = None,
                   colour: RGB | None = None) -> None:
        """Replace a series' points (creating it, with ``label`` in the legend)."""
        s, v = self._checked(steps, values)
        series = self._ensure(name, label, colour)
        if len(s) < 2 or bool(np.all(np.diff(s) > 0)):  # the usual case: one bulk pass
            series.steps.set(s)
            series.values.set(v)
            smoothed, series.state = ema(v, self._alpha)
            series.smoothed.set(smoothed)
        else:
            for buffer in (series.steps, series.values, series.smoothed):
                buffer.set(np.empty(0))
            series.state = (0.0, 0)
            self._extend(series, s, v)
        self._redraw(series)

    def append(self, name: str, steps: npt.ArrayLike, values: npt.ArrayLike) -> None:
        """Add points at the end of a series (creating it when new); a step that is not
        after the last one rewinds the series to it (see the module docstring)."""
        s, v = self._checked(steps, values)
        if not len(s):
            return
        series = self._ensure(name, None, None)
        self._extend(series, s, v)
        self._redraw(series)

    def _extend(self, series: _Series, s: np.ndarray, v: np.ndarray) -> None:
        cuts = [0, *(np.flatnonzero(np.diff(s) <= 0) + 1).tolist(), len(s)]
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            have = series.steps.view
            if have.size and s[a] <= have[-1]:
                keep = int(np.searchsorted(have, s[a], side="left"))
                for buffer in (series.steps, series.values, series.smoothed):
                    buffer.truncate(keep)
                series.state = ema(series.values.view, self._alpha)[1]
            series.steps.extend(s[a:b])
            series.values.extend(v[a:b])
            smoothed, series.state = ema(v[a:b], self._alpha, series.state)
            series.smoothed.extend(smoothed)

    def clear(self) -> None:
        """Remove every series and event marker."""
        for series in self._series.values():
            self.plot.removeItem(series.raw_item)
            self.plot.removeItem(series.smooth_item)
        self._series.clear()
        self.legend.clear()
        self.set_events([], [])

    def set_events(self, steps: Sequence[int] | npt.ArrayLike, texts: Sequence[str],
                   kinds: Sequence[str] | None = None) -> None:
        """Replace the event markers: one vertical line per step, its text as tooltip."""
        at = np.asarray(steps, dtype=np.float64).reshape(-1)
        if len(at) != len(texts) or (kinds is not None and len(kinds) != len(texts)):
            raise ValueError("steps, texts and kinds must have the same length")
        kinds_t = tuple(kinds) if kinds is not None else ("",) * len(texts)
        for line in self._events:
            self.plot.removeItem(line)
        self._events = []
        for x, text, kind in zip(at.tolist(), texts, kinds_t, strict=True):
            colour = EVENT_COLOURS.get(kind, (200, 200, 200))
            line = pg.InfiniteLine(pos=x, angle=90, movable=False,
                                   pen=pg.mkPen(colour, width=1.5, style=QtCore.Qt.PenStyle.DashLine),
                                   label=kind or None, labelOpts={"position": 0.92, "color": colour})
            line.setToolTip(f"iteration {int(x)}: {text}" if kind == "" else f"iteration {int(x)} · {kind}: {text}")
            line.setZValue(-5)
            self.plot.addItem(line, ignoreBounds=True)
            self._events.append(line)
        self._event_data = (at, tuple(texts), kinds_t)

    # ------------------------------------------------------------------ view settings
    def set_log_scale(self, on: bool) -> None:
        with signals_blocked(self.log_check):
            self.log_check.setChecked(on)
        self.plot.setLogMode(x=False, y=on)

    def log_scale(self) -> bool:
        return self.log_check.isChecked()

    def set_smoothing(self, alpha: float) -> None:
        """EMA weight in [0, 0.999]; every series is re-smoothed."""
        alpha = min(max(float(alpha), 0.0), 0.999)
        with signals_blocked(self.smoothing_spin):
            self.smoothing_spin.setValue(alpha)
        self._alpha = self.smoothing_spin.value()
        for series in self._series.values():
            smoothed, series.state = ema(series.values.view, self._alpha)
            series.smoothed.set(smoothed)
            self._redraw(series)

    def smoothing(self) -> float:
        return self._alpha

    def set_raw_visible(self, on: bool) -> None:
        with signals_blocked(self.raw_check):
            self.raw_check.setChecked(on)
        self._raw_visible = on
        for series in self._series.values():
            series.raw_item.setVisible(on)

    def raw_visible(self) -> bool:
        return self._raw_visible

    def fit(self) -> None:
        self.plot.getPlotItem().enableAutoRange()

    # ------------------------------------------------------------------ reading back
    def series_names(self) -> list[str]:
        return list(self._series)

    def point_count(self, name: str) -> int:
        series = self._series.get(name)
        return 0 if series is None else series.steps.size

    def data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, raw values) of a series (copies)."""
        series = self._series[name]
        return series.steps.view.copy(), series.values.view.copy()

    def smoothed_data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        series = self._series[name]
        return series.steps.view.copy(), series.smoothed.view.copy()

    def events(self) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
        """(steps, texts, kinds) of the markers shown."""
        return self._event_data

    def event_lines(self) -> list[pg.InfiniteLine]:
        return list(self._events)

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _checked(steps: npt.ArrayLike, values: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        s = np.asarray(steps, dtype=np.float64).reshape(-1)
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if len(s) != len(v):
            raise ValueError(f"steps ({len(s)}) and values ({len(v)}) differ in length")
        return s, v

    def _ensure(self, name: str, label: str | None, colour: RGB | None) -> _Series:
        series = self._series.get(name)
        if series is not None:
            return series
        rgb = colour or SERIES_COLOURS.get(name) or PALETTE[len(self._series) % len(PALETTE)]
        text = label or name.replace("_", " ")
        raw = pg.PlotDataItem(pen=pg.mkPen((*rgb, 70), width=1), connect="finite")
        raw.setVisible(self._raw_visible)
        smooth = pg.PlotDataItem(pen=pg.mkPen(rgb, width=2), name=text, connect="finite")
        self.plot.addItem(raw)
        self.plot.addItem(smooth)
        series = _Series(text, rgb, raw, smooth)
        self._series[name] = series
        return series

    def _redraw(self, series: _Series) -> None:
        steps = series.steps.view
        series.raw_item.setData(steps, series.values.view)
        series.smooth_item.setData(steps, series.smoothed.view)

    def _on_log_toggled(self, on: bool) -> None:
        self.plot.setLogMode(x=False, y=on)
        self.log_scale_changed.emit(on)

    def _on_raw_toggled(self, on: bool) -> None:
        self.set_raw_visible(on)
        self.raw_visible_changed.emit(on)

    def _on_smoothing(self, value: float) -> None:
        self.set_smoothing(value)
        self.smoothing_changed.emit(self._alpha)
