"""Plots of training and analysis data (pyqtgraph inside, plain numpy in)."""

from widgets.plots.loss_plot import LossPlot, ema

__all__ = ["LossPlot", "ema"]
