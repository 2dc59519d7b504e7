"""Demo: the face grid with 100,000 synthetic faces and procedurally drawn thumbnails.

    python -m widgets.face_grid [--count 100000] [--seconds 1] [--delay-ms 2]

Delete / Shift+Delete exclude and restore (the demo plays the presenter and applies them at
once), double-click "jumps" to the face's frame, Ctrl+wheel changes the tile size.
``--seconds N`` closes the window after N seconds (the test suite runs it for 1 s).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

from widgets.face_grid.face_grid_panel import FaceGridPanel
from widgets.face_grid.synthetic import SyntheticThumbnails, synthetic_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m widgets.face_grid", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="number of synthetic faces")
    parser.add_argument("--seconds", type=float, default=0.0, help="close after this many seconds (0: stay open)")
    parser.add_argument("--delay-ms", type=float, default=2.0, help="simulated decode time per thumbnail")
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    table = synthetic_table(args.count)
    window = QMainWindow()
    window.setWindowTitle(f"Face grid demo — {args.count:,} faces")
    panel = FaceGridPanel()
    grid = panel.grid
    grid.set_thumbnail_source(SyntheticThumbnails(table, delay_s=args.delay_ms / 1000))
    t = time.perf_counter()
    grid.set_faces(table)
    took_ms = (time.perf_counter() - t) * 1000
    status = QLabel(f"set_faces({args.count:,} faces): {took_ms:.1f} ms")
    window.statusBar().addWidget(status, 1)

    # The demo plays the presenter: it applies the requests at once (the editor pushes an
    # undoable command and calls update_flags from the resulting change set).
    grid.exclude_requested.connect(lambda ids: grid.update_flags(ids, excluded=True))
    grid.restore_requested.connect(lambda ids: grid.update_flags(ids, excluded=False))

    def activated(face_id: int) -> None:
        row = int(grid.table().rows_of([face_id])[0])
        status.setText(f"jump to clip {grid.table().clip_id[row]}, frame {grid.table().frame[row]} (face {face_id})")

    def selected(ids: np.ndarray) -> None:
        status.setText(f"{ids.size:,} selected" + (f": {ids[:8].tolist()}…" if ids.size > 8 else f": {ids.tolist()}"))

    grid.face_activated.connect(activated)
    grid.selection_changed.connect(selected)
    window.setCentralWidget(panel)
    window.resize(1100, 760)
    window.show()
    print(status.text(), flush=True)
    if args.seconds > 0:
        QTimer.singleShot(round(args.seconds * 1000), window.close)
    code = app.exec()
    grid.shutdown()
    print(f"loaded {grid.loader.cached_count():,} thumbnails", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
