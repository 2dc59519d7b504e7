"""Demo: ``python -m widgets.face_graph [--faces N] [--seconds S]``.

Shows 100,000 synthetic faces with their pose and expression coverage; prints what the
user selects. ``--seconds`` closes the window after that long (the test runs it for 1 s).
"""

from __future__ import annotations

import argparse
import sys
import time

from PySide6 import QtCore, QtWidgets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m widgets.face_graph", description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=None, help="close after this many seconds")
    args = parser.parse_args(argv)

    from widgets.face_graph import FaceGraphWidget
    from widgets.face_graph.synthetic import coverages, synthetic_points

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    graph = FaceGraphWidget()
    graph.setWindowTitle(f"Face graph demo: {args.faces:,} faces")
    graph.resize(1200, 720)
    t = time.perf_counter()
    points = synthetic_points(args.faces)
    for cov in coverages(points).values():
        graph.set_coverage(cov)  # type: ignore[arg-type]
    graph.set_points(points)
    print(f"{args.faces:,} faces and coverage set in {(time.perf_counter() - t) * 1000:.0f} ms")

    def on_selection(ids: object) -> None:
        print(f"selected {len(ids)} faces" + (f": {list(ids[:8])}{' ...' if len(ids) > 8 else ''}" if len(ids) else ""))  # type: ignore[arg-type,index]

    graph.selection_changed.connect(on_selection)
    graph.gap_selected.connect(lambda gap: print(f"gap {gap.index}: {gap.dst_count} dst, {gap.src_count} src"))
    graph.export_gaps_requested.connect(lambda: print(graph.gaps_csv(), end=""))
    graph.show()
    if args.seconds is not None:
        QtCore.QTimer.singleShot(int(args.seconds * 1000), app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
