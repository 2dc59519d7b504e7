"""``facesmith merge key|keys|unkey`` and ``facesmith qa``: the command-line twins of the
timeline's key track and quality strip.

Everything is checked before anything is written: a key outside the clip, a value out of
range or an unknown enum name is refused with a message naming the setting and its
range, and nothing is stored.

Only argparse at import time: :func:`register` runs every time the CLI builds its parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.errors import FacesmithError


def _assignments(items: list[str]) -> dict[str, Any]:
    from engine.merge.keys import parse_value

    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise FacesmithError(f"expected SETTING=VALUE, got {item!r}")
        out[name.strip()] = parse_value(name.strip(), text.strip())
    return out


def cmd_key(args: argparse.Namespace) -> int:
    from engine.merge.keys import set_keys
    from engine.project.store import ProjectStore

    values = _assignments(args.values)
    with ProjectStore.open(args.project) as store:
        clip = store.find_clip(args.clip)
        changes = set_keys(store, clip.id, args.frame, values, interp="hold" if args.hold else "linear")
    print(f"{changes.label} of '{clip.name}'" if changes.rows else "nothing changed")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from engine.merge.keys import clip_keys
    from engine.project.store import ProjectStore

    with ProjectStore.open(args.project, readonly=True) as store:
        clip = store.find_clip(args.clip)
        keys = clip_keys(store, clip.id)
    if not keys:
        print(f"clip '{clip.name}' has no merge keys")
        return 0
    print(f"{'frame':>6}  {'setting':<16} {'value':<24} interpolation")
    for k in keys:
        print(f"{k.frame:>6}  {k.setting:<16} {str(k.value):<24} {k.interp}")
    return 0


def cmd_unkey(args: argparse.Namespace) -> int:
    from engine.merge.keys import delete_keys
    from engine.project.store import ProjectStore

    with ProjectStore.open(args.project) as store:
        clip = store.find_clip(args.clip)
        changes = delete_keys(store, clip.id, args.frame, args.settings or None)
    print(f"deleted {len(changes.rows)} merge key(s) at frame {args.frame} of '{clip.name}'")
    return 0


def cmd_qa(args: argparse.Namespace) -> int:
    from engine.jobs.cli import run_in_foreground
    from engine.jobs.queue import JobQueue
    from engine.jobs.registry import get_kind
    from engine.merge.qa import pick_render
    from engine.project.store import ProjectStore

    params: dict[str, Any] = {"clip": args.clip}
    if args.model is not None:
        params["model"] = args.model
    if args.render is not None:
        params["render"] = args.render
    if args.every is not None:
        params["identity_every"] = args.every
    if args.csv:
        params["csv"] = str(Path(args.csv).expanduser().resolve())
    with ProjectStore.open(args.project) as store:
        req = get_kind("qa").parse(params)
        clip = store.find_clip(req.clip)
        render = pick_render(store, clip, req.render, req.model)  # refuses "nothing rendered" now
        params["render"] = render.id
        job = JobQueue(store).enqueue("qa", params)
    rc = run_in_foreground(args.project, job.id, label="qa", quiet=args.quiet)
    if rc == 0:
        with ProjectStore.open(args.project, readonly=True) as store:
            done = JobQueue(store).job(job.id)
        print((done.result or {}).get("message", ""))
    return rc


def register(sub: Any) -> None:
    p = sub.add_parser("merge", help="merge keys: settings that change over a clip's frames")
    msub = p.add_subparsers(dest="merge_command", required=True, metavar="COMMAND")
    k = msub.add_parser("key", help="key merge settings at a frame (e.g. erode=10 color=mkl)")
    k.add_argument("project")
    k.add_argument("--clip", required=True, metavar="NAME")
    k.add_argument("--frame", required=True, type=int, metavar="N")
    k.add_argument("values", nargs="+", metavar="SETTING=VALUE")
    k.add_argument("--hold", action="store_true", help="hold the value until the next key (default: linear)")
    k.set_defaults(func=cmd_key)
    ks = msub.add_parser("keys", help="list a clip's merge keys")
    ks.add_argument("project")
    ks.add_argument("--clip", required=True, metavar="NAME")
    ks.set_defaults(func=cmd_keys)
    u = msub.add_parser("unkey", help="delete the merge keys at a frame (all, or the settings named)")
    # argparse reads optional positionals only next to the project:
    # facesmith merge unkey PROJECT [SETTING...] --clip NAME --frame N
    u.add_argument("project")
    u.add_argument("settings", nargs="*", metavar="SETTING", help="only these settings (right after PROJECT)")
    u.add_argument("--clip", required=True, metavar="NAME")
    u.add_argument("--frame", required=True, type=int, metavar="N")
    u.set_defaults(func=cmd_unkey)
    q = sub.add_parser("qa", help="score a render frame by frame (identity, expression, jitter, seam, colour)")
    q.add_argument("project")
    q.add_argument("--clip", required=True, metavar="NAME")
    q.add_argument("--model", type=int, metavar="ID", help="the newest render with this model (default: any)")
    q.add_argument("--render", type=int, metavar="ID", help="this render (default: the clip's newest)")
    q.add_argument("--csv", metavar="FILE", help="also write one row per frame to FILE")
    q.add_argument("--every", type=int, metavar="N", help="identity embedding on every N-th frame (default 1)")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.set_defaults(func=cmd_qa)
