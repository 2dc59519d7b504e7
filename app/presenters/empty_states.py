"""Empty panels say the next step, and the demo's first open offers to extract its faces.

A new user opening the demo project used to meet an empty face grid, an empty face graph
and no persons, with nothing saying what to do. Each of those panels now shows an
:class:`~widgets.empty_state.EmptyState` with the action that fills it ("No faces yet —
Extract Faces…", "No model yet — Train…"), kept in step with the project through the
document's change sets. On the demo's first open the editor asks whether to extract its
faces now; yes queues the extraction, raises the Jobs dock (its progress bar) and the
faces, persons and face graph appear as the job finishes, within a minute.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox

from engine.project.changes import ChangeSet
from widgets.empty_state import EmptyState

if TYPE_CHECKING:
    from app.main_window import MainWindow

#: Meta key set once the demo's first-open offer was made (answered either way).
OFFERED_KEY: Final = "demo_extract_offered"


class EmptyStates(QObject):
    """The empty-state overlays of one window."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        extract = "Extract Faces…"
        self.grid = EmptyState(window.faces_panel.grid, "No faces yet. Extraction finds every face in the "
                                                        "clips, with landmarks, pose and persons.", extract)
        self.graph = EmptyState(window.face_graph.plot, "No faces yet: the face graph plots them by pose "
                                                        "once they are extracted.", extract)
        self.monitor = EmptyState(window.training_workspace.monitor, "No model yet. Train one on the src and "
                                                                     "dst faces.", "Train…")
        for overlay in (self.grid, self.graph):
            overlay.action_requested.connect(window.actions.extract.trigger)
        self.monitor.action_requested.connect(window.training_workspace.actions.train.trigger)
        window.document.changed.connect(self._on_changed)
        self.refresh()

    def refresh(self) -> None:
        store = self.window.document.store
        no_faces = not store.scalar("SELECT EXISTS (SELECT 1 FROM faces)")
        no_models = not store.scalar("SELECT EXISTS (SELECT 1 FROM models WHERE kind = 'swap')")
        no_training = not store.scalar("SELECT EXISTS (SELECT 1 FROM jobs WHERE kind = 'train_swap')")
        self.grid.set_empty(no_faces)
        self.graph.set_empty(no_faces)
        self.monitor.set_empty(no_models and no_training)
        self.monitor.button.setEnabled(not no_faces)
        self.monitor.button.setToolTip("Extract faces first" if no_faces else "Train a swap model")

    def _on_changed(self, changes: ChangeSet) -> None:
        if changes.touches("faces", "models", "jobs"):
            self.refresh()


def offer_demo_extraction(window: MainWindow) -> QMessageBox | None:
    """On the demo's first open (no faces, never offered): ask to extract now. Non-blocking."""
    store = window.document.store
    if store.meta("demo") != "1" or store.meta(OFFERED_KEY) or store.scalar("SELECT EXISTS (SELECT 1 FROM faces)"):
        return None
    store.set_meta(OFFERED_KEY, "1")
    box = QMessageBox(QMessageBox.Icon.Question, "Welcome to Facesmith",
                      "This is the demo project: three short clips, no faces yet.\n\n"
                      "Extract their faces now? It takes about a minute; the Jobs dock shows the progress, "
                      "and the faces, persons and face graph appear when it is done.",
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, window)
    box.button(QMessageBox.StandardButton.Yes).setText("Extract Faces")
    box.button(QMessageBox.StandardButton.No).setText("Not Now")

    def answered(button: int) -> None:
        if button == QMessageBox.StandardButton.Yes:
            window.engine.submit("extract", {})
            window.jobs_dock.show()
            window.jobs_dock.raise_()
            window.statusBar().showMessage("extracting the demo's faces: see the Jobs dock", 10000)

    box.finished.connect(answered)
    box.open()
    window.demo_offer = box
    return box
