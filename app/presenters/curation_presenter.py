"""The face graph and person management in the editor.

The graph shows the project's non-excluded faces (yaw × pitch, or expression) with the
coverage layer; its selection is mirrored into the face grid and frame view. Person
actions (keep one person, merge, split off the selected faces) and the best-faces picker
are undoable commands over :mod:`engine.project.persons`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.document import ProjectDocument
from engine.curation.coverage import compute_coverage
from engine.project import persons
from engine.project.changes import ChangeSet
from widgets.face_graph import FaceGraphWidget, GraphPoints

PLANES = {"pose": ("yaw", "pitch"), "expression": ("mouth_open", "eyes_open"), "smile": ("mouth_open", "smile")}


class CurationPresenter(QObject):
    """Signals: ``selection_changed(np.ndarray)`` — faces picked in the graph."""

    selection_changed = Signal(object)

    def __init__(self, document: ProjectDocument, graph: FaceGraphWidget, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.graph = graph
        self.scores: dict[str, float] = {}
        graph.selection_changed.connect(self.selection_changed)
        graph.export_gaps_requested.connect(self._export_gaps)
        document.changed.connect(self.on_changed)
        self.reload()

    def reload(self) -> None:
        cols = self.document.face_columns()
        keep = ~cols["excluded"]
        self.graph.set_points(GraphPoints.build(
            ids=cols["id"][keep], role=cols["role"][keep], yaw=cols["yaw"][keep], pitch=cols["pitch"][keep],
            mouth_open=cols["mouth_open"][keep], eyes_open=cols["eyes_open"][keep], smile=cols["smile"][keep],
            person=cols["person_id"][keep], sharpness=cols["sharpness"][keep], clip=cols["clip_id"][keep]))
        src = keep & (cols["role"] == 0)
        dst = keep & (cols["role"] == 1)
        for plane, (x, y) in PLANES.items():
            cov = compute_coverage(np.column_stack([cols[x][src], cols[y][src]]),
                                   np.column_stack([cols[x][dst], cols[y][dst]]), plane=plane,
                                   src_ids=cols["id"][src], dst_ids=cols["id"][dst])
            self.graph.set_coverage(cov, plane=plane)
            self.scores[plane] = cov.score

    def select_faces(self, ids: np.ndarray) -> None:
        self.graph.select_faces(np.asarray(ids, dtype=np.int64))

    def on_changed(self, changes: ChangeSet) -> None:
        if changes.touches("faces", "persons", "clips"):
            self.reload()

    # ------------------------------------------------------------------ commands
    def keep_person(self, person_id: int) -> ChangeSet:
        return self.document.execute("Keep person", lambda store: persons.keep_person(store, person_id))

    def merge_persons(self, sources: list[int], target: int) -> ChangeSet:
        return self.document.execute("Merge persons", lambda store: persons.merge_persons(store, sources, target))

    def split_faces(self, face_ids: list[int], name: str) -> ChangeSet:
        return self.document.execute("Split faces", lambda store: persons.split_faces(store, face_ids, name)[1])

    def keep_best(self, target: int, *, role: str | None = None) -> ChangeSet:
        return self.document.execute("Keep best faces",
                                     lambda store: persons.exclude_all_but_best(store, target, role=role))

    def _export_gaps(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(self.graph, "Export gaps", str(self.document.root / "gaps.csv"),
                                              "CSV (*.csv)")
        if path:
            Path(path).write_text(self.graph.gaps_csv(), encoding="utf-8")
