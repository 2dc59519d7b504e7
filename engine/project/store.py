"""ProjectStore: the typed, Qt-free API over a project's SQLite database.

Both processes open their own store (their own connection): the editor for user edits,
the engine for job results. The rules that make that safe (ARCHITECTURE.md section 3):
WAL, a busy timeout, foreign keys on, and ``BEGIN IMMEDIATE`` for every write
transaction, so a read that turns into a write can never fail half-way with SQLITE_BUSY.
Bulk writes go through ``executemany`` in one transaction.

Every write returns a :class:`~engine.project.changes.ChangeSet`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import numpy as np

import engine
from engine.errors import ProjectError
from engine.project import layout
from engine.project.changes import ChangeSet, RowChange
from engine.project.face_insert import FACE_COLUMNS as _FACE_COLUMNS
from engine.project.face_insert import FaceBatch, insert_faces
from engine.project.face_rows import face_arrays, face_filter, face_from_row, faces_from_rows
from engine.project.wal_checkpoint import AUTOCHECKPOINT_PAGES, BackgroundCheckpointer
from engine.project.models import (
    Clip,
    Face,
    Model,
    NewClip,
    NewFace,
    Person,
    Render,
)
from projects_schema import LATEST_VERSION, SchemaError, SchemaTooNewError, migrate

FORMAT: Final = "facesmith-project"
BUSY_TIMEOUT_MS: Final = 10_000
#: How long a writer keeps retrying BEGIN IMMEDIATE before it reports the database busy.
WRITE_RETRY_S: Final = 60.0

_FACE_SELECT: Final = "SELECT id, " + _FACE_COLUMNS + " FROM faces"
_FLOAT_FACE_COLUMNS: Final = ("sharpness", "yaw", "pitch", "roll", "mouth_open", "eyes_open", "smile", "brow_raise")
_CLIP_SELECT: Final = (
    "SELECT id, name, role, path, size_bytes, fingerprint, width, height, fps_num, fps_den, "
    "frame_count, duration_s, rotation, codec, audio_streams, audio_codec, in_frame, "
    "out_frame, added_at, kind FROM clips"
)


def connect(db_path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the project's pragmas; autocommit mode, transactions explicit."""
    if readonly:
        uri = db_path.resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            conn.execute("PRAGMA user_version").fetchone()
        except sqlite3.OperationalError:
            # A WAL database in a read-only folder: SQLite cannot make its -shm file.
            # Nothing can be writing there, so reading it as immutable is safe.
            conn.close()
            conn = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None)
    else:
        conn = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a crash of the program never corrupts or loses a committed
        # transaction; only a power cut may lose the last few.
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _check_writable(root: Path) -> None:
    """Refuse a project we could not write to, before anything is attempted.

    Never open and close ``project.db`` itself here: closing any descriptor of a file
    drops every POSIX lock this process holds on it, including SQLite's locks of other
    connections in the process (the editor has two), which silently breaks them.
    """
    probe = root / f".write-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
        for name in (layout.DB_NAME, layout.DB_NAME + "-wal", layout.DB_NAME + "-shm"):
            path = root / name
            if path.exists() and not os.access(path, os.W_OK):
                raise PermissionError(13, "permission denied", str(path))
    except OSError as exc:
        raise ProjectError(
            root, f"the project folder is read-only ({exc.strerror or exc}); "
            "Facesmith needs to write to it. Copy the project somewhere writable."
        ) from None


