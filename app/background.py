"""Short background tasks for the editor (thumbnails, frame decodes).

Worker code never touches Qt widgets: it returns a value, and the result comes back to
the main thread through a queued signal. Errors go to one reporter with their traceback.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger("facesmith.editor")


class _Relay(QObject):
    done = Signal(object, object)  # (key, result)
    failed = Signal(object, str)  # (key, traceback)


class _Task(QRunnable):
    def __init__(self, relay: _Relay, key: Any, fn: Callable[[], Any]) -> None:
        super().__init__()
        self._relay, self._key, self._fn = relay, key, fn

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception:  # reported on the main thread, with the traceback
            self._relay.failed.emit(self._key, traceback.format_exc())
            return
        self._relay.done.emit(self._key, result)


class TaskRunner(QObject):
    """Runs ``fn()`` on a small thread pool and emits ``finished(key, result)`` on the main thread.

    Repeated keys while a task for that key is in flight are coalesced.
    """

    finished = Signal(object, object)
    failed = Signal(object, str)

    def __init__(self, parent: QObject | None = None, *, threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)
        self._relay.failed.connect(self._on_failed)
        self._pending: set[Any] = set()

    def submit(self, key: Any, fn: Callable[[], Any]) -> None:
        if key in self._pending:
            return
        self._pending.add(key)
        self._pool.start(_Task(self._relay, key, fn))

    def _on_done(self, key: Any, result: Any) -> None:
        self._pending.discard(key)
        self.finished.emit(key, result)

    def _on_failed(self, key: Any, text: str) -> None:
        self._pending.discard(key)
        log.error("background task %r failed:\n%s", key, text)
        self.failed.emit(key, text)

    def wait(self, msecs: int = 5000) -> bool:
        return self._pool.waitForDone(msecs)
