"""ChangeSet: a record of what one write changed in a project.

Every store write and every finished job returns one. The editor uses it twice:

- to refresh: each view asks whether ``changes.touches("faces")`` and which ids, and
  redraws only what changed (no "reload everything");
- to undo: a change set that carries the rows *before* and *after* can be applied in
  reverse with ``store.apply(changes.inverse())``.

Bulk results (extraction writing 100,000 faces) are recorded as touched ids only: they
refresh views but are not undoable, since jobs are versioned outputs, not user edits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Row = Mapping[str, Any]


@dataclass(frozen=True)
class RowChange:
    """One row: ``before`` is None for an insert, ``after`` is None for a delete.

    For an update, both hold only the columns that changed (plus nothing else), so an
    inverse restores exactly those columns.
    """

    table: str
    id: int
    before: Row | None
    after: Row | None

    def inverse(self) -> RowChange:
        return RowChange(self.table, self.id, self.after, self.before)

    @property
    def kind(self) -> str:
        if self.before is None:
            return "insert"
        if self.after is None:
            return "delete"
        return "update"


@dataclass(frozen=True)
class ChangeSet:
    """What a write changed.

    Parameters
    ----------
    rows : the row-level changes, in the order they were applied (undoable).
    touched : table -> ids changed without row data (bulk job output); ``None`` as the
        ids means "rows of this table changed, ids not listed".
    label : a short text for undo menus, e.g. "Exclude 12 faces".
    """

    rows: tuple[RowChange, ...] = ()
    touched: Mapping[str, frozenset[int] | None] = field(default_factory=dict)
    label: str = ""

    # -- queries -------------------------------------------------------------------
    @property
    def tables(self) -> frozenset[str]:
        return frozenset(r.table for r in self.rows) | frozenset(self.touched)

    def touches(self, *tables: str) -> bool:
        mine = self.tables
        return any(t in mine for t in tables)

    def ids(self, table: str) -> frozenset[int] | None:
        """Ids of ``table`` that changed; ``None`` when unknown (any row may have)."""
        if table in self.touched and self.touched[table] is None:
            return None
        ids = {r.id for r in self.rows if r.table == table}
        listed = self.touched.get(table)
        if listed:
            ids |= listed
        return frozenset(ids)

    @property
    def undoable(self) -> bool:
        return bool(self.rows) and not self.touched

    @property
    def empty(self) -> bool:
        return not self.rows and not self.touched

    def __bool__(self) -> bool:
        return not self.empty

    # -- algebra -------------------------------------------------------------------
    def inverse(self) -> ChangeSet:
        if self.touched:
            raise ValueError("a bulk change set (touched ids only) cannot be inverted")
        return ChangeSet(tuple(r.inverse() for r in reversed(self.rows)), {}, self.label)

    def merged(self, other: ChangeSet, label: str | None = None) -> ChangeSet:
        touched: dict[str, frozenset[int] | None] = dict(self.touched)
        for table, ids in other.touched.items():
            if table in touched:
                mine = touched[table]
                touched[table] = None if mine is None or ids is None else mine | ids
            else:
                touched[table] = ids
        return ChangeSet(self.rows + other.rows, touched, self.label if label is None else label)

    # -- transport (jobs carry their change set in the result JSON) -----------------
    def summary(self) -> dict[str, list[int] | None]:
        """Table -> sorted ids (or None), JSON-ready; row data is left out."""
        out: dict[str, list[int] | None] = {}
        for table in sorted(self.tables):
            ids = self.ids(table)
            out[table] = None if ids is None else sorted(ids)
        return out

    @classmethod
    def from_summary(cls, summary: Mapping[str, Iterable[int] | None], label: str = "") -> ChangeSet:
        return cls((), {t: (None if ids is None else frozenset(ids)) for t, ids in summary.items()}, label)

    @classmethod
    def bulk(cls, table: str, ids: Iterable[int] | None, label: str = "") -> ChangeSet:
        return cls((), {table: None if ids is None else frozenset(ids)}, label)
