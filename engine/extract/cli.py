"""``facesmith extract``: queue an extraction and (unless ``--queue-only``) run it here.

Only argparse at import time: :func:`register` runs every time the CLI builds its parser.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine.errors import FacesmithError


def parse_range(text: str) -> tuple[int | None, int | None]:
    """``"A:B"``, ``"A:"`` or ``":B"`` -> (start, stop); stop is exclusive."""
    start, sep, stop = text.partition(":")
    if not sep:
        raise FacesmithError(f"--range {text!r}: expected START:STOP, e.g. 0:500 or 100:")
    try:
        return (int(start) if start.strip() else None, int(stop) if stop.strip() else None)
    except ValueError:
        raise FacesmithError(f"--range {text!r}: START and STOP must be frame numbers") from None


def params_from_args(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if args.clip:
        params["clips"] = list(args.clip)
    if args.range:
        params["start"], params["stop"] = parse_range(args.range)
    for name in ("role", "min_face", "max_faces", "face_type", "size", "backend", "smooth",
                 "embed_sample", "processes", "reference_face", "reference_image"):
        value = getattr(args, name)
        if value is not None:
            params[name] = value
    if args.every is not None:
        params["every_nth"] = args.every
    if args.redo:
        params["redo"] = True
    return params


def cmd_extract(args: argparse.Namespace) -> int:
    from engine.jobs.cli import run_in_foreground
    from engine.jobs.queue import JobQueue
    from engine.project.store import ProjectStore

    with ProjectStore.open(args.project) as store:
        job = JobQueue(store).enqueue("extract", params_from_args(args))
    if args.queue_only:
        print(f"queued job {job.id} (extract)")
        return 0
    print(f"queued job {job.id} (extract); running it here", file=sys.stderr)
    return run_in_foreground(args.project, job.id, label="extract", quiet=args.quiet)


def register(sub: Any) -> None:
    p = sub.add_parser("extract", help="find faces in clips (crops, landmarks, tracks, persons)")
    p.add_argument("project")
    p.add_argument("--clip", action="append", metavar="NAME", help="a clip (name or id); repeat for more")
    p.add_argument("--role", choices=("src", "dst"), help="all clips of this role")
    p.add_argument("--range", metavar="A:B", help="frames A to B (B exclusive) of each clip")
    p.add_argument("--every", type=int, metavar="N", help="every N-th frame")
    p.add_argument("--min-face", type=int, metavar="PX", help="smallest face width (default 40)")
    p.add_argument("--max-faces", type=int, metavar="N", help="at most N faces per frame, the largest")
    p.add_argument("--face-type", choices=("half", "mid_full", "full", "whole", "head"),
                   help="crop framing (default whole)")
    p.add_argument("--size", type=int, help="crop side in pixels, 64-1024 (default 256)")
    p.add_argument("--backend", choices=("mediapipe", "dlib", "fan"),
                   help="detector and landmarks (default mediapipe; dlib is the fast HOG option)")
    p.add_argument("--smooth", type=float, metavar="S", help="landmark smoothing along tracks, 0-1")
    p.add_argument("--embed-sample", type=int, metavar="N", help="embeddings per track (default 5)")
    p.add_argument("--processes", type=int, metavar="N", help="analysis processes (default: one per core)")
    p.add_argument("--reference-face", type=int, metavar="ID", help="keep only this face's person")
    p.add_argument("--reference-image", metavar="FILE", help="keep only the person in this image")
    p.add_argument("--redo", action="store_true",
                   help="extract the range again, keeping hand-added/edited faces, masks and persons")
    p.add_argument("--queue-only", action="store_true", help="queue the job for the engine; do not run it here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_extract)
