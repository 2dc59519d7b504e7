"""Checkpoints of a big write, done off the writer's thread.

In WAL mode a commit only appends pages to ``project.db-wal``; copying them back into
``project.db`` (the checkpoint) is separate work that SQLite normally does inside the
commit that pushes the WAL past 1,000 pages. For a bulk insert of 100,000 faces
(~100 MB of landmarks and embeddings) that copy is a third of the insert's time, and it
is not needed for the insert to be durable or visible: readers see WAL pages at once.
SQLite's documentation suggests exactly this for such writers: turn the automatic
checkpoint off for that commit and run ``wal_checkpoint`` on another connection in
another thread. The checkpoint is PASSIVE: it never blocks a reader or the next writer,
and whatever it could not copy the next automatic checkpoint copies.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Final

#: SQLite's default automatic-checkpoint threshold, restored after the deferred commit.
AUTOCHECKPOINT_PAGES: Final = 1000


class BackgroundCheckpointer:
    """One daemon thread with its own connection that checkpoints when asked."""

    def __init__(self, db_path: Path) -> None:
        self._db_path = db_path
        self._wanted = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.last_error: str | None = None

    def request(self) -> None:
        """Ask for a checkpoint soon (returns at once)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
                self._thread.start()
            self._idle.clear()
            self._wanted.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no checkpoint is pending (for tests and benchmarks)."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        """Finish a pending checkpoint and stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop = True
            self._wanted.set()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(self._db_path, timeout=10, isolation_level=None)
        try:
            while True:
                self._wanted.wait()
                self._wanted.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # the next automatic checkpoint does the copy
                    self.last_error = str(exc)
                if not self._wanted.is_set():
                    self._idle.set()
                if self._stop:
                    return
        finally:
            conn.close()
            self._idle.set()
