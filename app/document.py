"""ProjectDocument: the editor's open project: its store, its undo stack, its change signal.

Every view refreshes from :attr:`ProjectDocument.changed` (a ChangeSet), whether the
change came from an undoable user edit or from a job the engine finished. Nothing in
the editor calls "reload everything".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from app.commands.change_command import ChangeSetCommand
from engine.project.changes import ChangeSet
from engine.project.store import ProjectStore


class ProjectDocument(QObject):
    """The open project.

    Attributes
    ----------
    store : the main thread's connection to the project database.
    undo_stack : user edits as commands; its clean state is the "saved" marker (every
        command is written to the database at once, so "clean" means "as opened").
    """

    changed = Signal(object)  # ChangeSet

    def __init__(self, store: ProjectStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(500)
        #: Called with the change set after every undo/redo has been applied to the store,
        #: before views hear of it: for derived files (crops) that must follow the rows.
        self.after_apply: list[Callable[[ChangeSet], None]] = []
        self._face_columns: dict[str, np.ndarray] | None = None

    @classmethod
    def open(cls, path: str | Path, parent: QObject | None = None) -> ProjectDocument:
        return cls(ProjectStore.open(path), parent)

    @property
    def root(self) -> Path:
        return self.store.root

    @property
    def name(self) -> str:
        return self.store.name

    def execute(self, label: str, do: Callable[[ProjectStore], ChangeSet]) -> ChangeSet:
        """Run an edit ``do(store) -> ChangeSet`` and push it as one undoable command.

        When ``do`` raises (bad input), nothing was changed and nothing is pushed.
        """
        changes = do(self.store)
        if changes.undoable:
            self.undo_stack.push(ChangeSetCommand(self, changes, label))
        else:
            self.notify(changes)
        return changes

    def notify(self, changes: ChangeSet) -> None:
        """Tell every view what changed (a job result, an undo, an import)."""
        if changes:
            if changes.touches("faces", "clips", "masks", "persons"):
                self._face_columns = None
            self.changed.emit(changes)

    def face_columns(self) -> dict[str, np.ndarray]:
        """The project's faces as columns, shared by the grid, the graph and the timeline
        (loaded once per change rather than once per view; treat the arrays as read-only)."""
        if self._face_columns is None:
            self._face_columns = self.store.face_columns()
        return self._face_columns

    def close(self) -> None:
        self.undo_stack.clear()
        deleted = getattr(self, "deleted_crops", None)
        if deleted and not self.store.readonly:  # deleted faces' crops were kept for undo until now
            from engine.project.facesets import purge_orphan_crops

            purge_orphan_crops(self.store, deleted)
        self.store.close()
