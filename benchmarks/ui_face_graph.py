"""Face graph speed with 100,000 faces (issue: curation).

Targets (offscreen): set data (points and coverage into the widget) <= 200 ms; repaint
(``widget.grab()`` after the first paint) <= 35 ms; coverage computation (pose plane,
src and dst 50,000 each) <= 50 ms. Medians over several runs; the machine is shared, so
check ``uptime`` and rerun when it is quiet.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _common import report, timed

import numpy as np
from PySide6 import QtWidgets

from engine.curation.best_faces import pick_best
from engine.curation.coverage import compute_coverage
from widgets.face_graph import FaceGraphWidget
from widgets.face_graph.model import ROLE_SRC, points_in_polygon
from widgets.face_graph.synthetic import coverages, synthetic_points

N = 100_000


def main() -> int:
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    points = synthetic_points(N)
    src = points.role == ROLE_SRC
    xy = np.column_stack(points.xy("pose"))
    ok = True

    t = np.linspace(0, 2 * np.pi, 200)  # a 200-vertex lasso around the frontal faces
    lasso = np.column_stack((20 * np.cos(t), 12 * np.sin(t)))
    lasso_s = timed(lambda: points_in_polygon(xy[:, 0], xy[:, 1], lasso), repeat=7)
    report("lasso_200_vertices_100k_faces_ms", lasso_s * 1000, "ms", "<= 50")  # informative
    pick_s = timed(lambda: pick_best(points.ids, points.yaw, points.pitch, points.sharpness, 2000), repeat=5)
    report("best_faces_pick_2000_of_100k_ms", pick_s * 1000, "ms", "<= 500")  # informative

    cov_s = timed(lambda: compute_coverage(xy[src], xy[~src], src_ids=points.ids[src], dst_ids=points.ids[~src]),
                  repeat=11)
    ok &= report("coverage_100k_faces_ms", cov_s * 1000, "ms", "<= 50")

    graph = FaceGraphWidget()
    graph.resize(1200, 720)
    graph.show()
    app.processEvents()
    covs = coverages(points)

    def set_data() -> None:
        graph.set_coverage(covs["pose"])  # type: ignore[arg-type]
        graph.set_points(points)

    set_s = timed(set_data, repeat=7)
    ok &= report("face_graph_set_data_100k_ms", set_s * 1000, "ms", "<= 200")

    graph.grab()  # the first paint builds the symbol atlas and caches
    app.processEvents()
    paint_s = timed(graph.grab, repeat=15)
    ok &= report("face_graph_repaint_100k_ms", paint_s * 1000, "ms", "<= 35")

    graph.select_faces(points.ids[: N // 10])
    graph.grab()
    sel_s = timed(graph.grab, repeat=15)
    report("face_graph_repaint_100k_10k_selected_ms", sel_s * 1000, "ms", "<= 35")  # informative
    recolour_s = timed(lambda: graph.set_colour_by("sharpness" if graph.colour_by() == "role" else "role"), repeat=7)
    report("face_graph_recolour_100k_ms", recolour_s * 1000, "ms", "<= 200")  # informative
    graph.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