class ProjectStore:
    """An open project: its folder and one database connection.

    Use :meth:`create` or :meth:`open`; close with :meth:`close` or a ``with`` block.
    A store (its connection) belongs to the thread that opened it; other threads call
    :meth:`reopen` for their own.
    """

    def __init__(self, root: Path, conn: sqlite3.Connection, *, readonly: bool) -> None:
        self.root: Final = root
        self.db_path: Final = root / layout.DB_NAME
        self.readonly: Final = readonly
        self._conn = conn
        self._checkpointer: BackgroundCheckpointer | None = None
        self._defer_checkpoint = False
        self._txn_depth = 0

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def create(cls, path: str | Path, *, name: str | None = None) -> ProjectStore:
        """Create a project folder (``.facesmith`` is appended when missing)."""
        root = layout.new_project_path(path)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise ProjectError(root, "already exists and is not an empty folder")
        try:
            root.mkdir(parents=True, exist_ok=True)
            for sub in layout.SUBDIRS:
                (root / sub).mkdir(exist_ok=True)
        except OSError as exc:
            raise ProjectError(root, f"cannot create the project folder: {exc.strerror or exc}") from None
        db_path = root / layout.DB_NAME
        bootstrap = sqlite3.connect(db_path)
        # Set before WAL exists: 16 KiB pages keep a face row (~1 KB of arrays) off
        # overflow pages, which makes bulk inserts about a third faster.
        bootstrap.execute("PRAGMA page_size = 16384")
        bootstrap.execute("VACUUM")
        bootstrap.close()
        conn = connect(db_path)
        try:
            migrate(conn, db_path)
            now = time.time()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("format", FORMAT),
                    ("name", name or root.stem),
                    ("project_id", uuid.uuid4().hex),
                    ("created_at", repr(now)),
                    ("created_by", f"facesmith {engine.__version__}"),
                ],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        return cls(root, conn, readonly=False)

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> ProjectStore:
        """Open an existing project, migrating an older schema (after a backup).

        Raises :class:`ProjectError` with a one-line reason for anything that is not a
        usable project: a missing folder, a folder without ``project.db``, a database
        that is not a Facesmith project, one from a newer Facesmith, a read-only folder.
        """
        root = layout.project_root(path)
        db_path = root / layout.DB_NAME
        if not root.exists():
            raise ProjectError(root, "no such project folder")
        if not root.is_dir():
            raise ProjectError(root, "not a Facesmith project (a file, not a project folder)")
        if not db_path.is_file():
            raise ProjectError(root, f"not a Facesmith project (no {layout.DB_NAME} in the folder)")
        if not readonly:
            _check_writable(root)
        try:
            conn = connect(db_path, readonly=readonly)
        except sqlite3.DatabaseError as exc:
            # Detected through SQLite, never by reading the file ourselves: closing our own
            # descriptor of it would drop the locks of the process's other connections.
            if "not a database" in str(exc):
                raise ProjectError(db_path, "not a Facesmith project database (not an SQLite file)") from None
            raise ProjectError(db_path, f"cannot open the project database: {exc}") from None
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > LATEST_VERSION:
                raise SchemaTooNewError(db_path, version, LATEST_VERSION)
            if version == 0:
                raise ProjectError(db_path, "not a Facesmith project database (no schema version)")
            if version < LATEST_VERSION:
                if readonly:
                    raise ProjectError(
                        db_path, f"schema version {version} needs migrating to {LATEST_VERSION}; "
                        "open the project writable once"
                    )
                migrate(conn, db_path)
            fmt = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if fmt is None or fmt[0] != FORMAT:
                raise ProjectError(db_path, "not a Facesmith project database (no project format mark)")
        except SchemaTooNewError as exc:
            conn.close()
            raise ProjectError(db_path, str(exc).split(": ", 1)[1]) from None
        except (SchemaError, sqlite3.DatabaseError) as exc:
            conn.close()
            raise ProjectError(db_path, f"cannot read the project database: {exc}") from None
        except BaseException:
            conn.close()
            raise
        for sub in layout.SUBDIRS:
            if not readonly:
                (root / sub).mkdir(exist_ok=True)
        return cls(root, conn, readonly=readonly)

    def reopen(self) -> ProjectStore:
        """A second store on the same project with its own connection (for another thread)."""
        return ProjectStore(self.root, connect(self.db_path, readonly=self.readonly), readonly=self.readonly)

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._conn.close()

    def defer_checkpoint(self) -> None:
        """Let the commit of the current (big) write leave its WAL checkpoint to a thread."""
        self._defer_checkpoint = True

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """The raw connection, for engine modules that own their SQL (jobs, masks)."""
        return self._conn

    # ------------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``); nested calls join the outer one.

        SQLite's busy timeout covers most contention; on top of it the BEGIN is retried
        for up to ``WRITE_RETRY_S``, so the editor and the engine writing at the same
        moment never surface "database is locked" to the user.
        """
        if self.readonly:
            raise ProjectError(self.root, "the project is open read-only")
        if self._txn_depth:
            self._txn_depth += 1
            try:
                yield self._conn
            finally:
                self._txn_depth -= 1
            return
        deadline = time.monotonic() + WRITE_RETRY_S
        delay = 0.01
        while True:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    raise ProjectError(self.db_path, "the project database stayed busy for a minute") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        self._txn_depth = 1
        self._defer_checkpoint = False
        try:
            yield self._conn
            if self._defer_checkpoint:
                self._commit_deferring_checkpoint()
            else:
                self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        finally:
            self._txn_depth = 0
            self._defer_checkpoint = False

    def _commit_deferring_checkpoint(self) -> None:
        self._conn.execute("PRAGMA wal_autocheckpoint = 0")
        try:
            self._conn.execute("COMMIT")
        finally:
            self._conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
        if self._checkpointer is None:
            self._checkpointer = BackgroundCheckpointer(self.db_path)
        self._checkpointer.request()

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return self._conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        row = self._conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # ------------------------------------------------------------------ meta
    def meta(self, key: str, default: str | None = None) -> str | None:
        value = self.scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return default if value is None else value

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                      "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    @property
    def name(self) -> str:
        return self.meta("name") or self.root.stem

    # ------------------------------------------------------------------ generic apply
    def columns(self, table: str) -> frozenset[str]:
        cache = self.__dict__.setdefault("_columns", {})
        if table not in cache:
            rows = self._conn.execute(f"PRAGMA table_info({table})").fetchall()
            if not rows:
                raise ValueError(f"no table {table!r}")
            cache[table] = frozenset(r["name"] for r in rows)
        return cache[table]

    def row(self, table: str, row_id: int) -> dict[str, Any] | None:
        self.columns(table)  # validates the table name
        found = self._conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
        return None if found is None else dict(found)

    def update_rows(self, table: str, updates: dict[int, dict[str, Any]], *, label: str = "") -> ChangeSet:
        """Update columns of rows by id, recording before/after: the undoable edit."""
        cols = self.columns(table)
        changes: list[RowChange] = []
        with self.transaction() as c:
            for row_id, values in updates.items():
                bad = set(values) - cols
                if bad or "id" in values:
                    raise ValueError(f"cannot set {sorted(bad | ({'id'} & set(values)))} on {table}")
                names = sorted(values)
                old = c.execute(f"SELECT {', '.join(names)} FROM {table} WHERE id = ?", (row_id,)).fetchone()
                if old is None:
                    raise ValueError(f"{table} row {row_id} does not exist")
                before = {n: old[n] for n in names}
                after = {n: values[n] for n in names}
                if before == after:
                    continue
                c.execute(f"UPDATE {table} SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?",
                          [*after.values(), row_id])
                changes.append(RowChange(table, row_id, before, after))
        return ChangeSet(tuple(changes), {}, label)

    def insert_row(self, table: str, values: dict[str, Any], *, label: str = "") -> tuple[int, ChangeSet]:
        """Insert one row, recorded so that undo deletes it again."""
        bad = set(values) - self.columns(table)
        if bad or "id" in values:
            raise ValueError(f"cannot insert {sorted(bad | ({'id'} & set(values)))} into {table}")
        with self.transaction() as c:
            cur = c.execute(f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                            list(values.values()))
            row_id = int(cur.lastrowid)
            stored = dict(c.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone())
        stored.pop("id")
        return row_id, ChangeSet((RowChange(table, row_id, None, stored),), {}, label)

    def delete_rows(self, table: str, ids: Iterable[int], *, label: str = "") -> ChangeSet:
        """Delete rows, recorded whole so that undo puts them back (no cascades: callers
        move dependent rows first)."""
        changes: list[RowChange] = []
        with self.transaction() as c:
            for row_id in ids:
                row = c.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
                if row is None:
                    continue
                before = dict(row)
                before.pop("id")
                c.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))
                changes.append(RowChange(table, row_id, before, None))
        return ChangeSet(tuple(changes), {}, label)

    def apply(self, changes: ChangeSet) -> ChangeSet:
        """Apply the row changes of ``changes`` (the ``after`` side) in one transaction.

        Undo is ``store.apply(cs.inverse())`` and redo ``store.apply(cs)``.
        """
        if changes.touched:
            raise ValueError("only row-level change sets can be applied")
        with self.transaction() as c:
            for rc in changes.rows:
                cols = self.columns(rc.table)
                if rc.after is None:
                    c.execute(f"DELETE FROM {rc.table} WHERE id = ?", (rc.id,))
                    continue
                bad = set(rc.after) - cols
                if bad:
                    raise ValueError(f"unknown columns {sorted(bad)} for {rc.table}")
                if rc.before is None:
                    names = ["id", *rc.after]
                    c.execute(
                        f"INSERT INTO {rc.table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                        [rc.id, *rc.after.values()],
                    )
                else:
                    cur = c.execute(
                        f"UPDATE {rc.table} SET {', '.join(f'{n} = ?' for n in rc.after)} WHERE id = ?",
                        [*rc.after.values(), rc.id],
                    )
                    if cur.rowcount != 1:
                        raise ValueError(f"{rc.table} row {rc.id} no longer exists")
        return changes

    # ------------------------------------------------------------------ clips
    def insert_clips(self, new: Sequence[NewClip]) -> tuple[list[Clip], ChangeSet]:
        """Insert clips in one transaction (validation is :mod:`engine.project.clips`' job)."""
        now = time.time()
        ids: list[int] = []
        rows: list[RowChange] = []
        with self.transaction() as c:
            for n in new:
                values = {
                    "name": n.name, "role": n.role, "path": str(n.path), "size_bytes": n.size_bytes,
                    "fingerprint": n.fingerprint, "width": n.width, "height": n.height,
                    "fps_num": n.fps.numerator, "fps_den": n.fps.denominator,
                    "frame_count": n.frame_count, "duration_s": n.duration_s, "rotation": n.rotation,
                    "codec": n.codec, "audio_streams": n.audio_streams, "audio_codec": n.audio_codec,
                    "in_frame": 0, "out_frame": None, "added_at": now, "kind": n.kind,
                }
                cur = c.execute(
                    f"INSERT INTO clips ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                    list(values.values()),
                )
                ids.append(int(cur.lastrowid))
                rows.append(RowChange("clips", ids[-1], None, values))
        clips = [self.clip(i) for i in ids]
        label = f"Add {len(clips)} clip{'s' if len(clips) != 1 else ''}"
        return clips, ChangeSet(tuple(rows), {}, label)

    def clips(self, role: str | None = None) -> list[Clip]:
        if role is None:
            rows = self.query(_CLIP_SELECT + " ORDER BY role DESC, id")
        else:
            rows = self.query(_CLIP_SELECT + " WHERE role = ? ORDER BY id", (role,))
        return [_clip_from_row(r) for r in rows]

    def clip(self, clip_id: int) -> Clip:
        row = self._conn.execute(_CLIP_SELECT + " WHERE id = ?", (clip_id,)).fetchone()
        if row is None:
            raise ProjectError(self.root, f"no clip with id {clip_id}")
        return _clip_from_row(row)

    def find_clip(self, key: str | int) -> Clip:
        """A clip by id, name or file name; the error lists what the project has."""
        if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
            row = self._conn.execute(_CLIP_SELECT + " WHERE id = ?", (int(key),)).fetchone()
            if row is not None:
                return _clip_from_row(row)
        for clip in self.clips():
            if key in (clip.name, clip.path.name, str(clip.path)):
                return clip
        names = ", ".join(c.name for c in self.clips()) or "none"
        raise ProjectError(self.root, f"no clip named {key!r} (clips: {names})")

    def set_clip_range(self, clip_id: int, in_frame: int, out_frame: int | None) -> ChangeSet:
        clip = self.clip(clip_id)
        if in_frame < 0 or (out_frame is not None and not in_frame < out_frame <= clip.frame_count):
            raise ValueError(f"range {in_frame}:{out_frame} is outside clip {clip.name} (0:{clip.frame_count})")
        return self.update_rows("clips", {clip_id: {"in_frame": in_frame, "out_frame": out_frame}},
                                label=f"Set range of {clip.name}")

    # ------------------------------------------------------------------ faces
    def add_faces(self, faces: Iterable[NewFace] | FaceBatch) -> ChangeSet:
        """Insert faces in bulk (one transaction, columnar ``executemany``); returns their ids."""
        return ChangeSet.bulk("faces", insert_faces(self, faces), label="Add faces")

    def faces(
        self,
        *,
        clip_id: int | None = None,
        frames: tuple[int, int] | None = None,
        include_excluded: bool = True,
        ids: Iterable[int] | None = None,
    ) -> list[Face]:
        """Faces filtered by clip, frame range ``(start, stop)`` (stop exclusive), state."""
        where, params = face_filter(clip_id, frames, include_excluded)
        if ids is not None:
            id_list = list(ids)
            where.append(f"id IN ({', '.join('?' * len(id_list))})")
            params.extend(id_list)
        sql = _FACE_SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY clip_id, frame, idx"
        return faces_from_rows(self._conn.execute(sql, params).fetchall())

    def face(self, face_id: int) -> Face:
        row = self._conn.execute(_FACE_SELECT + " WHERE id = ?", (face_id,)).fetchone()
        if row is None:
            raise ProjectError(self.root, f"no face with id {face_id}")
        return face_from_row(row)

    def face_columns(self, *, clip_id: int | None = None) -> dict[str, np.ndarray]:
        """Every face (or a clip's) as numpy columns, for grids and graphs of 100,000 faces.

        Keys: id, clip_id, frame, role (0 src, 1 dst), person_id (-1 none), excluded (left
        out of the training set), swap_excluded (not swapped by a merge), has_mask (a label mask exists), sharpness, yaw, pitch, roll, mouth_open, eyes_open,
        smile, brow_raise (NaN where unknown), box_size (the box's longer side). One query,
        one float64 conversion: NULLs are read as +inf by SQLite and turned into NaN here.
        """
        inf = "9e999"
        where = "WHERE f.clip_id = ?" if clip_id is not None else ""
        sql = (
            "SELECT f.id, f.clip_id, f.frame, c.role = 'dst', coalesce(f.person_id, -1), f.excluded, f.swap_excluded, "
            "EXISTS (SELECT 1 FROM masks m WHERE m.face_id = f.id AND m.kind = 'label'), "
            + ", ".join(f"coalesce(f.{c}, {inf})" for c in _FLOAT_FACE_COLUMNS)
            + ", max(f.x1 - f.x0, f.y1 - f.y0) "
            f"FROM faces f JOIN clips c ON c.id = f.clip_id {where} ORDER BY f.clip_id, f.frame, f.idx"
        )
        rows = self._conn.execute(sql, () if clip_id is None else (clip_id,)).fetchall()
        data = np.array(rows, dtype=np.float64).reshape(len(rows), 9 + len(_FLOAT_FACE_COLUMNS))
        data[np.isinf(data)] = np.nan
        out: dict[str, np.ndarray] = {
            "id": data[:, 0].astype(np.int64), "clip_id": data[:, 1].astype(np.int64),
            "frame": data[:, 2].astype(np.int64), "role": data[:, 3].astype(np.int8),
            "person_id": data[:, 4].astype(np.int64), "excluded": data[:, 5].astype(bool),
            "swap_excluded": data[:, 6].astype(bool), "has_mask": data[:, 7].astype(bool),
        }
        for k, name in enumerate(_FLOAT_FACE_COLUMNS):
            out[name] = np.ascontiguousarray(data[:, 8 + k])
        out["box_size"] = np.ascontiguousarray(data[:, -1])
        return out

    def face_counts(self) -> dict[int, tuple[int, int]]:
        """clip id -> (faces, excluded faces)."""
        rows = self.query("SELECT clip_id, count(*), sum(excluded) FROM faces GROUP BY clip_id")
        return {r[0]: (r[1], r[2] or 0) for r in rows}

    def set_excluded(self, face_ids: Iterable[int], excluded: bool) -> ChangeSet:
        """Exclude or restore faces: one undoable change set."""
        ids = sorted(set(face_ids))
        n = len(ids)
        verb = "Exclude" if excluded else "Restore"
        label = f"{verb} {n} face{'s' if n != 1 else ''}"
        return self.update_rows("faces", {i: {"excluded": int(excluded)} for i in ids}, label=label)

    def set_swap_excluded(self, face_ids: Iterable[int], excluded: bool) -> ChangeSet:
        """Mark faces "not swapped" (merges leave them as they are) or swap them again."""
        ids = sorted(set(face_ids))
        n = len(ids)
        verb = "Don't swap" if excluded else "Swap"
        label = f"{verb} {n} face{'s' if n != 1 else ''}"
        return self.update_rows("faces", {i: {"swap_excluded": int(excluded)} for i in ids}, label=label)

    # ------------------------------------------------------------------ persons
    def add_person(self, name: str) -> tuple[Person, ChangeSet]:
        now = time.time()
        with self.transaction() as c:
            pid = int(c.execute("INSERT INTO persons (name, created_at) VALUES (?, ?)", (name, now)).lastrowid)
        values = {"name": name, "wanted": 0, "created_at": now}
        return Person(pid, name, False, now), ChangeSet((RowChange("persons", pid, None, values),), {}, f"Add person {name}")

    def persons(self) -> list[Person]:
        return [Person(r["id"], r["name"], bool(r["wanted"]), r["created_at"], bool(r["uncertain"]))
                for r in self.query("SELECT * FROM persons ORDER BY id")]

    def person_face_counts(self) -> dict[int, tuple[int, int]]:
        """person id -> (faces, excluded faces)."""
        rows = self.query("SELECT person_id, count(*), sum(excluded) FROM faces WHERE person_id IS NOT NULL GROUP BY person_id")
        return {r[0]: (r[1], r[2] or 0) for r in rows}

    def rename_person(self, person_id: int, name: str) -> ChangeSet:
        name = name.strip()
        if not name:
            raise ValueError("a person needs a name")
        return self.update_rows("persons", {person_id: {"name": name}}, label=f"Rename person to {name}")

    # ------------------------------------------------------------------ models, renders
    def models(self, kind: str | None = None) -> list[Model]:
        sql = "SELECT * FROM models" + (" WHERE kind = ?" if kind else "") + " ORDER BY id"
        return [_model_from_row(r) for r in self.query(sql, (kind,) if kind else ())]

    def model(self, model_id: int) -> Model:
        row = self._conn.execute("SELECT * FROM models WHERE id = ?", (model_id,)).fetchone()
        if row is None:
            raise ProjectError(self.root, f"no model with id {model_id}")
        return _model_from_row(row)

    def renders(self) -> list[Render]:
        return [
            Render(id=r["id"], clip_id=r["clip_id"], job_id=r["job_id"], model_id=r["model_id"], path=r["path"],
                   format=r["format"], frame_start=r["frame_start"], frame_end=r["frame_end"],
                   settings=json.loads(r["settings"]), created_at=r["created_at"])
            for r in self.query("SELECT * FROM renders ORDER BY id")
        ]

    # ------------------------------------------------------------------ summary
    def summary(self) -> dict[str, Any]:
        """Counts for ``facesmith info`` and the editor's status bar."""
        faces_by_role = {
            r[0]: (r[1], r[2] or 0)
            for r in self.query(
                "SELECT c.role, count(f.id), sum(f.excluded) FROM clips c JOIN faces f ON f.clip_id = c.id GROUP BY c.role"
            )
        }
        jobs = {r[0]: r[1] for r in self.query("SELECT state, count(*) FROM jobs GROUP BY state")}
        return {
            "name": self.name,
            "clips": len(self.clips()),
            "faces_by_role": faces_by_role,
            "persons": self.scalar("SELECT count(*) FROM persons"),
            "models": self.scalar("SELECT count(*) FROM models"),
            "jobs_by_state": jobs,
        }


def _model_from_row(r: sqlite3.Row) -> Model:
    return Model(id=r["id"], kind=r["kind"], name=r["name"], arch=r["arch"], face_type=r["face_type"],
                 resolution=r["resolution"], config=json.loads(r["config"]), iteration=r["iteration"],
                 path=r["path"], created_at=r["created_at"], updated_at=r["updated_at"])


def _clip_from_row(r: sqlite3.Row) -> Clip:
    return Clip(
        id=r["id"], name=r["name"], role=r["role"], path=Path(r["path"]), size_bytes=r["size_bytes"],
        fingerprint=r["fingerprint"], width=r["width"], height=r["height"],
        fps=Fraction(r["fps_num"], r["fps_den"]), frame_count=r["frame_count"], duration_s=r["duration_s"],
        rotation=r["rotation"], codec=r["codec"], audio_streams=r["audio_streams"],
        audio_codec=r["audio_codec"], in_frame=r["in_frame"], out_frame=r["out_frame"], added_at=r["added_at"],
        kind=r["kind"],
    )
