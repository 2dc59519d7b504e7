"""JobsView: the list of jobs with progress bars, cancel/pause/resume, and errors.

Takes plain :class:`engine.project.models.Job` values (``set_jobs`` / ``update_jobs``) and
emits the user's requests as signals; it never touches the project or the engine.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.jobs.lanes import describe
from engine.project.models import Job

_STATE_COLOURS = {
    "queued": "#9a9aa0", "running": "#409cff", "paused": "#e0b040",
    "done": "#5cc878", "failed": "#ff6060", "cancelled": "#8a8a90",
}


class JobsView(QWidget):
    """Signals: ``cancel_requested(int)``, ``pause_requested(int)``, ``resume_requested(int)``,
    ``selection_changed(int)`` (job id, or -1)."""

    cancel_requested = Signal(int)
    pause_requested = Signal(int)
    resume_requested = Signal(int)
    selection_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: dict[int, QTreeWidgetItem] = {}
        self._bars: dict[int, QProgressBar] = {}
        self._jobs: dict[int, Job] = {}
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["#", "job", "state", "progress", "status", "lane"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QTreeWidget.SelectionMode.SingleSelection)
        header = self.tree.header()
        # Columns fit their text; the status (long, with the full text as tooltip) takes the rest.
        header.setStretchLastSection(False)
        for col in (0, 1, 2):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setColumnWidth(3, 84)
        self.tree.headerItem().setToolTip(5, "What a running job runs on: a GPU, the CPU (beside other jobs), I/O")
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tree.itemSelectionChanged.connect(self._on_selection)
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.cancel_button = QPushButton("Cancel")
        self.pause_button.clicked.connect(lambda: self._emit(self.pause_requested))
        self.resume_button.clicked.connect(lambda: self._emit(self.resume_requested))
        self.cancel_button.clicked.connect(lambda: self._emit(self.cancel_requested))
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("Select a job to see its parameters, result or error.")
        buttons = QHBoxLayout()
        for b in (self.pause_button, self.resume_button, self.cancel_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.tree)
        top_layout.addLayout(buttons)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.details)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(split)
        self._update_buttons()

    # ------------------------------------------------------------------ data in
    def set_jobs(self, jobs: list[Job]) -> None:
        """Show exactly these jobs (in this order)."""
        self.tree.clear()
        self._items.clear()
        self._bars.clear()
        self._jobs.clear()
        self.update_jobs(jobs)

    def update_jobs(self, jobs: list[Job]) -> None:
        """Add or refresh these jobs, keeping the others."""
        for job in jobs:
            self._jobs[job.id] = job
            item = self._items.get(job.id)
            if item is None:
                item = QTreeWidgetItem([str(job.id), job.kind, "", "", "", ""])
                item.setData(0, Qt.ItemDataRole.UserRole, job.id)
                self.tree.addTopLevelItem(item)
                bar = QProgressBar()
                bar.setRange(0, 1000)
                bar.setTextVisible(True)
                bar.setMaximumHeight(16)
                self.tree.setItemWidget(item, 3, bar)
                self._items[job.id] = item
                self._bars[job.id] = bar
            item.setText(2, job.state + (" …" if job.cancel_requested or job.pause_requested else ""))
            item.setForeground(2, _brush(job.state))
            text = job.status_text if job.state != "failed" else (job.status_text or "failed")
            item.setText(4, text)
            item.setToolTip(4, text)
            item.setText(5, describe(job.lane) if job.state == "running" else "")
            bar = self._bars[job.id]
            bar.setValue(int(round(job.progress * 1000)))
            bar.setFormat(f"{job.progress * 100:.0f}%")
        self._update_buttons()
        self._show_details()

    def job_ids(self) -> list[int]:
        return [self.tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) for i in range(self.tree.topLevelItemCount())]

    def select_job(self, job_id: int) -> None:
        item = self._items.get(job_id)
        if item is not None:
            self.tree.setCurrentItem(item)

    def selected_job(self) -> Job | None:
        items = self.tree.selectedItems()
        if not items:
            return None
        return self._jobs.get(items[0].data(0, Qt.ItemDataRole.UserRole))

    # ------------------------------------------------------------------ internals
    def _emit(self, signal: Signal) -> None:
        job = self.selected_job()
        if job is not None:
            signal.emit(job.id)

    def _on_selection(self) -> None:
        job = self.selected_job()
        self._update_buttons()
        self._show_details()
        self.selection_changed.emit(job.id if job else -1)

    def _update_buttons(self) -> None:
        job = self.selected_job()
        state = job.state if job else None
        self.pause_button.setEnabled(state in ("queued", "running"))
        self.resume_button.setEnabled(state == "paused")
        self.cancel_button.setEnabled(state in ("queued", "running", "paused"))

    def _show_details(self) -> None:
        job = self.selected_job()
        if job is None:
            self.details.clear()
            return
        lines = [f"job {job.id} ({job.kind}): {job.state}", f"parameters: {job.params}"]
        if job.result:
            lines.append(f"result: {job.result.get('message', '')}")
        if job.error_text:
            lines.append("")
            lines.append(job.error_text)
        self.details.setPlainText("\n".join(lines))


def _brush(state: str):  # noqa: ANN202 - QBrush
    from PySide6.QtGui import QBrush, QColor

    return QBrush(QColor(_STATE_COLOURS.get(state, "#dcdcde")))
