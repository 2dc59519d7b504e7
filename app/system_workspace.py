"""Help ▸ System (what ``facesmith doctor`` prints) and Engine ▸ Models' Disk Use (with
"Prune backups"), installed by one line of :class:`~app.main_window.MainWindow`.

The doctor asks torch about the GPUs, which costs its import: it runs on a background
thread and the dialog fills in when the answer comes. The disk use is a walk of the
model folders (torch-free, fast); pruning asks first, and the engine's refusal (the
model trains) is shown as it is. Deleting backups is not an edit of the project's
content, so it is not on the undo stack: the dialog says it cannot be undone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.background import TaskRunner
from engine.errors import FacesmithError

if TYPE_CHECKING:
    from app.main_window import MainWindow


class TextDialog(QDialog):
    """A read-only monospaced report with a Close button (and optional extra buttons)."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.text = QPlainTextEdit(text)
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(self.buttons)
        self.resize(760, 360)


def install(window: MainWindow) -> SystemWorkspace:
    return SystemWorkspace(window)


class SystemWorkspace(QObject):
    """Attributes: ``system_action``, ``disk_action``; ``dialog`` (the last one opened)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.dialog: TextDialog | None = None
        self.system_action = QAction("&System…", window)
        self.system_action.setStatusTip("Python, torch and its GPU build, the GPUs, face backends, free disk")
        self.system_action.triggered.connect(self.show_system)
        self.disk_action = QAction("Models' &Disk Use…", window)
        self.disk_action.setStatusTip("How much disk the models' checkpoints take; prune their backups")
        self.disk_action.triggered.connect(self.show_disk_use)
        engine_menu = next((a.menu() for a in window.menuBar().actions()
                            if a.menu() is not None and a.text().replace("&", "") == "Engine"), None)
        if isinstance(engine_menu, QMenu):
            engine_menu.addSeparator()
            engine_menu.addAction(self.disk_action)
        window.menuBar().addMenu("&Help").addAction(self.system_action)
        self._runner = TaskRunner(self, threads=1)
        self._runner.finished.connect(self._on_report)
        self._runner.failed.connect(lambda _key, tb: self._on_report("doctor", f"the check failed:\n{tb}"))

    # ------------------------------------------------------------------ Help ▸ System
    def show_system(self) -> TextDialog:
        self.dialog = TextDialog("System", "Checking this machine…", self.window)
        root = self.window.document.root

        def collect() -> str:
            from engine.doctor import collect

            return collect(root).text()

        self._runner.submit("doctor", collect)
        self.dialog.show()
        return self.dialog

    def _on_report(self, key: object, text: object) -> None:
        if key == "doctor" and self.dialog is not None and self.dialog.windowTitle() == "System":
            self.dialog.text.setPlainText(str(text))

    # ------------------------------------------------------------------ disk use
    def disk_text(self) -> str:
        from engine.swap.disk import disk_use, report

        return "\n".join(report(disk_use(self.window.document.store)))

    def show_disk_use(self) -> TextDialog:
        self.dialog = TextDialog("Models' Disk Use", self.disk_text(), self.window)
        prune = QPushButton("Prune Backups…")
        prune.setToolTip("Delete every model's backups (not the latest checkpoint) to free disk")
        self.dialog.buttons.addButton(prune, QDialogButtonBox.ButtonRole.ActionRole)
        prune.clicked.connect(lambda: self.prune(ask=True))
        self.dialog.show()
        return self.dialog

    def prune(self, *, ask: bool) -> dict[int, int] | None:
        """Delete the backups of every model not training; None when the user declined."""
        from engine.swap.disk import human, prune_backups

        if ask and QMessageBox.question(
            self.window, "Prune Backups",
            "Delete the backups of every model that is not training? The latest checkpoint of each model "
            "stays; this cannot be undone.") != QMessageBox.StandardButton.Yes:
            return None
        try:
            freed = prune_backups(self.window.document.store)
        except FacesmithError as exc:
            QMessageBox.warning(self.window, "Prune Backups", str(exc))
            return None
        if self.dialog is not None and self.dialog.windowTitle() == "Models' Disk Use":
            self.dialog.text.setPlainText(self.disk_text() + f"\n\nfreed {human(sum(freed.values()))}")
        self.window.statusBar().showMessage(f"backups pruned: {human(sum(freed.values()))} freed", 10_000)
        return freed
