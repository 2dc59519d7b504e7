"""DFL face-set import speed (issue 15): 10,000 faces in <= 30 s on 2 cores.

Writes a 10,000-face DeepFaceLab set (256 px JPEGs with landmarks, matrices, XSeg
polygons on every tenth face) with the tests' independent writer
(``tests/engine/interop/writers.py``) into a temporary folder, then imports it into a
new project as a face-set clip (metadata and crops; no re-detection): the median of
``--repeat`` runs (default 3), each into a fresh project.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, report

sys.path.insert(0, str(ROOT / "tests" / "engine" / "interop"))

from writers import add_app15, dfl_meta, face_jpeg  # noqa: E402

import pickle  # noqa: E402

from engine.interop.import_dfl import import_dfl  # noqa: E402
from engine.project.store import ProjectStore  # noqa: E402


def write_set(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    jpegs = [face_jpeg(256, seed=i) for i in range(16)]  # encoding is not what is measured
    polys = [{"type": 1, "pts": [[20, 20], [230, 25], [220, 240], [25, 230]]}]
    for i in range(n):
        meta = dfl_meta(size=256, seed=i, source=f"{i + 1:05d}.png", polys=polys if i % 10 == 0 else None)
        (folder / f"{i + 1:05d}_0.jpg").write_bytes(add_app15(jpegs[i % 16], pickle.dumps(meta)))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "aligned"
        t = time.perf_counter()
        write_set(folder, args.faces)
        print(f"(wrote {args.faces} faces in {time.perf_counter() - t:.1f} s)")
        times = []
        for k in range(args.repeat):
            store = ProjectStore.create(Path(tmp) / f"P{k}")
            try:
                t = time.perf_counter()
                s = import_dfl(store, folder)
                times.append(time.perf_counter() - t)
                assert s.faces == args.faces, s.message()
            finally:
                store.close()
        ok = report(f"import {args.faces} DFL faces", statistics.median(times), "s", "<= 30")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
