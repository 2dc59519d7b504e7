"""Import and export jobs of :mod:`engine.interop`: DFL/FaceSwap sets in, sets and models out.

They run in the worker like every job, so the CLI and the editor's File menus share one
code path, one progress display and one error report. Imports change the project in one
transaction (a failure changes nothing); exports write only their output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from engine.jobs.context import JobContext
from engine.jobs.registry import JobResult, job_kind
from engine.project.changes import ChangeSet


@dataclass(frozen=True)
class ImportDflParams:
    folder: str
    clip: str | None = None
    role: Literal["src", "dst"] = "src"
    name: str | None = None


@dataclass(frozen=True)
class ImportFaceswapParams:
    source: str
    clip: str


@dataclass(frozen=True)
class ExportDflParams:
    out: str
    person: int | None = None
    clip: str | None = None
    face_ids: list[int] | None = None
    include_excluded: bool = False


@dataclass(frozen=True)
class ExportFaceswapParams:
    clip: str
    out: str


@dataclass(frozen=True)
class ExportModelParams:
    model: int
    out: str
    format: Literal["onnx", "dfm"] = "onnx"


def _import_result(ctx: JobContext, summary: object) -> JobResult:
    from engine.interop.common import ImportSummary

    assert isinstance(summary, ImportSummary)
    for b in summary.broken:
        ctx.event("warning", f"skipped {b}")
    changes = ChangeSet.from_summary({"faces": None, "masks": None, "clips": [summary.clip_id],
                                      "persons": [summary.person_id] if summary.person_id else []},
                                     label="Import faces")
    return JobResult(changes, summary.message(), {
        "clip_id": summary.clip_id, "clip": summary.clip_name, "faces": summary.faces, "new_clip": summary.new_clip,
        "label_masks": summary.label_masks, "predicted_masks": summary.predicted_masks,
        "person_id": summary.person_id, "broken": [str(b) for b in summary.broken]})


def _clip_key(clip: str | None) -> str | int | None:
    return int(clip) if clip is not None and clip.isdigit() else clip


@job_kind("import_dfl", ImportDflParams, makes_faces=True, description="import a DeepFaceLab aligned face set (folder of DFLJPG faces)")
def run_import_dfl(ctx: JobContext, p: ImportDflParams) -> JobResult:
    from engine.interop.import_dfl import import_dfl

    summary = import_dfl(ctx.store, p.folder, clip=_clip_key(p.clip), role=p.role, name=p.name,
                         progress=ctx.progress)
    return _import_result(ctx, summary)


@job_kind("import_faceswap", ImportFaceswapParams, makes_faces=True,
          description="import FaceSwap alignments (.fsa/.json) or a FaceSwap face folder onto a video clip")
def run_import_faceswap(ctx: JobContext, p: ImportFaceswapParams) -> JobResult:
    from engine.interop.import_faceswap import import_faceswap

    summary = import_faceswap(ctx.store, p.source, clip=_clip_key(p.clip) or p.clip, progress=ctx.progress)
    return _import_result(ctx, summary)


@job_kind("export_dfl", ExportDflParams, description="export faces as a DeepFaceLab aligned face set")
def run_export_dfl(ctx: JobContext, p: ExportDflParams) -> JobResult:
    from engine.interop.export_sets import export_dfl, select_export_faces

    faces = select_export_faces(ctx.store, person=p.person, face_ids=p.face_ids, clip=_clip_key(p.clip),
                                include_excluded=p.include_excluded)
    s = export_dfl(ctx.store, faces, p.out, progress=ctx.progress)
    return JobResult(message=s.message(), data={"path": str(s.path), "faces": s.faces, "polygons": s.polygons,
                                                "masks": s.masks, "strokes_left_out": s.strokes_left_out})


@job_kind("export_faceswap", ExportFaceswapParams, description="export a clip's faces as a FaceSwap alignments file")
def run_export_faceswap(ctx: JobContext, p: ExportFaceswapParams) -> JobResult:
    from engine.interop.export_sets import export_faceswap

    s = export_faceswap(ctx.store, _clip_key(p.clip) or p.clip, p.out, progress=ctx.progress)
    return JobResult(message=s.message(), data={"path": str(s.path), "faces": s.faces, "masks": s.masks})


@job_kind("export_model", ExportModelParams, description="export a swap model as ONNX or a DeepFaceLive .dfm")
def run_export_model(ctx: JobContext, p: ExportModelParams) -> JobResult:
    from engine.interop.onnx_export import export_swap_model

    ctx.progress(0.1, f"exporting model {p.model} as {p.format}")
    e = export_swap_model(ctx.store, p.model, p.out, fmt=p.format)
    return JobResult(message=e.message(), data={"path": str(e.path), "format": e.format,
                                                "max_abs_diff": e.max_abs_diff, "resolution": e.resolution})
