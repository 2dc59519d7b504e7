"""The ``facesmith`` command line.

Every command prints one clear line on bad input (``facesmith: error: FILE: problem``)
and exits non-zero; nothing is changed when a command fails. Job commands (queue, run,
worker, ...) live in :mod:`engine.jobs.cli` and register themselves here.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import engine
from engine.errors import FacesmithError

EXIT_ERROR = 1


def _fmt_duration(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{s:05.2f}" if h else f"{m}:{s:05.2f}"


def cmd_new(args: argparse.Namespace) -> int:
    from engine.project.store import ProjectStore

    with ProjectStore.create(args.path, name=args.name) as store:
        print(f"created project {store.root}")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from engine.project.clips import add_sources
    from engine.project.store import ProjectStore

    with ProjectStore.open(args.project) as store:
        result = add_sources(store, args.clips, args.role)
        for c in result.clips:
            if c.kind != "video":
                print(f"added {c.role} image clip '{c.name}': {c.frame_count} image(s), up to {c.width}x{c.height}")
                continue
            print(f"added {c.role} clip '{c.name}': {c.width}x{c.height}, {c.frame_count} frames "
                  f"at {float(c.fps):g} fps, {_fmt_duration(c.duration_s)}"
                  f"{', audio ' + c.audio_codec if c.audio_codec else ', no audio'}")
        for path, problem in result.skipped:
            print(f"skipped {path}: {problem}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from projects_schema import LATEST_VERSION
    from engine.project.store import ProjectStore

    with ProjectStore.open(args.project, readonly=not _writable(args.project)) as store:
        summary = store.summary()
        counts = store.face_counts()
        print(f"project  {summary['name']}  ({store.root})")
        print(f"schema   v{store.scalar('PRAGMA user_version')} (this Facesmith writes v{LATEST_VERSION})")
        clips = store.clips()
        print(f"clips    {len(clips)}")
        for c in clips:
            faces, excluded = counts.get(c.id, (0, 0))
            status = "  MISSING (facesmith relink)" if c.missing else ""
            start, stop = c.frame_range
            rng = "" if (start, stop) == (0, c.frame_count) else f"  range {start}:{stop}"
            print(f"  [{c.id}] {c.role}  {c.name:<20} {c.width}x{c.height}  {float(c.fps):g} fps  "
                  f"{c.frame_count} frames  {_fmt_duration(c.duration_s)}  "
                  f"faces {faces}{f' ({excluded} excluded)' if excluded else ''}{rng}{status}")
        for role in ("src", "dst"):
            n, ex = summary["faces_by_role"].get(role, (0, 0))
            print(f"faces    {role}: {n}" + (f" ({ex} excluded)" if ex else ""))
        from engine.project.info import info_lines

        print("\n".join(info_lines(store)))
        jobs = summary["jobs_by_state"]
        print("jobs     " + (", ".join(f"{k} {v}" for k, v in sorted(jobs.items())) or "none"))
    return 0


def _writable(project: str) -> bool:
    import os

    from engine.project import layout

    root = layout.project_root(project)
    return os.access(root, os.W_OK) and os.access(root / layout.DB_NAME, os.W_OK)


def cmd_relink(args: argparse.Namespace) -> int:
    from engine.project.clips import relink, relink_missing
    from engine.project.store import ProjectStore

    with ProjectStore.open(args.project) as store:
        if args.clip is not None:
            if args.path is None:
                raise FacesmithError("relink CLIP needs --path NEW_FILE (or give --search FOLDER)")
            result, _ = relink(store, store.find_clip(args.clip), args.path, force=args.force)
            print(f"relinked '{result.clip.name}': {result.old_path} -> {result.new_path}")
            return 0
        missing = [c for c in store.clips() if c.missing]
        if not missing:
            print("no clips are missing")
            return 0
        if args.search is None:
            for c in missing:
                print(f"missing: '{c.name}' ({c.path})")
            raise FacesmithError(f"{len(missing)} clip(s) missing; give --search FOLDER or CLIP --path FILE")
        results, _ = relink_missing(store, args.search)
        for r in results:
            print(f"relinked '{r.clip.name}': {r.old_path} -> {r.new_path}")
        still = [c for c in store.clips() if c.missing]
        for c in still:
            print(f"not found: '{c.name}' ({c.path})")
        return 0 if not still else EXIT_ERROR


def cmd_demo(args: argparse.Namespace) -> int:
    from engine.project.demo import ensure_demo

    root = ensure_demo(Path(args.path) if args.path else None)
    print(f"demo project ready: {root}")
    if args.headless:
        return 0
    return _launch_editor(root)


def _launch_editor(project: Path | None) -> int:
    # The engine never imports the editor (layer rule); it starts it as a program.
    cmd = [sys.executable, "-m", "app"] + ([str(project)] if project else [])
    return subprocess.call(cmd)


def cmd_gui(args: argparse.Namespace) -> int:
    return _launch_editor(Path(args.project) if args.project else None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facesmith", description="Facesmith: face-swap projects from the command line.")
    parser.add_argument("--version", action="version", version=f"facesmith {engine.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("new", help="create a project folder (PATH.facesmith)")
    p.add_argument("path")
    p.add_argument("--name", help="project name (default: the folder name)")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("add", help="add video clips, image folders, sequences (shot_%%04d.png) or stills")
    p.add_argument("project")
    p.add_argument("clips", nargs="+", metavar="CLIP")
    p.add_argument("--role", required=True, choices=("src", "dst"),
                   help="src: the face to put in; dst: the footage to change")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("info", help="show a project's clips, faces and jobs")
    p.add_argument("project")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("relink", help="point missing clips at their moved files")
    p.add_argument("project")
    p.add_argument("clip", nargs="?", help="the clip to relink (name or id); default: all missing clips")
    p.add_argument("--path", help="the clip's new file")
    p.add_argument("--search", metavar="FOLDER", help="find missing clips by content under FOLDER")
    p.add_argument("--force", action="store_true", help="accept a file with other content (re-encoded)")
    p.set_defaults(func=cmd_relink)

    p = sub.add_parser("demo", help="create (or reuse) the demo project and open it")
    p.add_argument("--headless", action="store_true", help="only build the project; open no window")
    p.add_argument("--path", help="where to put the demo project")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("gui", help="open the editor")
    p.add_argument("project", nargs="?")
    p.set_defaults(func=cmd_gui)

    from engine.jobs import cli as jobs_cli

    jobs_cli.register(sub)
    from engine.curation import cli as curation_cli
    from engine.extract import cli as extract_cli
    from engine.masks import cli as masks_cli
    from engine.merge import cli as merge_cli
    from engine.swap import cli as swap_cli

    extract_cli.register(sub)  # facesmith extract
    swap_cli.register(sub)  # facesmith train
    masks_cli.register(sub)  # facesmith xseg ...
    merge_cli.register(sub)  # facesmith render
    curation_cli.register(sub)  # facesmith coverage
    from engine.curation import persons_cli

    persons_cli.register(sub)  # facesmith persons
    from engine.interop import cli as interop_cli

    interop_cli.register(sub)  # facesmith import / export
    from engine import doctor
    from engine.swap import disk_cli

    doctor.register(sub)  # facesmith doctor
    disk_cli.register(sub)  # facesmith models-disk, prune-backups
    from engine.extract import face_cli

    face_cli.register(sub)  # facesmith face add
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FacesmithError as exc:
        print(f"facesmith: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("facesmith: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
