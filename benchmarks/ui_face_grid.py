"""Face grid speed (offscreen, 100,000 faces): opening, scrolling and loading thumbnails.

Open: ``FaceTable`` built from plain column arrays (as the presenter reads them from the
store) and ``FaceGridPanel.grid.set_faces`` on a shown 1280x800 panel, then the time until
the first paint; median of several runs, for rows in store order (the usual case) and in
shuffled order (the table must sort them itself). Target: set_faces <= 50 ms, well inside the
1.5 s budget for opening a project to an interactive window.

Scroll step: with the thumbnails of the pages scrolled through already cached (96 px tiles),
the vertical scroll bar moves one row (or one page), events are processed until the viewport
has painted, and the median time from the move to the paint counts; also a full repaint of
the viewport. Target: <= 16 ms. The same row steps with an empty cache (placeholders drawn,
loads queued to the two worker threads) are reported too.

Thumbnails: time until a 1280x800 page of procedurally drawn thumbnails is on screen from an
empty cache (information only: a real source decodes JPEGs instead).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _common import report  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from widgets.face_grid import FaceGridPanel, FaceGridView, FaceTable  # noqa: E402
from widgets.face_grid.synthetic import SyntheticThumbnails, synthetic_table  # noqa: E402

COUNT = 100_000
RUNS = 7
STEPS = 120
PAGE_STEPS = 40


def _columns(table: FaceTable, order: np.ndarray) -> dict[str, np.ndarray]:
    """The table's columns as fresh arrays (what a presenter has after reading the store)."""
    cols = {name: np.array(getattr(table, name)[order]) for name in
            ("clip_id", "frame", "role", "person_id", "excluded", "has_mask", "sharpness", "yaw", "pitch")}
    cols["embedding"] = np.array(table.embedding[order])
    return {"id": np.array(table.id[order]), **cols}


def _paint(app: QApplication, grid: FaceGridView, before: int, limit_s: float = 1.0) -> None:
    end = time.perf_counter() + limit_s
    while grid.paint_count == before and time.perf_counter() < end:
        app.processEvents()


def open_times(app: QApplication, panel: FaceGridPanel, base: FaceTable, *,
               shuffled: bool) -> tuple[float, float, float]:
    """Median (build FaceTable ms, set_faces ms, until first paint ms)."""
    rng = np.random.default_rng(7)
    grid = panel.grid
    build, setting, painted = [], [], []
    for _ in range(RUNS):
        order = rng.permutation(COUNT) if shuffled else np.arange(COUNT)
        cols = _columns(base, order)
        grid.set_faces(FaceTable.empty())
        app.processEvents()
        t0 = time.perf_counter()
        table = FaceTable(**cols)
        t1 = time.perf_counter()
        before = grid.paint_count
        grid.set_faces(table)
        t2 = time.perf_counter()
        _paint(app, grid, before)
        t3 = time.perf_counter()
        build.append(t1 - t0)
        setting.append(t2 - t1)
        painted.append(t3 - t1)
    return tuple(statistics.median(v) * 1000 for v in (build, setting, painted))  # type: ignore[return-value]


def scroll_ms(app: QApplication, grid: FaceGridView, step: int, steps: int = STEPS) -> tuple[float, float]:
    """(median, p95) ms from a scroll bar move of ``step`` px until the viewport painted."""
    bar = grid.verticalScrollBar()
    bar.setValue(0)
    app.processEvents()
    times = []
    for _ in range(steps):
        before = grid.paint_count
        t = time.perf_counter()
        bar.setValue(bar.value() + step)
        _paint(app, grid, before)
        times.append(time.perf_counter() - t)
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.95)] * 1000


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    base = synthetic_table(COUNT)
    panel = FaceGridPanel()
    panel.resize(1280, 800)
    panel.show()
    app.processEvents()
    grid = panel.grid

    build_ms, set_ms, paint_ms = open_times(app, panel, base, shuffled=False)
    ok = report("face_grid_set_faces_100k_ms", set_ms, "ms", "<= 50")
    ok &= report("face_grid_open_to_first_paint_100k_ms", paint_ms, "ms", "<= 150")
    print(f"  (FaceTable from columns: {build_ms:.1f} ms)")
    build_ms, set_ms, paint_ms = open_times(app, panel, base, shuffled=True)
    ok &= report("face_grid_set_faces_100k_shuffled_ms", set_ms, "ms", "<= 50")
    print(f"  (FaceTable from shuffled columns: {build_ms:.1f} ms; first paint {paint_ms:.1f} ms)")

    # Scrolling with an empty cache first: placeholders, and loads queued to the workers.
    source = SyntheticThumbnails(base, size=grid.tile_size())
    grid.set_faces(base)
    grid.set_thumbnail_source(source)
    cell = grid.tile_size() + 10
    cold_median, cold_p95 = scroll_ms(app, grid, cell, steps=60)
    grid.shutdown()

    # Then with the thumbnails of every page scrolled through in the cache.
    grid.set_thumbnail_source(source)
    page = grid.verticalScrollBar().pageStep()
    first_top = grid.face_rect(int(grid.shown_ids()[0])).top()
    columns = sum(grid.face_rect(int(i)).top() == first_top for i in grid.shown_ids()[:64])
    rows = max(STEPS, PAGE_STEPS * page // cell) + 12
    grid.loader.load_now(grid.shown_ids()[: rows * columns].tolist(), grid.tile_size())
    assert grid.loader.cached_count() >= rows * columns, "the cache is too small for the benchmark"
    median_row, p95_row = scroll_ms(app, grid, cell)
    median_page, p95_page = scroll_ms(app, grid, page, steps=PAGE_STEPS)
    repaints = []
    for _ in range(60):
        t = time.perf_counter()
        grid.viewport().repaint()
        repaints.append(time.perf_counter() - t)
    ok &= report("face_grid_scroll_step_ms", median_row, "ms", "<= 16")
    print(f"  (one row per step, p95 {p95_row:.1f} ms; {len(grid.visible_ids())} tiles in view)")
    ok &= report("face_grid_scroll_page_step_ms", median_page, "ms", "<= 16")
    print(f"  (one page per step, p95 {p95_page:.1f} ms)")
    ok &= report("face_grid_full_repaint_ms", statistics.median(repaints) * 1000, "ms", "<= 16")
    ok &= report("face_grid_scroll_step_uncached_ms", cold_median, "ms", "<= 16")
    print(f"  (empty cache, p95 {cold_p95:.1f} ms)")

    # A page of thumbnails from an empty cache (two worker threads, procedural images).
    grid.set_thumbnail_source(SyntheticThumbnails(base, size=grid.tile_size()))
    grid.verticalScrollBar().setValue(cell * 5000)
    t = time.perf_counter()
    visible = grid.visible_ids().tolist()
    while not all(grid.loader.get(i) is not None for i in visible) and time.perf_counter() - t < 10:
        app.processEvents()
        time.sleep(0.001)
    print(f"face_grid_page_of_thumbnails_ms: {(time.perf_counter() - t) * 1000:.1f} ms "
          f"({len(visible)} thumbnails, information only)")
    grid.shutdown()
    panel.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
