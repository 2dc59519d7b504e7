"""``facesmith xseg ...``: label-hull, train, apply and models.

``train`` and ``apply`` queue the ``train_xseg`` / ``apply_xseg`` job and run it here in
the foreground (as ``facesmith run P train_xseg --param ...`` does), so a server without a
display trains exactly what the editor would. ``label-hull`` is quick and runs directly.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

_TRAIN_OPTIONS: tuple[tuple[str, type, str], ...] = (
    ("name", str, "name of a new model"),
    ("resolution", int, "crop size of a new model: 128 or 256 (default 256)"),
    ("face_type", str, "face type of a new model (default whole)"),
    ("width", int, "channel width of a new model (default 32)"),
    ("iterations", int, "iterations to train in this run (default 2000)"),
    ("batch_size", int, "samples per iteration (default 4)"),
    ("lr", float, "learning rate (default 0.001)"),
    ("holdout", float, "share of keyframes held out for IoU (default 0.1)"),
    ("propagated", int, "add up to N propagated masks as weighted training data (default 0)"),
    ("eval_every", int, "iterations between IoU measurements"),
    ("preview_every", int, "iterations between preview images"),
    ("save_every", int, "iterations between checkpoints"),
    ("seed", int, "random seed"),
    ("device", str, "auto, cpu or cuda[:N]"),
    ("threads", int, "CPU threads (default: torch's; 1 can be faster on a busy machine)"),
)


def _run_job(project: str, kind: str, params: dict[str, Any], quiet: bool) -> int:
    from engine.jobs.cli import run_in_foreground
    from engine.jobs.queue import JobQueue
    from engine.project.store import ProjectStore

    with ProjectStore.open(project) as store:
        job = JobQueue(store).enqueue(kind, params)
    print(f"queued job {job.id} ({kind}); running it here", file=sys.stderr)
    return run_in_foreground(project, job.id, label=kind, quiet=quiet)


def _selection(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.clip:
        out["clips"] = [int(c) if c.isdigit() else c for c in args.clip]
    if args.person:
        out["persons"] = list(args.person)
    return out


def cmd_train(args: argparse.Namespace) -> int:
    params = _selection(args)
    if args.model is not None:
        params["model"] = args.model
    for name, _, _ in _TRAIN_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            params[name] = value
    return _run_job(args.project, "train_xseg", params, args.quiet)


def cmd_apply(args: argparse.Namespace) -> int:
    params = _selection(args)
    if args.model is not None:
        params["model"] = args.model
    if args.skip_keyframes:
        params["skip_keyframes"] = True
    if args.batch_size is not None:
        params["batch_size"] = args.batch_size
    if args.device is not None:
        params["device"] = args.device
    if args.threads is not None:
        params["threads"] = args.threads
    return _run_job(args.project, "apply_xseg", params, args.quiet)


def cmd_label_hull(args: argparse.Namespace) -> int:
    from engine.masks.repo import keyframes
    from engine.masks.resolve import seed_hull_labels, select_faces
    from engine.project.store import ProjectStore

    with ProjectStore.open(args.project) as store:
        sel = _selection(args)
        faces = select_faces(store, clips=sel.get("clips", ()), persons=sel.get("persons", ()))
        changes = seed_hull_labels(store, faces, every=args.every, forehead=args.forehead,
                                   eyebrow_expand=args.eyebrow_expand, replace=args.replace)
        total = len(keyframes(store))
    print(f"labelled {len(changes.rows)} faces with their landmark hull; the project has {total} keyframes")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from engine.masks.repo import prediction_counts
    from engine.project.store import ProjectStore

    with ProjectStore.open(args.project, readonly=True) as store:
        models = store.models("xseg")
        counts = prediction_counts(store)
    if not models:
        print("no XSeg models")
    for m in models:
        print(f"[{m.id}] {m.name:<24} {m.resolution} px {m.face_type:<8} width {m.config.get('width', '?'):<3} "
              f"iteration {m.iteration:<7} masks {counts.get(m.id, 0)}")
    return 0


def register(sub: Any) -> None:
    """Add ``facesmith xseg`` and its sub-commands to the top-level parser."""
    from engine.masks.hull import DEFAULT_EYEBROW_EXPAND, DEFAULT_FOREHEAD

    xseg = sub.add_parser("xseg", help="label masks, train and apply XSeg mask models")
    cmds = xseg.add_subparsers(dest="xseg_command", required=True, metavar="COMMAND")

    def selection(p: argparse.ArgumentParser) -> None:
        p.add_argument("--clip", action="append", default=[], metavar="NAME",
                       help="only faces of this clip (name or id; repeatable)")
        p.add_argument("--person", action="append", type=int, default=[], metavar="ID",
                       help="only faces of this person (repeatable)")

    p = cmds.add_parser("label-hull", help="seed label masks from the landmark hull (a starting point to correct)")
    p.add_argument("project")
    p.add_argument("--every", type=int, default=10, metavar="N", help="label every Nth face of each track (default 10)")
    p.add_argument("--forehead", type=float, default=DEFAULT_FOREHEAD,
                   help=f"forehead height over the brow-to-chin distance (default {DEFAULT_FOREHEAD})")
    p.add_argument("--eyebrow-expand", type=float, default=DEFAULT_EYEBROW_EXPAND,
                   help=f"push the brows away from the eyes by this factor (default {DEFAULT_EYEBROW_EXPAND})")
    p.add_argument("--replace", action="store_true", help="replace existing labels (default: keep them)")
    selection(p)
    p.set_defaults(func=cmd_label_hull)

    p = cmds.add_parser("train", help="train an XSeg model on the keyframes (runs here)")
    p.add_argument("project")
    p.add_argument("--model", type=int, help="continue this model (default: a new one)")
    for name, tp, help_text in _TRAIN_OPTIONS:
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=tp, help=help_text)
    selection(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = cmds.add_parser("apply", help="predict masks for every face (runs here)")
    p.add_argument("project")
    p.add_argument("--model", type=int, help="the XSeg model (default: the latest)")
    p.add_argument("--skip-keyframes", action="store_true", help="no prediction for faces with a label")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--device", help="auto, cpu or cuda[:N]")
    p.add_argument("--threads", type=int, help="CPU threads (default: one less than torch's, a core for reading)")
    selection(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_apply)

    p = cmds.add_parser("models", help="list the project's XSeg models")
    p.add_argument("project")
    p.set_defaults(func=cmd_models)
