"""``train_xseg``: train an XSeg model on the project's keyframes (``engine.masks``)."""

from __future__ import annotations

from engine.jobs.context import JobContext
from engine.jobs.registry import JobResult, job_kind
from engine.masks.xseg_train import TrainXSegParams, run_training


@job_kind("train_xseg", TrainXSegParams, exclusive=True, resource="gpu:1",
          description="train an XSeg mask model on the keyframes of chosen clips/persons")
def run_train_xseg(ctx: JobContext, p: TrainXSegParams) -> JobResult:
    return run_training(ctx, p)
