"""Plain values the training monitor shows, and how they read (no Qt here).

The presenter builds these from the project (job row, metrics, checkpoint folders); the
widget only formats them. Keeping them Qt-free lets the presenter's logic (ETA, what a
state allows) be tested without a widget.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Final

#: Job states in which the user may ask for each action (engine.jobs.queue's rules).
CAN_PAUSE: Final = frozenset({"queued", "running"})
CAN_RESUME: Final = frozenset({"paused"})
CAN_STOP: Final = frozenset({"queued", "running", "paused"})


@dataclass(frozen=True)
class TrainingStats:
    """What the monitor's header shows about the followed training job.

    Attributes
    ----------
    state : the job's state (``queued``, ``running``, ``paused``, ``done``, ...); "" when
        no job is followed.
    status_text : the job's one-line status.
    iteration, target : the model's iteration and the job's target (0: no target).
    ms_per_iter, samples_per_s, lr : the latest values (NaN: not reported yet).
    eta_s : seconds to the target at the current speed (NaN: unknown or no target).
    model : a short description of the model trained.
    """

    state: str = ""
    status_text: str = ""
    iteration: int = 0
    target: int = 0
    ms_per_iter: float = math.nan
    samples_per_s: float = math.nan
    eta_s: float = math.nan
    lr: float = math.nan
    model: str = ""


@dataclass(frozen=True)
class CheckpointEntry:
    """One checkpoint of a model, as listed for "restore this one".

    Attributes
    ----------
    path : the checkpoint folder (what ``restore_requested`` sends).
    label : ``latest`` or the backup's name.
    iteration : the model's iteration in it.
    saved_at : Unix time it was written.
    is_latest : it is the model's current checkpoint (restoring it changes nothing).
    has_optimizer : it holds the optimiser state (backups keep weights and the discriminators' state only).
    size_bytes : its files together.
    """

    path: str
    label: str
    iteration: int
    saved_at: float
    is_latest: bool = False
    has_optimizer: bool = True
    size_bytes: int = 0


def eta_seconds(iteration: int, target: int, ms_per_iter: float) -> float:
    """Seconds until ``target`` at ``ms_per_iter``; NaN without a target or a speed."""
    if target <= 0 or not math.isfinite(ms_per_iter) or ms_per_iter <= 0:
        return math.nan
    return max(target - iteration, 0) * ms_per_iter / 1000.0


def format_duration(seconds: float) -> str:
    """``"42 s"``, ``"3 min 05 s"``, ``"2 h 07 min"``, ``"3 d 4 h"``; "–" when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def format_number(value: float, fmt: str = ".1f") -> str:
    return format(value, fmt) if math.isfinite(value) else "–"


def format_time(t: float, now: float | None = None) -> str:
    """A checkpoint's time: clock time today, else date and time."""
    if not math.isfinite(t) or t <= 0:
        return "–"
    local = time.localtime(t)
    today = time.localtime(now if now is not None else time.time())
    if local[:3] == today[:3]:
        return time.strftime("%H:%M:%S", local)
    return time.strftime("%Y-%m-%d %H:%M", local)


def format_size(n: int) -> str:
    if n <= 0:
        return "–"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"
