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
from PySide6.QtWidgets import QWidget

from app.document import ProjectDocument
from engine.curation import keep
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
        # Every face is plotted (faces outside the training set in grey, "Colour: state" shows
        # not trained / not swapped); the coverage counts the training set only.
        keep = ~cols["excluded"]
        self.graph.set_points(GraphPoints.build(
            ids=cols["id"], role=cols["role"], yaw=cols["yaw"], pitch=cols["pitch"],
            mouth_open=cols["mouth_open"], eyes_open=cols["eyes_open"], smile=cols["smile"],
            person=cols["person_id"], sharpness=cols["sharpness"], clip=cols["clip_id"],
            excluded=cols["excluded"], swap_excluded=cols["swap_excluded"]))
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
    def keep_person(self, person_id: int, *, role: str | None = None) -> ChangeSet:
        return self.document.execute("Keep person", lambda store: persons.keep_person(store, person_id, role=role))

    def confirm_and_apply(self, parent: QWidget | None, title: str, plan: keep.KeepPlan) -> ChangeSet | None:
        """Show what ``plan`` will do and apply it (one undo step) when the user agrees."""
        from PySide6.QtWidgets import QMessageBox

        if plan.empty:
            QMessageBox.information(parent, title, plan.text[0].upper() + plan.text[1:] + ".")
            return None
        answer = QMessageBox.question(parent, title, plan.text[0].upper() + plan.text[1:]
                                      + ".\n\nThis is one step on the undo stack.")
        if answer != QMessageBox.StandardButton.Yes:
            return None
        return self.document.execute(title, lambda store: keep.apply(store, plan))

    def keep_person_confirmed(self, parent: QWidget | None, person_id: int, role: str | None = None) -> ChangeSet | None:
        """Keep Only Selected Person: within its role and clips, after a confirmation."""
        store = self.document.store
        if role is None and len(keep.person_roles(store, person_id)) > 1:
            from PySide6.QtWidgets import QInputDialog

            role, ok = QInputDialog.getItem(parent, "Keep person", "This person has src and dst faces; keep it in:",
                                            ["dst", "src"], 0, False)
            if not ok:
                return None
        return self.confirm_and_apply(parent, "Keep person", keep.plan_keep_person(store, person_id, role=role))

    def keep_best_confirmed(self, parent: QWidget | None) -> ChangeSet | None:
        """Keep Best Faces: on the src training set unless the user picks dst; confirmed."""
        from PySide6.QtWidgets import QInputDialog

        roles = ["src training set", "dst training set"]
        choice, ok = QInputDialog.getItem(parent, "Keep best faces", "Thin out:", roles, 0, False)
        if not ok:
            return None
        role = "dst" if choice == roles[1] else "src"
        total = int(self.document.store.scalar(
            "SELECT count(*) FROM faces f JOIN clips c ON c.id = f.clip_id WHERE f.excluded = 0 AND c.role = ?",
            (role,)))
        target, ok = QInputDialog.getInt(parent, "Keep best faces",
                                         f"{role} faces to keep (of {total}), spread over all poses:",
                                         min(total, 2000), 1, max(total, 1))
        if not ok:
            return None
        return self.confirm_and_apply(parent, "Keep best faces",
                                      keep.plan_best_faces(self.document.store, target, role=role))

    def merge_persons(self, sources: list[int], target: int) -> ChangeSet:
        return self.document.execute("Merge persons", lambda store: persons.merge_persons(store, sources, target))

    def split_faces(self, face_ids: list[int], name: str) -> ChangeSet:
        return self.document.execute("Split faces", lambda store: persons.split_faces(store, face_ids, name)[1])

    def keep_best(self, target: int, *, role: str = "src") -> ChangeSet:
        return self.document.execute("Keep best faces",
                                     lambda store: persons.exclude_all_but_best(store, target, role=role))

    def _export_gaps(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(self.graph, "Export gaps", str(self.document.root / "gaps.csv"),
                                              "CSV (*.csv)")
        if path:
            Path(path).write_text(self.graph.gaps_csv(), encoding="utf-8")
