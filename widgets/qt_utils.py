"""Small Qt helpers shared by the widgets."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from PySide6.QtCore import QObject


@contextlib.contextmanager
def signals_blocked(obj: QObject) -> Iterator[None]:
    """Push model state into a widget without it echoing back as a user edit."""
    previous = obj.blockSignals(True)
    try:
        yield
    finally:
        obj.blockSignals(previous)
