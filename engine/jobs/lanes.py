"""Lanes: which jobs may run side by side on this machine.

Every job kind declares the resource it needs (``JobKind.resource``): ``gpu:N`` (N
GPUs: training, XSeg, render), ``cpu`` (compute on the processor: extraction) or ``io``
(light work: probing clips, imports). From that and the machine the engine derives the
*lane* a queued job runs in:

- ``gpu:0``, ``gpu:1``, ... one job per GPU (a ``gpu:2`` job holds ``gpu:0,1``);
- ``compute`` on a machine without a GPU: the one slot the GPU kinds share there, beside
  the CPU jobs rather than instead of them;
- ``cpu``: at most :func:`cpu_job_cap` CPU jobs at once (each may start a pool of
  processes; the cap keeps the editor responsive);
- ``io``: a few light jobs at once.

A kind that can also run on the processor (``cpu_fallback``: render, XSeg apply) runs in
the ``cpu`` lane when its ``device`` parameter is ``cpu`` or the machine has no GPU.

The lanes held are counted from the ``jobs`` rows of *live* workers (a row whose worker
stopped beating never holds a slot), so several engines on one project share them and
an orphaned row never blocks a lane. Within a lane the queue order is the user's: when
the first waiting job of a lane cannot start, the later ones of that lane wait too.

On a machine without a GPU the cores are split: while the ``compute`` job (training)
shares the processor with CPU jobs it uses all cores but one per CPU job, and each CPU
job uses the rest (:func:`cpu_threads`); the job's status line says so.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

IO_JOBS: Final = 3
_RESOURCE = re.compile(r"^(gpu:[1-9][0-9]?|cpu|io)$")


def check_resource(resource: str) -> str:
    if not _RESOURCE.match(resource):
        raise ValueError(f"job resource {resource!r} must be 'gpu:N' (N >= 1), 'cpu' or 'io'")
    return resource


def cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def cpu_job_cap(n_cores: int | None = None) -> int:
    """CPU jobs at once: one per 8 cores (at least one); ``FACESMITH_CPU_JOBS`` overrides."""
    env = os.environ.get("FACESMITH_CPU_JOBS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, (n_cores or cores()) // 8)


@functools.cache
def _detected_gpus() -> int:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return 0
    try:
        return int(torch.cuda.device_count())
    except Exception:  # a broken driver: run on the CPU rather than not at all
        return 0


def gpu_count() -> int:
    """GPUs of this machine; ``FACESMITH_GPUS`` overrides (``0`` forces the CPU).

    Asking torch costs its import (~1 s), so a worker asks only once a GPU kind waits.
    """
    env = os.environ.get("FACESMITH_GPUS", "")
    if env.isdigit():
        return int(env)
    return _detected_gpus()


@dataclass(frozen=True)
class LaneNeed:
    """What one queued job needs: ``lane`` is ``gpu``, ``compute``, ``cpu`` or ``io``;
    ``count`` the GPUs for ``gpu``."""

    lane: str
    count: int = 1


def need_of(resource: str, params: Mapping[str, Any], *, cpu_fallback: bool, gpus: int | None) -> LaneNeed:
    """The lane a job of this resource and these parameters needs. ``gpus`` None: not
    asked yet (only ``gpu`` kinds need the answer)."""
    if resource in ("cpu", "io"):
        return LaneNeed(resource)
    n = int(resource.split(":")[1])
    devices = params.get("devices")
    if isinstance(devices, int) and not isinstance(devices, bool) and devices > n:
        n = devices  # a DDP training job asks for its GPUs in a parameter
    device = str(params.get("device") or "auto")
    if cpu_fallback and device == "cpu":
        return LaneNeed("cpu")
    if not gpus:
        return LaneNeed("cpu" if cpu_fallback else "compute")
    return LaneNeed("gpu", min(n, gpus))


@dataclass(frozen=True)
class LaneState:
    """The lanes held by the running jobs of live workers."""

    held: tuple[str, ...]

    def gpus_busy(self) -> set[int]:
        busy: set[int] = set()
        for lane in self.held:
            if lane.startswith("gpu:"):
                busy.update(int(i) for i in lane[4:].split(",") if i.isdigit())
        return busy

    def count(self, lane: str) -> int:
        return sum(1 for h in self.held if h == lane)

    def assign(self, need: LaneNeed, *, gpus: int, cpu_cap: int) -> str | None:
        """The lane string to record for ``need``, or None when that lane is full."""
        if need.lane == "gpu":
            free = [i for i in range(gpus) if i not in self.gpus_busy()]
            if len(free) < need.count:
                return None
            return "gpu:" + ",".join(str(i) for i in free[:need.count])
        cap = {"compute": 1, "cpu": cpu_cap, "io": IO_JOBS}[need.lane]
        return need.lane if self.count(need.lane) < cap else None

    def plus(self, lane: str) -> LaneState:
        return LaneState((*self.held, lane))


def lane_family(lane: str | None) -> str:
    """``gpu:0,1`` -> ``gpu``; the lane kinds a queued job competes in."""
    if not lane:
        return ""
    return "gpu" if lane.startswith("gpu:") else lane


def describe(lane: str | None) -> str:
    """The lane as the jobs dock and ``facesmith jobs`` show it."""
    if not lane:
        return ""
    if lane == "compute":
        return "CPU (no GPU)"
    if lane.startswith("gpu:"):
        ids = lane[4:]
        return f"GPU {ids}" if "," not in ids else f"GPUs {ids}"
    return {"cpu": "CPU", "io": "I/O"}.get(lane, lane)


def cpu_threads(lane: str | None, held: Iterable[str], n_cores: int | None = None) -> int:
    """Threads a job in ``lane`` should use while the lanes ``held`` (its own included) run.

    Only the processor is shared: with a ``compute`` job (training on the CPU) and k CPU
    jobs running, training gets ``cores - k`` threads and the CPU jobs split the rest
    (at least one each). Alone, a job gets every core. GPU jobs keep one core to feed
    the GPU, CPU jobs beside them get the rest.
    """
    n = n_cores or cores()
    held = list(held)
    cpu_jobs = sum(1 for h in held if h == "cpu")
    compute = any(h == "compute" for h in held)
    if lane == "compute":
        return max(1, n - cpu_jobs)
    if lane == "cpu":
        gpu_feeders = sum(1 for h in held if h.startswith("gpu:"))
        left = n - (n - cpu_jobs if compute else gpu_feeders)
        return max(1, left // max(1, cpu_jobs))
    if lane and lane.startswith("gpu:"):
        return max(1, n - cpu_jobs) if cpu_jobs else n
    return 1
