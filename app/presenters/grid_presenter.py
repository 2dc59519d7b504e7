"""Connects the face grid to the document: the project's faces, thumbnails from crop files,
exclude/restore as undoable commands, and refreshes driven by ChangeSets."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject

from app.document import ProjectDocument
from engine.project.changes import ChangeSet
from engine.project.faces import crop_path
from engine.project.person_thumbs import load_thumbnail, person_thumbnails
from widgets.face_grid import FaceGridPanel, FaceTable


class CropFiles:
    """The grid's ThumbnailSource: reads ``faces/<shard>/<id>.jpg`` (called in worker threads)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def load(self, face_id: int) -> np.ndarray:
        path = self.root / crop_path(int(face_id))
        data = np.fromfile(path, dtype=np.uint8)  # a missing file raises: the grid marks it failed
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path}: not a readable image")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def face_table(columns: dict[str, np.ndarray]) -> FaceTable:
    return FaceTable.build(
        columns["id"], clip_id=columns["clip_id"], frame=columns["frame"], role=columns["role"],
        person_id=columns["person_id"], excluded=columns["excluded"], has_mask=columns["has_mask"],
        sharpness=columns["sharpness"], yaw=columns["yaw"], pitch=columns["pitch"], size=columns["box_size"],
        swap_excluded=columns.get("swap_excluded"),
    )


class GridPresenter(QObject):
    """Fills the face grid and turns its requests into commands."""

    def __init__(self, document: ProjectDocument, panel: FaceGridPanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.panel = panel
        self.grid = panel.grid
        self.grid.set_thumbnail_source(CropFiles(document.root))
        self.grid.exclude_requested.connect(lambda ids: self.set_excluded(ids, True))
        self.grid.restore_requested.connect(lambda ids: self.set_excluded(ids, False))
        self.grid.action_requested.connect(self.on_action)
        document.changed.connect(self.on_changed)
        self.reload()

    def reload(self) -> None:
        self.grid.set_faces(face_table(self.document.face_columns()))
        self.refresh_persons()

    def refresh_persons(self) -> None:
        """The person filter's entries, each with the person's best face as its picture."""
        store = self.document.store
        pictures = person_thumbnails(store)
        rows = []
        for p in store.persons():
            path = pictures.get(p.id)
            try:
                picture = load_thumbnail(path, 24) if path is not None else None
            except ValueError:
                picture = None
            rows.append((p.id, p.name, picture, p.uncertain))
        self.panel.set_persons(rows)

    def set_excluded(self, ids: np.ndarray, excluded: bool) -> None:
        ids = [int(i) for i in np.asarray(ids).ravel()]
        if ids:
            verb = "Exclude" if excluded else "Restore"
            self.document.execute(f"{verb} faces", lambda store: store.set_excluded(ids, excluded))

    def delete_faces(self, ids: np.ndarray) -> None:
        """Delete for good; undoable until the project is closed (the crops stay until then)."""
        from engine.project.facesets import delete_faces, deleted_crops

        ids = [int(i) for i in np.asarray(ids).ravel()]
        if ids:
            cs = self.document.execute("Delete faces", lambda store: delete_faces(store, ids))
            # Their crops go when the project closes (an undo before then needs them).
            self.document.__dict__.setdefault("deleted_crops", set()).update(deleted_crops(cs))

    def export_faces(self, ids: np.ndarray, folder: str | Path) -> Path:
        from engine.project.facesets import export_faces

        return export_faces(self.document.store, [int(i) for i in np.asarray(ids).ravel()], folder)

    def on_action(self, name: str, ids: np.ndarray) -> None:
        from PySide6.QtWidgets import QFileDialog, QMessageBox

        from engine.errors import FacesmithError

        try:
            if name == "delete":
                self.delete_faces(ids)
            elif name == "export":
                folder = QFileDialog.getExistingDirectory(self.panel, "Export faces to an empty folder",
                                                          str(self.document.root))
                if folder:
                    out = self.export_faces(ids, folder)
                    QMessageBox.information(self.panel, "Export faces", f"{len(ids)} faces written to {out}")
        except FacesmithError as exc:
            QMessageBox.warning(self.panel, "Faces", str(exc))

    def on_changed(self, changes: ChangeSet) -> None:
        if not changes.touches("faces", "masks", "clips", "persons"):
            return
        face_ids = changes.ids("faces")
        only_rows = not changes.touched and face_ids is not None and not changes.touches("clips", "masks", "persons")
        if only_rows and all(set(r.after or {}) <= {"excluded"} for r in changes.rows if r.table == "faces"):
            # Exclude/restore (and their undo): flags only, no reload.
            for flag in (True, False):
                ids = [rc.id for rc in changes.rows
                       if rc.table == "faces" and rc.after is not None and bool(rc.after["excluded"]) == flag]
                if ids:
                    self.grid.update_flags(ids, excluded=flag)
            return
        self.reload()
        if face_ids:
            self.grid.invalidate_thumbnails(np.fromiter(face_ids, np.int64, len(face_ids)))

    def close(self) -> None:
        self.grid.shutdown()
