"""``extract``: faces from clips, linked into tracks and grouped into persons.

The pipeline is :mod:`engine.extract`; this module declares the job kind. Extraction runs in
the ``cpu`` lane (beside training, with the cores it leaves) and is resumable without a checkpoint of its own:
frames already stored are skipped, and the phases after the scan redo only what is
missing, so a pause, a shutdown or a killed engine all continue where they were.
"""

from __future__ import annotations

import dataclasses

from engine.extract.params import ExtractParams
from engine.jobs.context import JobContext
from engine.jobs.registry import JobResult, job_kind
from engine.project.changes import ChangeSet


@job_kind("extract", ExtractParams, exclusive=True, resumable=True, resource="cpu", makes_faces=True,
          description="find faces in clips: crops, landmarks, pose, tracks and persons")
def run_extract(ctx: JobContext, p: ExtractParams) -> JobResult:
    from engine.extract.pipeline import run_extraction

    if p.processes is None:
        # Beside a training job on the CPU (engine.jobs.lanes) the pool takes the cores
        # training leaves it, so neither starves the other.
        threads, note = ctx.cpu_threads()
        if note:
            p = dataclasses.replace(p, processes=threads)
            ctx.event("cpu", f"{note}: {threads} analysis process{'es' if threads > 1 else ''}")
    out = run_extraction(ctx, p, since=ctx.job.started_at)
    changes = ChangeSet.bulk("faces", out.touched, label="Extract faces")
    if out.persons.new_persons or out.reference is not None:
        persons = set(out.persons.new_persons)
        if out.reference is not None and out.reference.person_id is not None:
            persons.add(out.reference.person_id)
        changes = changes.merged(ChangeSet.bulk("persons", persons))
    return JobResult(changes=changes, message=out.message(), data=out.data())
