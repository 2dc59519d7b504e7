"""``facesmith import dfl|faceswap`` and ``facesmith export dfl|faceswap|onnx|dfm``.

Each command queues the matching job (:mod:`engine.jobs.kinds.interop`) and runs it
here with a progress bar, exactly as the editor's File menus do. Parameters are checked
when the job is queued; a failed import changes nothing in the project.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _run(project: str, kind: str, params: dict[str, Any], quiet: bool) -> int:
    from engine.jobs.cli import run_in_foreground
    from engine.jobs.queue import JobQueue
    from engine.project.store import ProjectStore

    with ProjectStore.open(project) as store:
        job = JobQueue(store).enqueue(kind, params)
    rc = run_in_foreground(project, job.id, label=kind, quiet=quiet)
    with ProjectStore.open(project, readonly=True) as store:
        row = store.query("SELECT result FROM jobs WHERE id = ?", (job.id,))
    import json

    result = json.loads(row[0][0]) if row and row[0][0] else {}
    for line in (result.get("data") or {}).get("broken", []):
        print(f"skipped: {line}", file=sys.stderr)
    return rc


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def cmd_import_dfl(args: argparse.Namespace) -> int:
    return _run(args.project, "import_dfl", _clean({"folder": str(Path(args.folder).resolve()), "clip": args.clip,
                                                    "role": args.role, "name": args.name}), args.quiet)


def cmd_import_faceswap(args: argparse.Namespace) -> int:
    return _run(args.project, "import_faceswap", {"source": str(Path(args.source).resolve()), "clip": args.clip},
                args.quiet)


def cmd_export_dfl(args: argparse.Namespace) -> int:
    return _run(args.project, "export_dfl", _clean({"out": str(Path(args.out).resolve()), "person": args.person,
                                                    "clip": args.clip,
                                                    "include_excluded": args.include_excluded or None}), args.quiet)


def cmd_export_faceswap(args: argparse.Namespace) -> int:
    return _run(args.project, "export_faceswap", {"clip": args.clip, "out": str(Path(args.out).resolve())},
                args.quiet)


def cmd_export_model(args: argparse.Namespace) -> int:
    return _run(args.project, "export_model", {"model": args.model, "out": str(Path(args.out).resolve()),
                                               "format": args.format}, args.quiet)


def register(sub: Any) -> None:
    imp = sub.add_parser("import", help="bring DeepFaceLab or FaceSwap work into a project")
    isub = imp.add_subparsers(dest="what", required=True, metavar="WHAT")
    p = isub.add_parser("dfl", help="a DeepFaceLab aligned face set (folder of DFLJPG faces)")
    p.add_argument("project")
    p.add_argument("folder")
    p.add_argument("--clip", help="the clip the faces were extracted from (default: found from the faces' "
                                  "source_filename, else a new face-set clip)")
    p.add_argument("--role", default="src", choices=("src", "dst"), help="role of a new face-set clip (default src)")
    p.add_argument("--name", help="name of a new face-set clip (default: the folder's name)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_import_dfl)
    p = isub.add_parser("faceswap", help="FaceSwap alignments (.fsa, .json) or a face folder, for a video clip")
    p.add_argument("project")
    p.add_argument("source", metavar="FILE_OR_FOLDER")
    p.add_argument("--clip", required=True, help="the video clip the alignments belong to")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_import_faceswap)

    exp = sub.add_parser("export", help="take faces or models out to DeepFaceLab, FaceSwap, ONNX, DeepFaceLive")
    esub = exp.add_subparsers(dest="what", required=True, metavar="WHAT")
    p = esub.add_parser("dfl", help="faces as a DeepFaceLab aligned face set")
    p.add_argument("project")
    p.add_argument("out", metavar="OUT_FOLDER")
    p.add_argument("--person", type=int, help="only this person's faces")
    p.add_argument("--clip", help="only this clip's faces")
    p.add_argument("--include-excluded", dest="include_excluded", action="store_true",
                   help="also faces left out of training")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_export_dfl)
    p = esub.add_parser("faceswap", help="a clip's faces as a FaceSwap alignments file")
    p.add_argument("project")
    p.add_argument("out", metavar="OUT.fsa")
    p.add_argument("--clip", required=True)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_export_faceswap)
    for fmt, help_text in (("onnx", "a swap model as ONNX (src->dst swap)"),
                           ("dfm", "a swap model as a DeepFaceLive .dfm")):
        p = esub.add_parser(fmt, help=help_text)
        p.add_argument("project")
        p.add_argument("out", metavar="OUT")
        p.add_argument("--model", type=int, required=True, help="the swap model's id")
        p.add_argument("--quiet", action="store_true")
        p.set_defaults(func=cmd_export_model, format=fmt)
