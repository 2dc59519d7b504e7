"""The project: its folder, its database (ProjectStore) and the value types of its rows."""

from engine.project.changes import ChangeSet, RowChange
from engine.project.store import ProjectStore

__all__ = ["ChangeSet", "ProjectStore", "RowChange"]
