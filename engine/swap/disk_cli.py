"""``facesmith models-disk`` and ``facesmith prune-backups`` (engine.swap.disk)."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_models_disk(args: argparse.Namespace) -> int:
    from engine.project.store import ProjectStore
    from engine.swap.disk import disk_use, report

    with ProjectStore.open(args.project, readonly=True) as store:
        print("\n".join(report(disk_use(store, args.model))))
    return 0


def cmd_prune_backups(args: argparse.Namespace) -> int:
    from engine.project.store import ProjectStore
    from engine.swap.disk import human, prune_backups

    with ProjectStore.open(args.project) as store:
        freed = prune_backups(store, args.model, keep=args.keep)
    for model_id, n in freed.items():
        print(f"model {model_id}: {human(n)} freed")
    print(f"{human(sum(freed.values()))} freed in all")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("models-disk", help="show the disk use of the project's models (latest and backups)")
    p.add_argument("project")
    p.add_argument("--model", type=int, help="one model (its id)")
    p.set_defaults(func=cmd_models_disk)
    p = sub.add_parser("prune-backups", help="delete models' checkpoint backups (never the latest)")
    p.add_argument("project")
    p.add_argument("--model", type=int, help="one model (its id); default every model not training")
    p.add_argument("--keep", type=int, default=0, help="keep the newest N backups")
    p.set_defaults(func=cmd_prune_backups)
