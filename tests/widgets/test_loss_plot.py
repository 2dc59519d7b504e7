"""LossPlot: bulk data in, smoothing, log scale, event markers, signals out; its demo."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from widgets.plots import LossPlot, ema

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]


def reference_ema(values: list[float], alpha: float) -> list[float]:
    """TensorBoard's debiased EMA, written plainly."""
    out, last, n = [], 0.0, 0
    for v in values:
        if math.isfinite(v):
            last = alpha * last + (1 - alpha) * v
            n += 1
        out.append(last / (1 - alpha**n) if n else math.nan)
    return out


def test_ema_is_debiased_incremental_and_skips_nan() -> None:
    flat, _ = ema(np.full(50, 0.25), 0.9)
    assert np.allclose(flat, 0.25)  # no slow rise from zero at the start of a run
    values = np.random.default_rng(0).random(300)
    values[[10, 200]] = np.nan
    whole, state = ema(values, 0.95)
    assert np.allclose(whole, reference_ema(values.tolist(), 0.95), equal_nan=True)
    first, s1 = ema(values[:120], 0.95)
    rest, s2 = ema(values[120:], 0.95, s1)
    assert np.allclose(np.concatenate([first, rest]), whole) and s2 == state
    assert np.array_equal(ema(values, 0.0)[0][~np.isnan(values)], values[~np.isnan(values)])
    assert math.isnan(ema([math.nan], 0.9)[0][0])


def test_set_series_and_append_keep_raw_and_smoothed_data(qtbot) -> None:
    plot = LossPlot(smoothing=0.8)
    qtbot.addWidget(plot)
    steps = np.arange(10, 510, 10)
    values = np.linspace(1.0, 0.1, 50)
    plot.set_series("src_loss", steps, values, label="src loss")
    assert plot.series_names() == ["src_loss"] and plot.point_count("src_loss") == 50
    plot.append("src_loss", [510, 520], [0.09, 0.08])
    plot.append("dst_loss", [10, 20, 30], [0.9, 0.8, 0.7])  # a new series by appending
    plot.append("dst_loss", [], [])
    s, v = plot.data("src_loss")
    assert s[-1] == 520 and v[-1] == pytest.approx(0.08) and len(s) == 52
    _, smoothed = plot.smoothed_data("src_loss")
    assert np.allclose(smoothed, reference_ema(v.tolist(), 0.8))
    assert plot.point_count("dst_loss") == 3
    # Each curve holds the whole series (one bulk setData per update).
    series = plot._series["src_loss"]
    x, y = series.raw_item.xData, series.raw_item.yData
    assert len(x) == 52 and np.allclose(y, v)
    assert len(series.smooth_item.yData) == 52
    legend = [label.text for _sample, label in plot.legend.items]
    assert legend == ["src loss", "dst loss"]  # raw curves stay out of the legend
    with pytest.raises(ValueError, match="differ in length"):
        plot.append("src_loss", [1, 2], [1.0])


def test_a_repeated_step_rewinds_the_series_like_a_rollback(qtbot) -> None:
    plot = LossPlot(smoothing=0.5)
    qtbot.addWidget(plot)
    plot.set_series("src_loss", [10, 20, 30, 40], [1.0, 0.9, 0.8, 0.7])
    plot.append("src_loss", [50, 30, 40], [0.6, 0.75, 0.65])  # rolled back to the checkpoint at 20
    s, v = plot.data("src_loss")
    assert s.tolist() == [10, 20, 30, 40] and v.tolist() == [1.0, 0.9, 0.75, 0.65]
    assert np.allclose(plot.smoothed_data("src_loss")[1], reference_ema(v.tolist(), 0.5))
    plot.append("src_loss", [45], [0.6])
    assert np.allclose(plot.smoothed_data("src_loss")[1], reference_ema([1.0, 0.9, 0.75, 0.65, 0.6], 0.5))
    plot.set_series("dst_loss", [10, 20, 10, 20, 30], [5.0, 4.0, 3.0, 2.0, 1.0])  # a whole history at once
    assert plot.data("dst_loss")[0].tolist() == [10, 20, 30] and plot.data("dst_loss")[1].tolist() == [3, 2, 1]
    assert np.all(np.diff(plot._series["src_loss"].raw_item.xData) > 0)


def test_many_appends_stay_cheap(qtbot) -> None:
    plot = LossPlot()
    qtbot.addWidget(plot)
    for i in range(2000):
        plot.append("src_loss", [i * 10], [1.0 / (i + 1)])
    assert plot.point_count("src_loss") == 2000
    assert plot._series["src_loss"].steps._data.size < 8192  # grown geometrically, not per point


def test_log_scale_smoothing_and_raw_toggles_round_trip(qtbot) -> None:
    plot = LossPlot(log_scale=False)
    qtbot.addWidget(plot)
    plot.set_series("src_loss", [1, 2, 3], [1.0, 0.5, 0.25])
    axis = plot.plot.getPlotItem().getAxis("left")
    assert not plot.log_scale() and not axis.logMode
    with qtbot.waitSignal(plot.log_scale_changed) as sig:
        plot.log_check.click()
    assert sig.args == [True] and plot.log_scale() and axis.logMode
    with qtbot.assertNotEmitted(plot.log_scale_changed):
        plot.set_log_scale(False)  # model -> widget: no echo
    assert not axis.logMode
    with qtbot.waitSignal(plot.smoothing_changed) as sig:
        plot.smoothing_spin.setValue(0.0)
    assert sig.args == [0.0]
    assert np.allclose(plot.smoothed_data("src_loss")[1], [1.0, 0.5, 0.25])  # re-smoothed at once
    plot.set_smoothing(2.0)
    assert plot.smoothing() == pytest.approx(0.999)
    with qtbot.waitSignal(plot.raw_visible_changed) as sig:
        plot.raw_check.click()
    assert sig.args == [False] and not plot._series["src_loss"].raw_item.isVisible()
    plot.append("dst_loss", [1], [1.0])
    assert not plot._series["dst_loss"].raw_item.isVisible()  # new series follow the setting


def test_events_are_vertical_markers_with_tooltips(qtbot) -> None:
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.set_series("src_loss", np.arange(100), np.linspace(1, 0.1, 100))
    plot.set_events([40, 70], ["loss NaN; rolled back to iteration 30", "resumed"], ["rollback", "resume"])
    lines = plot.event_lines()
    assert [line.value() for line in lines] == [40, 70] and all(line.angle == 90 for line in lines)
    assert "rollback" in lines[0].toolTip() and "rolled back to iteration 30" in lines[0].toolTip()
    steps, texts, kinds = plot.events()
    assert list(steps) == [40, 70] and kinds == ("rollback", "resume")
    plot.set_events([55], ["restored"], ["restore"])  # replaces, never accumulates
    assert len(plot.event_lines()) == 1
    items = plot.plot.getPlotItem().items
    assert sum(1 for it in items if it in lines) == 0
    with pytest.raises(ValueError):
        plot.set_events([1, 2], ["one"])
    plot.clear()
    assert plot.series_names() == [] and plot.event_lines() == [] and plot.point_count("src_loss") == 0


def test_demo_runs_for_a_second() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-m", "widgets.plots", "--seconds", "1"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "loss plot: 40,000 points set" in r.stdout and "appended up to" in r.stdout
    assert "Traceback" not in r.stderr
