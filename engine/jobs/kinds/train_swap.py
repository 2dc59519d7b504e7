"""``train_swap``: train a swap model (DF or LIAE) on the project's src and dst faces.

Resumable from its checkpoints after a pause, a shutdown or a killed engine; with
``devices`` > 1 (or on several machines) it runs as a DDP group launched through torchrun (:mod:`engine.swap.ddp`).
The parameters are :class:`engine.swap.request.TrainRequest`; the work is
:mod:`engine.swap.session`.
"""

from __future__ import annotations

from engine.jobs.context import JobContext
from engine.jobs.registry import JobResult, job_kind
from engine.swap.request import TrainRequest


@job_kind("train_swap", TrainRequest, description="train a swap model (DF/LIAE) on the project's faces",
          exclusive=True, resumable=True, resource="gpu:1")
def run_train_swap(ctx: JobContext, p: TrainRequest) -> JobResult:
    if p.distributed:
        from engine.swap.ddp import launch

        return launch(ctx, p)
    from engine.swap.session import run_training

    return run_training(ctx, p)
