"""How an uncertain person (docs/CONTEXT.md) looks wherever persons are listed.

A person proposed from too few faces or low detection scores is kept, but not given equal
standing: its entry carries a "?" badge, is set in italics, explains itself in a tooltip
and comes after the certain persons. The project browser, the face grid's person filter
and the train dialog's person choice all ask here, so the mark is one thing everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final, TypeVar

from PySide6.QtGui import QFont

UNCERTAIN_BADGE: Final = "?"
UNCERTAIN_TIP: Final = "uncertain: few faces or low detection score"

T = TypeVar("T")


def person_text(name: str, uncertain: bool) -> str:
    """The entry's text: the name, with the "?" badge when the person is uncertain."""
    return f"{name} {UNCERTAIN_BADGE}" if uncertain else name


def person_tip(name: str, uncertain: bool) -> str:
    return f"{name}\n{UNCERTAIN_TIP}" if uncertain else name


def person_font(base: QFont, uncertain: bool) -> QFont:
    """``base`` in italics for an uncertain person (a copy; ``base`` is left alone)."""
    font = QFont(base)
    font.setItalic(uncertain)
    return font


def certain_first(items: Iterable[T], uncertain: Callable[[T], bool]) -> list[T]:
    """``items`` with the uncertain persons after the certain ones, each in its order."""
    return sorted(items, key=lambda item: bool(uncertain(item)))
