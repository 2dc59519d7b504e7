"""``facesmith render``: queue a render of a clip and (usually) run it here.

With no worker running on the project the job runs in the foreground with a progress
bar (frames/s in its status); Ctrl+C stops it after the current batch and leaves it
queued, and ``facesmith worker`` (or the editor) continues it where it was. With a
worker running, or ``--queue-only``, it is only queued. Everything is checked before the
job is queued (clip, model, settings file, options), so a mistake changes nothing.

Only argparse at import time: :func:`register` runs every time the CLI builds its parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.errors import FacesmithError


def _params(args: argparse.Namespace) -> dict[str, Any]:
    from engine.extract.cli import parse_range
    from engine.merge.settings import MergeSettings

    p: dict[str, Any] = {"clip": args.clip}
    if args.out:
        p["out"] = str(Path(args.out).expanduser().resolve())
    fmt = args.format
    if fmt is None and args.out:
        suffix = Path(args.out).suffix.lower()
        fmt = {".mp4": "mp4", ".mkv": "mkv"}.get(suffix)
    if fmt is not None:
        p["format"] = fmt
    if args.range:
        p["start"], p["stop"] = parse_range(args.range)
    if args.settings:
        path = Path(args.settings).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise FacesmithError(f"{path}: cannot read the settings file ({exc.strerror})") from None
        try:
            p["settings"] = MergeSettings.loads(text).to_json()
        except FacesmithError as exc:
            raise FacesmithError(f"{path}: {exc}") from None
    for name in ("model", "codec", "crf", "preset", "device", "batch_size", "threads"):
        value = getattr(args, name)
        if value is not None:
            p[name] = value
    if args.segment_frames is not None:
        p["segment_frames"] = args.segment_frames
    if args.no_audio:
        p["audio"] = False
    if args.person:
        p["persons"] = [int(x) for x in args.person]
    return p


def cmd_render(args: argparse.Namespace) -> int:
    from engine.jobs.cli import run_in_foreground
    from engine.jobs.queue import JobQueue
    from engine.jobs.registry import get_kind
    from engine.merge.render import frame_range, pick_model
    from engine.project.store import ProjectStore
    from engine.swap.cli import _busy_worker

    params = _params(args)
    with ProjectStore.open(args.project) as store:
        req = get_kind("render").parse(params)  # refuses bad options (JobError)
        clip = store.find_clip(req.clip)
        frame_range(clip, req.start, req.stop)
        from engine.project.images import check_renderable

        check_renderable(store, clip, req.format)
        if req.persons:
            from engine.project.targets import check_persons

            check_persons(store, clip, req.persons)
        model_id = pick_model(store, req.model)
        params["model"] = model_id
        job = JobQueue(store).enqueue("render", params)
        busy = None if args.queue_only else _busy_worker(store)
    what = f"render of '{clip.name}' with model {model_id}"
    if args.queue_only:
        print(f"queued job {job.id} ({what})")
        return 0
    if busy is not None:
        print(f"queued job {job.id} ({what}); a worker is running job {busy} on this project and will run it after")
        return 0
    return run_in_foreground(args.project, job.id, label="render", quiet=args.quiet)


def register(sub: Any) -> None:
    p = sub.add_parser("render", help="merge a clip with a swap model into a video, PNGs or RGBA patches")
    p.add_argument("project")
    p.add_argument("--clip", required=True, metavar="NAME", help="the clip to render (name or id)")
    p.add_argument("--out", metavar="FILE", help="output file (mp4/mkv) or folder (png/rgba); default under renders/")
    p.add_argument("--format", choices=("mp4", "mkv", "png", "rgba"),
                   help="mp4 (default), mkv, png (frames) or rgba (16-bit face patches + JSON sidecar)")
    p.add_argument("--range", metavar="A:B", help="frames A to B (B exclusive); default: the clip's in/out range")
    p.add_argument("--model", type=int, metavar="ID", help="the swap model (default: the most recently trained)")
    p.add_argument("--settings", metavar="FILE.json", help="merge settings (default: the clip's saved settings)")
    p.add_argument("--codec", choices=("h264", "h265"), help="video codec (default h264)")
    p.add_argument("--crf", type=int, help="quality, 0-51, lower is better (default 18)")
    p.add_argument("--preset", help="encoder speed preset, ultrafast..veryslow (default medium)")
    p.add_argument("--device", help="auto, cpu or cuda[:N]")
    p.add_argument("--batch-size", dest="batch_size", type=int, help="faces per model call (default 8)")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--segment-frames", dest="segment_frames", type=int,
                   help="frames per resumable video part (default 250)")
    p.add_argument("--no-audio", action="store_true", help="do not copy the clip's audio")
    p.add_argument("--person", action="append", type=int, metavar="ID",
                   help="swap only this person's faces (repeat for several; default: the clip's merge targets, "
                        "else every face); see 'facesmith persons'")
    p.add_argument("--queue-only", action="store_true", help="only queue the job")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_render)
    from engine.merge import keys_cli

    keys_cli.register(sub)  # facesmith merge key|keys|unkey, facesmith qa
