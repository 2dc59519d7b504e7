"""``facesmith persons PROJECT [list|rename|merge|keep|export|target]``: persons without the editor.

``persons PROJECT`` lists every person: id, name, role(s), clips, faces (in the training
set / all) and a thumbnail (the crop of its sharpest face), so the ids for ``train
--src-person``, ``render --person`` and the actions here are at hand on a server.
Each action is the editor's edit, refused with the reason when it cannot be done.
"""

from __future__ import annotations

import argparse
from typing import Any

from engine.errors import FacesmithError

ACTIONS = ("list", "rename", "merge", "keep", "export", "target")


def register(sub: Any) -> None:
    p = sub.add_parser("persons", help="list persons; rename, merge, keep one (per role), export, merge targets",
                       description="facesmith persons PROJECT                      list persons\n"
                                   "facesmith persons PROJECT rename ID NAME\n"
                                   "facesmith persons PROJECT merge ID ID...       (into the first)\n"
                                   "facesmith persons PROJECT keep ID [--role R]   (within its role and clips)\n"
                                   "facesmith persons PROJECT export ID FOLDER     (aligned faces + metadata)\n"
                                   "facesmith persons PROJECT target CLIP [ID...]  (merge targets of a dst clip:"
                                   " swap only these; no ids: every face)",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("project")
    p.add_argument("action", nargs="?", default="list", choices=ACTIONS)
    p.add_argument("args", nargs="*")
    p.add_argument("--role", choices=("src", "dst"), help="keep: the role, when the person has faces in both")
    p.add_argument("--track", action="append", type=int, default=[], metavar="T",
                   help="target: also swap this track of the clip (repeat; after the person ids)")
    p.set_defaults(func=cmd_persons)


def _ints(values: list[str], what: str) -> list[int]:
    try:
        return [int(v) for v in values]
    except ValueError:
        raise FacesmithError(f"{what} must be person ids (numbers), got {' '.join(values)}") from None


def _list(store: Any) -> None:
    rows = store.query(
        "SELECT p.id, p.name, p.wanted, group_concat(DISTINCT c.role), group_concat(DISTINCT c.name), "
        "count(f.id), sum(f.excluded = 0) FROM persons p LEFT JOIN faces f ON f.person_id = p.id "
        "LEFT JOIN clips c ON c.id = f.clip_id GROUP BY p.id ORDER BY p.id")
    if not rows:
        print("no persons (extract faces first)")
        return
    print(f"{'id':>4}  {'name':<18} {'role':<8} {'faces':>11}  clips / thumbnail")
    for pid, name, wanted, roles, clips, n, trained in rows:
        best = store.query("SELECT crop_path FROM faces WHERE person_id = ? AND crop_path IS NOT NULL "
                           "ORDER BY coalesce(sharpness, -1) DESC, id LIMIT 1", (pid,))
        thumb = str(store.root / best[0][0]) if best else "-"
        role = ",".join(sorted((roles or "").split(","))) or "-"
        print(f"{pid:>4}  {name + (' *' if wanted else ''):<18} {role:<8} {int(trained or 0):>5}/{int(n):<5}  "
              f"{clips or '-'}")
        print(f"{'':>6}{thumb}")


def cmd_persons(args: argparse.Namespace) -> int:
    from engine.curation import keep
    from engine.project import facesets, persons, targets
    from engine.project.store import ProjectStore

    a = args.args
    need = {"list": (0, 0), "rename": (2, None), "merge": (2, None), "keep": (1, 1), "export": (2, 2),
            "target": (1, None)}[args.action]
    if len(a) < need[0] or (need[1] is not None and len(a) > need[1]):
        raise FacesmithError(f"persons {args.action}: wrong arguments; see 'facesmith persons --help'")
    with ProjectStore.open(args.project) as store:
        if args.action == "list":
            _list(store)
        elif args.action == "rename":
            (pid,) = _ints(a[:1], "rename")
            if pid not in {p.id for p in store.persons()}:
                raise FacesmithError(f"no person with id {pid}")
            store.rename_person(pid, " ".join(a[1:]).strip() or a[1])
            print(f"person {pid} is now '{' '.join(a[1:])}'")
        elif args.action == "merge":
            ids = _ints(a, "merge")
            cs = persons.merge_persons(store, ids[1:], ids[0])
            print(cs.label or "nothing to merge")
        elif args.action == "keep":
            (pid,) = _ints(a, "keep")
            plan = keep.plan_keep_person(store, pid, role=args.role)
            keep.apply(store, plan)
            print(plan.text)
        elif args.action == "export":
            (pid,) = _ints(a[:1], "export")
            out = facesets.export_faces(store, facesets.faces_of_person(store, pid), a[1])
            print(f"exported the faces of person {pid} to {out}")
        else:
            clip = store.find_clip(a[0])
            if clip.role != "dst":
                raise FacesmithError(f"clip '{clip.name}' is a {clip.role} clip; merge targets are for dst clips")
            tracks = [int(t) for t in args.track]
            have = {int(r[0]) for r in store.query("SELECT DISTINCT track_id FROM faces WHERE clip_id = ? "
                                                    "AND track_id IS NOT NULL", (clip.id,))}
            for t in tracks:
                if t not in have:
                    raise FacesmithError(f"clip '{clip.name}' has no track {t}")
            cs = targets.set_targets(store, clip, _ints(a[1:], "target"), tracks)
            print(f"{cs.label} ({targets.swap_filter(store, clip).describe()})")
    return 0
