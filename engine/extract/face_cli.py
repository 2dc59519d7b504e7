"""``facesmith face add``: add a face the detector missed, by its box (and track it).

Only argparse at import time: :func:`register` runs every time the CLI builds its parser.
"""

from __future__ import annotations

import argparse
from typing import Any

from engine.errors import FacesmithError


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``"X,Y,W,H"`` (frame pixels) -> a tuple, or a clear error."""
    parts = text.split(",")
    try:
        if len(parts) != 4:
            raise ValueError
        x, y, w, h = (float(p) for p in parts)
    except ValueError:
        raise FacesmithError(f"--box {text!r}: expected X,Y,W,H in frame pixels, e.g. 120,40,90,110") from None
    return x, y, w, h


def cmd_face_add(args: argparse.Namespace) -> int:
    from engine.extract.manual import add_face
    from engine.project.store import ProjectStore

    box = parse_box(args.box)
    with ProjectStore.open(args.project) as store:
        added = add_face(store, args.clip, args.frame, box, track=args.track, backend=args.backend)
    tracked = f"; tracked on {len(added.tracked)} more frames" if args.track else ""
    print(f"added face {added.face_id} on frame {args.frame} of {args.clip}{tracked}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("face", help="faces by hand: add one the detector missed")
    face_sub = p.add_subparsers(dest="face_command", required=True)
    a = face_sub.add_parser("add", help="add the face in a box on one frame (landmarks are fitted)")
    a.add_argument("project")
    a.add_argument("--clip", required=True, metavar="NAME", help="the clip (name or id)")
    a.add_argument("--frame", required=True, type=int, metavar="N", help="the frame number (0-based)")
    a.add_argument("--box", required=True, metavar="X,Y,W,H", help="the face's box in frame pixels")
    a.add_argument("--track", action="store_true",
                   help="also follow the face into the neighbouring frames (until lost or a shot cut)")
    a.add_argument("--backend", default="mediapipe", choices=("mediapipe", "dlib"),
                   help="landmark fitting (default mediapipe: face mesh, any pose)")
    a.set_defaults(func=cmd_face_add)
