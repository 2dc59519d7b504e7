"""Help ▸ Keyboard Shortcuts: every shortcut of the editor in one searchable sheet.

Generated, never written by hand: the rows come from the actions the window actually
has, walked through its menu bar (so each shortcut is shown with the menu path that also
reaches it), then any other action of the window with a shortcut (workspace actions that
live only on a dock or a view). An action added anywhere with a shortcut shows up here
by itself, so the sheet cannot go stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from app.main_window import MainWindow


@dataclass(frozen=True)
class ShortcutRow:
    keys: str  # native text, several shortcuts joined by ", "
    action: str
    where: str  # menu path, e.g. "Faces ▸ Keep Best Faces…"; "(window)" when in no menu
    tip: str


def _clean(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def _keys(action: QAction) -> str:
    return ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts() if not s.isEmpty())


def shortcut_rows(window: QWidget) -> list[ShortcutRow]:
    """Every action of ``window`` that has a shortcut, menu actions first, in menu order."""
    rows: list[ShortcutRow] = []
    seen: set[int] = set()

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{path} ▸ {_clean(action.text())}")
                continue
            keys = _keys(action)
            if keys and id(action) not in seen:
                seen.add(id(action))
                rows.append(ShortcutRow(keys, _clean(action.text()), path, action.toolTip() or action.statusTip()))

    menubar = getattr(window, "menuBar", None)
    if menubar is not None:
        for top in menubar().actions():
            if top.menu() is not None:
                walk(top.menu(), _clean(top.text()))
    for action in window.findChildren(QAction):
        keys = _keys(action)
        if keys and id(action) not in seen and action.text():
            seen.add(id(action))
            rows.append(ShortcutRow(keys, _clean(action.text()), "(window)", action.toolTip() or action.statusTip()))
    return rows


class ShortcutsDialog(QDialog):
    """The sheet: a search field over a table of shortcut, action and menu."""

    def __init__(self, rows: list[ShortcutRow], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search shortcuts, actions or menus…")
        self.search.setClearButtonEnabled(True)
        self.table = QTreeWidget()
        self.table.setHeaderLabels(["shortcut", "action", "menu"])
        self.table.setRootIsDecorated(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for row in rows:
            item = QTreeWidgetItem([row.keys, row.action, row.where])
            item.setToolTip(1, f"{row.action}\n{row.tip}" if row.tip else row.action)
            item.setToolTip(2, row.where)
            self.table.addTopLevelItem(item)
        self.count_label = QLabel()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count_label)
        layout.addWidget(buttons)
        self.search.textChanged.connect(self.filter)
        self.filter("")
        width = sum(self.table.header().sectionSizeHint(c) for c in range(3)) + 60
        self.resize(max(width, 560), 520)

    def filter(self, text: str) -> int:
        """Show the rows containing ``text`` (case-insensitive) in any column; returns how many."""
        needle = text.strip().lower()
        shown = 0
        for i in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(i)
            hit = not needle or any(needle in item.text(c).lower() or needle in item.toolTip(c).lower()
                                    for c in range(3))
            item.setHidden(not hit)
            shown += hit
        total = self.table.topLevelItemCount()
        self.count_label.setText(f"{shown} of {total} shortcuts" if needle else f"{total} shortcuts")
        return shown

    def visible_rows(self) -> list[tuple[str, str, str]]:
        return [(it.text(0), it.text(1), it.text(2)) for i in range(self.table.topLevelItemCount())
                if not (it := self.table.topLevelItem(i)).isHidden()]


def help_menu(window: MainWindow) -> QMenu:
    """The window's Help menu (made when missing; other features add to the same one)."""
    for action in window.menuBar().actions():
        if action.menu() is not None and _clean(action.text()) == "Help":
            return action.menu()
    menu = window.menuBar().addMenu("&Help")
    menu.setObjectName("help_menu")
    return menu


def install(window: MainWindow) -> QAction:
    """Add Help ▸ Keyboard Shortcuts (Ctrl+/) to ``window``; returns the action."""
    action = QAction("&Keyboard Shortcuts", window)
    action.setShortcut(QKeySequence("Ctrl+/"))
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.setToolTip("Every shortcut of the editor, searchable")

    def show() -> None:
        dialog = ShortcutsDialog(shortcut_rows(window), window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.shortcuts_dialog = dialog
        dialog.open()

    action.triggered.connect(show)
    help_menu(window).addAction(action)
    return action
