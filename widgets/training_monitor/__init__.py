"""The training monitor: a job's stats, preview history, loss curves and checkpoints."""

from widgets.training_monitor.checkpoint_list import CheckpointList
from widgets.training_monitor.model import CheckpointEntry, TrainingStats, eta_seconds, format_duration
from widgets.training_monitor.preview_panel import PreviewPanel
from widgets.training_monitor.training_monitor import TrainingMonitor

__all__ = ["CheckpointEntry", "CheckpointList", "PreviewPanel", "TrainingMonitor", "TrainingStats", "eta_seconds",
           "format_duration"]
