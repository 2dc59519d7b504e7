"""``render``: merge a clip's frames with a swap model and write a video, PNGs or RGBA patches.

Exclusive (the model and the encoder keep every core busy) and resumable from what is
already on disk: finished frames (PNG, RGBA) or finished video parts are kept, and a
resumed job continues at the first one missing (:mod:`engine.merge.render`).
"""

from __future__ import annotations

from engine.jobs.context import JobContext
from engine.jobs.registry import JobResult, job_kind
from engine.merge.render import RenderParams


@job_kind("render", RenderParams, exclusive=True, resumable=True, resource="gpu:1", cpu_fallback=True,
          description="merge a clip with a swap model into a video (H.264/H.265), PNGs or RGBA patches")
def run_render(ctx: JobContext, p: RenderParams) -> JobResult:
    from engine.merge.render import run_render as run

    return run(ctx, p)
