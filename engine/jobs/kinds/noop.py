"""``noop``: sleeps in steps. For tests, benchmarks and checking that an engine works.

It is resumable like a real job: its checkpoint is the next step, so a pause, a
shutdown or a killed worker continue where it was, and ``steps_run`` in the result
counts the steps this run actually did.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from engine.jobs.context import JobContext
from engine.jobs.registry import JobResult, job_kind


@dataclass(frozen=True)
class NoopParams:
    steps: int = 10
    step_s: float = 0.1
    #: raise an error at this step (tests of failure handling)
    fail_at: int | None = None
    #: write a metric per step
    metrics: bool = False

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError("steps must be >= 0")
        if not 0 <= self.step_s <= 3600:
            raise ValueError("step_s must be between 0 and 3600")


@job_kind("noop", NoopParams, description="sleeps in steps (tests, engine check)")
def run_noop(ctx: JobContext, p: NoopParams) -> JobResult:
    start = int((ctx.checkpoint or {}).get("next_step", 0))
    for step in range(start, p.steps):
        ctx.check(save=lambda: {"next_step": step})
        if p.fail_at is not None and step == p.fail_at:
            raise RuntimeError(f"noop asked to fail at step {step}")
        if p.step_s:
            time.sleep(p.step_s)
        if p.metrics:
            ctx.metric(step, "value", float(step))
        if p.step_s >= 0.05 or step % 50 == 0:
            ctx.save_checkpoint({"next_step": step + 1})
        ctx.progress((step + 1) / p.steps if p.steps else 1.0, f"step {step + 1}/{p.steps}")
    return JobResult(message=f"{p.steps} steps", data={"steps_run": p.steps - start, "resumed_from": start})
