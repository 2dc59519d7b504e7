"""ProjectBrowser: the project at a glance — clips by role, persons, models, renders.

Plain data in (``set_clips``, ``set_persons``, ``set_models``, ``set_renders``), snake_case
signals out. Renaming a person edits the item in place and emits ``person_renamed``; the
presenter turns that into an undoable command and pushes the stored name back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from engine.project.models import Clip, Model, Person, Render
from widgets.person_label import UNCERTAIN_BADGE, UNCERTAIN_TIP, certain_first, person_font, person_tip
from widgets.qt_utils import signals_blocked

_KIND = Qt.ItemDataRole.UserRole
_ID = Qt.ItemDataRole.UserRole + 1
SECTIONS = ("src", "dst", "persons", "models", "renders")
_TITLES = {
    "src": "src clips — the face to put in",
    "dst": "dst clips — the footage to change",
    "persons": "Persons",
    "models": "Models",
    "renders": "Renders",
}


@dataclass(frozen=True)
class PersonRow:
    person: Person
    faces: int
    excluded: int


class ProjectBrowser(QTreeWidget):
    """Signals: ``clip_selected(int)``, ``clip_activated(int)``, ``person_selected(int)``,
    ``person_renamed(int, str)``, ``model_selected(int)``, ``render_activated(str)``."""

    clip_selected = Signal(int)
    clip_activated = Signal(int)
    person_selected = Signal(int)
    person_renamed = Signal(int, str)
    model_selected = Signal(int)
    render_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["name", "info", "faces"])
        # Sized to fit the dock, never wider: the name takes what is left (elided, with
        # the full name as its tooltip: names are user data); info and counts fit their text.
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setIconSize(QSize(48, 36))
        self.setUniformRowHeights(False)
        self.setSelectionMode(QTreeWidget.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QTreeWidget.EditTrigger.EditKeyPressed | QTreeWidget.EditTrigger.DoubleClicked)
        self._sections: dict[str, QTreeWidgetItem] = {}
        for key in SECTIONS:
            item = QTreeWidgetItem([_TITLES[key]])
            item.setToolTip(0, _TITLES[key])
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.setFirstColumnSpanned(True)
            font = item.font(0)
            font.setBold(True)
            item.setFont(0, font)
            self.addTopLevelItem(item)
            item.setFirstColumnSpanned(True)
            item.setExpanded(True)
            self._sections[key] = item
        self.itemSelectionChanged.connect(self._on_selection)
        self.itemDoubleClicked.connect(self._on_double)
        self.itemChanged.connect(self._on_changed)

    # ------------------------------------------------------------------ data in
    def set_clips(self, clips: list[Clip], face_counts: dict[int, tuple[int, int]],
                  thumbnails: dict[int, np.ndarray] | None = None) -> None:
        with signals_blocked(self):
            for role in ("src", "dst"):
                self._sections[role].takeChildren()
            for clip in clips:
                faces, excluded = face_counts.get(clip.id, (0, 0))
                item = QTreeWidgetItem([
                    clip.name, f"{clip.width}×{clip.height} · {clip.frame_count} f",
                    f"{faces - excluded}" + (f" (+{excluded})" if excluded else ""),
                ])
                item.setToolTip(1, f"{clip.width}×{clip.height} · {clip.frame_count} frames at {float(clip.fps):g} fps")
                item.setToolTip(2, f"{faces - excluded} faces in the training set"
                                + (f", {excluded} excluded" if excluded else ""))
                item.setData(0, _KIND, "clip")
                item.setData(0, _ID, clip.id)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                tip = f"{clip.name}\n{clip.path}\n{clip.duration_s:.2f} s, {clip.codec}" + (f", audio {clip.audio_codec}" if clip.audio_codec else ", no audio")
                if clip.missing:
                    item.setForeground(0, QBrush(QColor("#ff6060")))
                    item.setText(0, f"{clip.name} (missing)")
                    tip += "\nThe file is missing: File ▸ Relink Missing Clips…"
                item.setToolTip(0, tip)
                if thumbnails and clip.id in thumbnails:
                    item.setIcon(0, QIcon(QPixmap.fromImage(_qimage(thumbnails[clip.id]))))
                self._sections[clip.role].addChild(item)
            self._retitle()

    def set_persons(self, rows: list[PersonRow], thumbnails: dict[int, np.ndarray] | None = None) -> None:
        """Persons with their face counts; ``thumbnails``: person id -> RGB best face.
        Uncertain persons come last, in italics, with a "?" badge (:mod:`widgets.person_label`)."""
        with signals_blocked(self):
            section = self._sections["persons"]
            section.takeChildren()
            for row in certain_first(rows, lambda r: r.person.uncertain):
                p = row.person
                status = "wanted" if p.wanted else ""
                if p.uncertain:
                    status = f"{UNCERTAIN_BADGE} uncertain" + (", wanted" if p.wanted else "")
                item = QTreeWidgetItem([p.name, status, str(row.faces - row.excluded)])
                item.setData(0, _KIND, "person")
                item.setData(0, _ID, p.id)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable)
                item.setToolTip(0, f"{person_tip(p.name, p.uncertain)}\nDouble-click or F2 to rename")
                if p.uncertain:
                    item.setFont(0, person_font(item.font(0), True))
                    item.setToolTip(1, UNCERTAIN_TIP)
                if thumbnails and p.id in thumbnails:
                    item.setIcon(0, QIcon(QPixmap.fromImage(_qimage(thumbnails[p.id]))))
                if p.wanted:
                    item.setForeground(1, QBrush(QColor("#5cc878")))
                section.addChild(item)
            self._retitle()

    def set_models(self, models: list[Model]) -> None:
        with signals_blocked(self):
            section = self._sections["models"]
            section.takeChildren()
            for m in models:
                item = QTreeWidgetItem([m.name, f"{m.kind} {m.arch} {m.resolution}px", f"it {m.iteration:,}"])
                item.setToolTip(0, m.name)
                item.setData(0, _KIND, "model")
                item.setData(0, _ID, m.id)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                section.addChild(item)
            self._retitle()

    def set_renders(self, renders: list[Render]) -> None:
        with signals_blocked(self):
            section = self._sections["renders"]
            section.takeChildren()
            for r in renders:
                item = QTreeWidgetItem([r.path.rsplit("/", 1)[-1], r.format, f"{r.frame_start}–{r.frame_end}"])
                item.setData(0, _KIND, "render")
                item.setData(0, _ID, r.path)
                item.setToolTip(0, r.path)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                section.addChild(item)
            self._retitle()

    def ids(self, kind: str) -> list:
        """Ids shown for ``kind`` ('clip', 'person', 'model'; render paths for 'render')."""
        keys = {"clip": ("src", "dst"), "person": ("persons",), "model": ("models",), "render": ("renders",)}[kind]
        return [self._sections[k].child(i).data(0, _ID) for k in keys for i in range(self._sections[k].childCount())]

    def selected_ids(self, kind: str) -> list:
        """Ids of the selected items of ``kind``, in display order."""
        return [i.data(0, _ID) for i in self.selectedItems() if i.data(0, _KIND) == kind]

    def item_for(self, kind: str, item_id: int | str) -> QTreeWidgetItem | None:
        for section in self._sections.values():
            for i in range(section.childCount()):
                child = section.child(i)
                if child.data(0, _KIND) == kind and child.data(0, _ID) == item_id:
                    return child
        return None

    # ------------------------------------------------------------------ internals
    def _retitle(self) -> None:
        for key, section in self._sections.items():
            section.setText(0, f"{_TITLES[key]} ({section.childCount()})")

    def _on_selection(self) -> None:
        items = self.selectedItems()
        if not items:
            return
        kind, item_id = items[0].data(0, _KIND), items[0].data(0, _ID)
        if kind == "clip":
            self.clip_selected.emit(int(item_id))
        elif kind == "person":
            self.person_selected.emit(int(item_id))
        elif kind == "model":
            self.model_selected.emit(int(item_id))

    def _on_double(self, item: QTreeWidgetItem, _column: int) -> None:
        kind, item_id = item.data(0, _KIND), item.data(0, _ID)
        if kind == "clip":
            self.clip_activated.emit(int(item_id))
        elif kind == "render":
            self.render_activated.emit(str(item_id))

    def _on_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if column == 0 and item.data(0, _KIND) == "person":
            name = item.text(0).strip()
            if name:
                self.person_renamed.emit(int(item.data(0, _ID)), name)


def _qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb)
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
