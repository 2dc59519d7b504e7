"""``qa``: score every frame of a render (identity, expression, pose, jitter, seam, colour)
for the quality strip (:mod:`engine.merge.qa`).

Not exclusive: it reads a finished render and the clip, and writes only its own rows.
A paused or interrupted run starts over when resumed (its rows are replaced whole).
"""

from __future__ import annotations

from engine.jobs.context import JobContext
from engine.jobs.registry import JobResult, job_kind
from engine.merge.qa import QaParams


@job_kind("qa", QaParams, resumable=True,
          description="score a render's frames: identity, expression, pose, jitter, seam and colour at the mask border")
def run_qa(ctx: JobContext, p: QaParams) -> JobResult:
    from engine.merge.qa import run_qa as run

    return run(ctx, p)
