"""``apply_xseg``: predict and store XSeg masks for the faces of chosen clips/persons."""

from __future__ import annotations

from engine.jobs.context import JobContext
from engine.jobs.registry import JobResult, job_kind
from engine.masks.xseg_apply import ApplyXSegParams, run_apply


@job_kind("apply_xseg", ApplyXSegParams, exclusive=True, resource="gpu:1", cpu_fallback=True,
          description="predict masks with an XSeg model for every face of chosen clips/persons")
def run_apply_xseg(ctx: JobContext, p: ApplyXSegParams) -> JobResult:
    return run_apply(ctx, p)
