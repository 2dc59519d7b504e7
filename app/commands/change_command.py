"""ChangeSetCommand: a user edit as a QUndoCommand over a ChangeSet.

The edit itself runs through the store, which returns a ChangeSet with the rows before
and after. Undo applies its inverse, redo applies it again, each in one transaction,
and every step tells the views what changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

from engine.project.changes import ChangeSet

if TYPE_CHECKING:
    from app.document import ProjectDocument


class ChangeSetCommand(QUndoCommand):
    """An edit that has already been applied (``changes``); pushing it only notifies.

    The edit runs *before* the command is pushed, so an edit that fails (bad input) raises
    to its caller and leaves no command on the stack.
    """

    def __init__(self, document: ProjectDocument, changes: ChangeSet, label: str = "") -> None:
        super().__init__(changes.label or label)
        self._document = document
        self.changes = changes
        self._pushed = False

    def redo(self) -> None:
        if self._pushed:
            self._apply(self.changes)
        self._pushed = True
        self._document.notify(self.changes)

    def undo(self) -> None:
        inverse = self.changes.inverse()
        self._apply(inverse)
        self._document.notify(inverse)

    def _apply(self, changes: ChangeSet) -> None:
        self._document.store.apply(changes)
        for hook in self._document.after_apply:
            hook(changes)
