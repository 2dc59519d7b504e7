"""File ▸ Import / Export: DeepFaceLab and FaceSwap work in and out, models out.

Every entry asks for its file or folder, then queues the same job as the command line
(:mod:`engine.jobs.kinds.interop`); the engine runs it, the Jobs dock and a progress
dialog show it, and a finished import refreshes the views through the document (the
job's change set). Nothing runs in the window's thread but the dialogs.

The methods that queue (:meth:`InteropMenu.import_dfl` ...) take their paths as
arguments, so tests drive them without file dialogs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMessageBox, QProgressDialog

from engine.errors import FacesmithError

if TYPE_CHECKING:
    from app.main_window import MainWindow


class InteropMenu(QObject):
    """The Import and Export submenus of the File menu, and the jobs they start."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self._progress: dict[int, QProgressDialog] = {}
        file_menu = window.menuBar().actions()[0].menu()
        before = window.actions.preferences
        self.import_menu = QMenu("&Import", window)
        self.export_menu = QMenu("E&xport", window)
        self.import_dfl_action = self._add(self.import_menu, "DeepFaceLab &Face Set…", self._ask_import_dfl,
                                           "A folder of DFL aligned faces (landmarks, XSeg polygons and masks)")
        self.import_fs_action = self._add(self.import_menu, "FaceSwap &Alignments…", self._ask_import_faceswap_file,
                                          "A .fsa or .json alignments file of a video in the project")
        self.import_fs_folder_action = self._add(self.import_menu, "FaceSwap Face F&older…",
                                                 self._ask_import_faceswap_folder,
                                                 "A folder of FaceSwap face PNGs of a video in the project")
        self.export_dfl_action = self._add(self.export_menu, "DeepFaceLab &Face Set…", self._ask_export_dfl,
                                           "The selected faces (or the selected person, or all) as DFL aligned faces")
        self.export_fs_action = self._add(self.export_menu, "FaceSwap &Alignments…", self._ask_export_faceswap,
                                          "A clip's faces as a FaceSwap .fsa file")
        self.export_onnx_action = self._add(self.export_menu, "Swap Model as &ONNX…",
                                            lambda: self._ask_export_model("onnx"), "A trained swap model as ONNX")
        self.export_dfm_action = self._add(self.export_menu, "Swap Model for DeepFace&Live (.dfm)…",
                                           lambda: self._ask_export_model("dfm"), "A trained swap model for DeepFaceLive")
        file_menu.insertMenu(before, self.import_menu)
        file_menu.insertMenu(before, self.export_menu)
        file_menu.insertSeparator(before)
        engine = window.engine
        engine.job_progress.connect(self._on_progress)
        engine.job_finished.connect(self._on_finished)
        engine.job_failed.connect(self._on_failed)

    def _add(self, menu: QMenu, text: str, slot: Any, tip: str) -> QAction:
        action = menu.addAction(text)
        action.setStatusTip(tip)
        action.setToolTip(tip)
        action.triggered.connect(slot)
        return action

    # ------------------------------------------------------------------ queueing
    def submit(self, kind: str, params: dict[str, Any]) -> int | None:
        """Queue a job; bad parameters are shown, not raised. Returns the job id."""
        try:
            job = self.window.engine.submit(kind, params)
        except FacesmithError as exc:
            QMessageBox.warning(self.window, "Cannot start", str(exc))
            return None
        dialog = QProgressDialog(f"{kind.replace('_', ' ')}…", "Hide", 0, 1000, self.window)
        dialog.setWindowTitle("Facesmith")
        dialog.setWindowModality(Qt.WindowModality.NonModal)
        dialog.setMinimumDuration(500)
        dialog.setAutoClose(False)
        dialog.setValue(0)
        self._progress[job.id] = dialog
        return job.id

    def import_dfl(self, folder: str | Path, *, clip: str | None = None, role: str = "src") -> int | None:
        params: dict[str, Any] = {"folder": str(folder), "role": role}
        if clip:
            params["clip"] = clip
        return self.submit("import_dfl", params)

    def import_faceswap(self, source: str | Path, clip: str) -> int | None:
        return self.submit("import_faceswap", {"source": str(source), "clip": clip})

    def export_dfl(self, out: str | Path, *, face_ids: list[int] | None = None, person: int | None = None) -> int | None:
        params: dict[str, Any] = {"out": str(out)}
        if face_ids:
            params["face_ids"] = [int(i) for i in face_ids]
        elif person is not None:
            params["person"] = int(person)
        return self.submit("export_dfl", params)

    def export_faceswap(self, clip: str, out: str | Path) -> int | None:
        return self.submit("export_faceswap", {"clip": clip, "out": str(out)})

    def export_model(self, model_id: int, out: str | Path, fmt: str) -> int | None:
        return self.submit("export_model", {"model": int(model_id), "out": str(out), "format": fmt})

    # ------------------------------------------------------------------ progress
    def _on_progress(self, job_id: int, fraction: float, text: str) -> None:
        dialog = self._progress.get(job_id)
        if dialog is not None:
            dialog.setValue(int(fraction * 1000))
            if text:
                dialog.setLabelText(text)

    def _close(self, job_id: int) -> None:
        dialog = self._progress.pop(job_id, None)
        if dialog is not None:
            dialog.close()
            dialog.deleteLater()

    def _on_finished(self, job_id: int, _changes: object) -> None:
        if job_id not in self._progress:
            return
        self._close(job_id)
        job = self.window.engine.queue.job(job_id)
        result = job.result or {}
        self.window.statusBar().showMessage(result.get("message") or "done", 15000)
        broken = (result.get("data") or {}).get("broken") or []
        if broken:
            QMessageBox.information(self.window, "Some files were skipped",
                                    f"{result.get('message')}\n\n" + "\n".join(broken[:30])
                                    + (f"\n… and {len(broken) - 30} more" if len(broken) > 30 else ""))

    def _on_failed(self, job_id: int, _error: str) -> None:
        self._close(job_id)  # the window's own handler shows the error

    # ------------------------------------------------------------------ dialogs
    def _video_clip(self, title: str) -> str | None:
        names = [c.name for c in self.window.document.store.clips() if c.kind == "video"]
        if not names:
            QMessageBox.information(self.window, title, "Add the video first: FaceSwap alignments belong to a video.")
            return None
        name, ok = QInputDialog.getItem(self.window, title, "Video clip:", names, 0, False)
        return name if ok else None

    def _ask_import_dfl(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Import a DeepFaceLab face set")
        if folder:
            self.import_dfl(folder)

    def _ask_import_faceswap_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Import FaceSwap alignments", "",
                                              "FaceSwap alignments (*.fsa *.json);;All files (*)")
        clip = self._video_clip("Import FaceSwap alignments") if path else None
        if path and clip:
            self.import_faceswap(path, clip)

    def _ask_import_faceswap_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Import a FaceSwap face folder")
        clip = self._video_clip("Import FaceSwap faces") if folder else None
        if folder and clip:
            self.import_faceswap(folder, clip)

    def _ask_export_dfl(self) -> None:
        out = QFileDialog.getExistingDirectory(self.window, "Export a DeepFaceLab face set into (an empty folder)")
        if not out:
            return
        selected = [int(i) for i in self.window.faces_panel.grid.selected_ids()]
        persons = self.window.browser.selected_ids("person")
        self.export_dfl(out, face_ids=selected or None, person=persons[0] if persons and not selected else None)

    def _ask_export_faceswap(self) -> None:
        clip = self._video_clip("Export FaceSwap alignments")
        if not clip:
            return
        out, _ = QFileDialog.getSaveFileName(self.window, "Export FaceSwap alignments", f"{clip}_alignments.fsa",
                                             "FaceSwap alignments (*.fsa)")
        if out:
            self.export_faceswap(clip, out)

    def _ask_export_model(self, fmt: str) -> None:
        models = self.window.document.store.models("swap")
        if not models:
            QMessageBox.information(self.window, "Export model", "The project has no trained swap model yet.")
            return
        labels = [f"[{m.id}] {m.name} ({m.arch}, {m.resolution} px, {m.iteration} it)" for m in models]
        label, ok = QInputDialog.getItem(self.window, "Export model", "Swap model:", labels, 0, False)
        if not ok:
            return
        model = models[labels.index(label)]
        out, _ = QFileDialog.getSaveFileName(self.window, "Export model", f"{model.name}.{fmt}",
                                             "DeepFaceLive model (*.dfm)" if fmt == "dfm" else "ONNX model (*.onnx)")
        if out:
            self.export_model(model.id, out, fmt)


def install(window: MainWindow) -> InteropMenu:
    return InteropMenu(window)
