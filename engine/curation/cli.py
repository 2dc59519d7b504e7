"""``facesmith coverage PROJECT``: the coverage score, per person pair, and the gap list.

The same numbers the face graph shows, for a project on a server with no display, or for
a script that refuses to start training while the score is below a threshold.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from engine.curation.columns import FaceColumns, load_face_columns
from engine.curation.coverage import (
    MIN_DST,
    MIN_SRC,
    PLANES,
    Coverage,
    combined_score,
    compute_coverage,
    coverage_by_person_pair,
    gaps_to_csv,
)
from engine.errors import FacesmithError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("coverage", help="how well the src faces cover the dst poses and expressions")
    p.add_argument("project")
    p.add_argument("--bin", type=float, default=PLANES["pose"].bin_size[0], metavar="DEG",
                   help="pose bin size in degrees (default: %(default)g)")
    p.add_argument("--min-dst", type=int, default=MIN_DST, metavar="N",
                   help="a bin is a gap when it holds at least N dst faces ... (default: %(default)s)")
    p.add_argument("--min-src", type=int, default=MIN_SRC, metavar="M",
                   help="... and fewer than M src faces; covered from M up (default: %(default)s)")
    p.add_argument("--csv", metavar="FILE", help="also write the gap list (every plane) as CSV to FILE")
    p.set_defaults(func=cmd_coverage)


def _pct(score: float) -> str:
    return "n/a" if math.isnan(score) else f"{score * 100:.1f}%"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _coverages(cols: FaceColumns, args: argparse.Namespace) -> dict[str, Coverage]:
    src, dst = cols.is_src(), cols.is_dst()
    out = {}
    for name in PLANES:
        xy = cols.xy(name)
        out[name] = compute_coverage(
            xy[src], xy[dst], plane=name,  # type: ignore[arg-type]
            bin_deg=args.bin if name == "pose" else None, min_dst=args.min_dst, min_src=args.min_src,
            src_ids=cols.id[src], dst_ids=cols.id[dst],
        )
    return out


def cmd_coverage(args: argparse.Namespace) -> int:
    from engine.project.store import ProjectStore

    if not args.bin > 0:
        raise FacesmithError(f"--bin must be positive, got {args.bin:g}")
    if args.min_dst < 1 or args.min_src < 1:
        raise FacesmithError("--min-dst and --min-src must be at least 1")
    with ProjectStore.open(args.project, readonly=True) as store:
        cols = load_face_columns(store)
        persons = {p.id: p.name for p in store.persons()}
        name = store.name
    covs = _coverages(cols, args)
    n_src, n_dst = int(cols.is_src().sum()), int(cols.is_dst().sum())
    print(f"coverage of {name}: {n_src} src faces, {n_dst} dst faces (excluded faces left out)")
    print(f"a bin is covered from {args.min_src} src faces; a gap has >= {args.min_dst} dst faces "
          f"and < {args.min_src} src faces")
    for plane, cov in covs.items():
        bx, by = cov.bin_size
        size = f"{bx:g}{PLANES[plane].unit}" if bx == by else f"{bx:g} x {by:g}"
        print(f"{plane:<11} {_pct(cov.score):>6}  ({cov.covered_dst} of {cov.total_dst} dst faces covered; "
              f"{cov.axes[0]} x {cov.axes[1]}, {size} bins, {_count(len(cov.gaps), 'gap')})")
    print(f"{'pose+expr':<11} {_pct(combined_score([covs['pose'], covs['expression']])):>6}  "
          "(dst faces covered in both pose and expression)")

    _print_pairs(cols, args, persons)

    for plane, cov in covs.items():
        if not cov.gaps:
            continue
        print(f"gaps ({plane}): {len(cov.gaps)}")
        for g in cov.gaps:
            print(f"  {cov.describe_bin(g):<36}  dst {g.dst_count:>6}  src {g.src_count:>4}")
    if not any(c.gaps for c in covs.values()):
        print("no gaps")
    if args.csv:
        Path(args.csv).write_text(gaps_to_csv(list(covs.values())), encoding="utf-8")
        print(f"gap list written to {args.csv}")
    return 0


def _print_pairs(cols: FaceColumns, args: argparse.Namespace, persons: dict[int, str]) -> None:
    src, dst = cols.is_src(), cols.is_dst()
    pairs: dict[str, dict[tuple[int, int], Coverage]] = {}
    for plane in ("pose", "expression"):
        xy = cols.xy(plane)
        pairs[plane] = coverage_by_person_pair(
            xy[src], xy[dst], src_person=cols.person[src], dst_person=cols.person[dst],
            src_ids=cols.id[src], dst_ids=cols.id[dst], plane=plane,
            bin_deg=args.bin if plane == "pose" else None, min_dst=args.min_dst, min_src=args.min_src,
        )
    if not pairs["pose"]:
        return
    print("per person pair (src -> dst):")
    for key, pose in pairs["pose"].items():
        expr = pairs["expression"][key]
        s, d = (persons.get(k, f"person {k}") for k in key)
        print(f"  {s} -> {d}: pose {_pct(pose.score)} ({pose.covered_dst} of {pose.total_dst}), "
              f"expression {_pct(expr.score)}, pose+expr {_pct(combined_score([pose, expr]))}, "
              f"{_count(len(pose.gaps), 'pose gap')}")
