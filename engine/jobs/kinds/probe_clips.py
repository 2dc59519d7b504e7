"""``probe_clips``: check every clip's file (or some): missing, changed, or fine.

A clip whose file is gone is reported with the relink hint; one whose content changed
(fingerprint differs) is reported and left untouched, since its faces may no longer fit
its frames. Metadata of unchanged files is refreshed from a new probe.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.errors import MediaError
from engine.jobs.context import JobContext
from engine.jobs.registry import JobResult, job_kind
from engine.media import fingerprint, probe
from engine.project.changes import ChangeSet


@dataclass(frozen=True)
class ProbeClipsParams:
    #: clip ids to check; empty = all clips
    clips: list[int] = field(default_factory=list)


@job_kind("probe_clips", ProbeClipsParams, description="check the clips' files: missing, changed, readable")
def run_probe_clips(ctx: JobContext, p: ProbeClipsParams) -> JobResult:
    store = ctx.store
    clips = [c for c in store.clips() if not p.clips or c.id in p.clips]
    problems: list[str] = []
    changes = ChangeSet(label="Probe clips")
    for n, clip in enumerate(clips):
        ctx.check()
        ctx.progress(n / max(len(clips), 1), f"checking {clip.name}")
        if clip.missing:
            problems.append(f"{clip.name}: file missing ({clip.path}); relink it with 'facesmith relink'")
            continue
        if clip.kind != "video":
            from engine.project.images import current_fingerprint

            try:
                if current_fingerprint(store, clip) != clip.fingerprint:
                    problems.append(f"{clip.name}: its images changed since they were added ({clip.path})")
            except MediaError as exc:
                problems.append(f"{clip.name}: {exc}")
            continue
        try:
            if fingerprint(clip.path) != clip.fingerprint:
                problems.append(f"{clip.name}: the file changed since it was added ({clip.path})")
                continue
            info = probe(clip.path)
        except MediaError as exc:
            problems.append(f"{clip.name}: {exc}")
            continue
        changes = changes.merged(store.update_rows("clips", {clip.id: {
            "frame_count": info.frame_count, "duration_s": info.duration_s, "rotation": info.rotation,
            "width": info.width, "height": info.height}}))
    message = f"{len(clips)} clips checked, " + (f"{len(problems)} with problems" if problems else "all fine")
    return JobResult(changes=changes, message=message, data={"problems": problems})
