"""The train dialog's choice of faces: src and dst persons (one in a combo, more ticked in
its "+" menu, each with its best face as a picture) and the clips whose faces train.

Split out of :mod:`app.train_dialog`: the dialog reads the choice back through
:meth:`FacesChoice.persons_of` and :meth:`FacesChoice.chosen_clips`, and listens to
:attr:`FacesChoice.changed` to recount the faces and the coverage.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QListWidget, QListWidgetItem, QMenu, QToolButton, QWidget

from app.train_inputs import TrainInputs
from widgets.person_label import certain_first, person_font, person_text, person_tip

ROLES = ("src", "dst")


class FacesChoice(QObject):
    """The persons and clips widgets of the train dialog (they live in its layout).

    Attributes
    ----------
    combos : role -> the combo of that role's first person ("Any person" first).
    more_persons : role -> the "+" menu of further persons (checkable actions, data = id).
    rows : role -> the combo and its "+" button in one row, for the dialog's form.
    clips_list : the clips, all ticked by default (every clip).
    """

    changed = Signal()

    def __init__(self, inputs: TrainInputs, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.inputs = inputs
        self.combos = {role: QComboBox() for role in ROLES}
        self.combos["src"].setToolTip("Train src on this person's faces only (the identity to put in)")
        self.combos["dst"].setToolTip("Train dst on this person's faces only (the face to replace)")
        self._fill_persons()
        self.more_persons: dict[str, QMenu] = {}
        self.rows: dict[str, QWidget] = {}
        for role in ROLES:
            button = QToolButton()
            button.setText("+")
            button.setToolTip(f"Train {role} on more persons too (ticked here), besides the one chosen")
            button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            menu = QMenu(button)
            menu.setToolTipsVisible(True)
            for pid, name in certain_first(inputs.persons, lambda p: p[0] in inputs.uncertain_persons):
                uncertain = pid in inputs.uncertain_persons
                action = menu.addAction(person_text(name, uncertain))
                action.setToolTip(person_tip(name, uncertain))
                if uncertain:
                    action.setFont(person_font(menu.font(), True))
                action.setCheckable(True)
                action.setData(pid)
                action.toggled.connect(lambda _on: self.changed.emit())
            button.setMenu(menu)
            self.more_persons[role] = menu
            row = QWidget()
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            line.addWidget(self.combos[role], 1)
            line.addWidget(button)
            self.rows[role] = row
        self.clips_list = QListWidget()
        self.clips_list.setToolTip("Untick a clip to leave its faces out of training (e.g. a second, unrelated "
                                   "dst clip); an unticked clip is never added")
        self.clips_list.setMaximumHeight(96)
        for clip_id, clip_name, clip_role in inputs.clips:
            item = QListWidgetItem(f"{clip_role} · {clip_name}")
            item.setData(Qt.ItemDataRole.UserRole, (clip_id, clip_name))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.clips_list.addItem(item)
        self._show_person_pictures()

    def _fill_persons(self) -> None:
        f = self.inputs.faces
        keep = ~f.excluded & (f.person >= 0)
        size = int(f.person.max()) + 1 if len(f.person) else 1
        by_role = [np.bincount(f.person[keep & (f.role == r)], minlength=size) for r in (0, 1)]
        counts = {pid: tuple(int(c[pid]) if pid < size else 0 for c in by_role) for pid, _ in self.inputs.persons}
        uncertain = self.inputs.uncertain_persons
        for role, combo in enumerate(self.combos.values()):
            combo.addItem("Any person", None)
            # Most faces of the role first; uncertain persons after all the certain ones.
            ranked = sorted(self.inputs.persons, key=lambda p: (p[0] in uncertain, -counts[p[0]][role], p[0]))
            for pid, name in ranked:
                src, dst = counts[pid]
                doubt = pid in uncertain
                combo.addItem(f"{person_text(name, doubt)} ({src:,} src, {dst:,} dst faces)", pid)
                row = combo.count() - 1
                combo.setItemData(row, person_tip(name, doubt), Qt.ItemDataRole.ToolTipRole)
                if doubt:
                    combo.setItemData(row, person_font(combo.font(), True), Qt.ItemDataRole.FontRole)

    def _show_person_pictures(self) -> None:
        """Each person entry shows the person's best face (people recognise faces faster than names)."""
        from engine.project.person_thumbs import load_thumbnail

        icons: dict[int, QIcon] = {}
        for pid, path in self.inputs.person_pictures.items():
            try:
                rgb = np.ascontiguousarray(load_thumbnail(path, 24))
            except ValueError:
                continue
            image = QImage(rgb.data, 24, 24, 72, QImage.Format.Format_RGB888).copy()
            icons[pid] = QIcon(QPixmap.fromImage(image))
        for combo in self.combos.values():
            combo.setIconSize(QSize(24, 24))
            for i in range(combo.count()):
                icon = icons.get(combo.itemData(i))
                if icon is not None:
                    combo.setItemIcon(i, icon)

    def persons_of(self, role: str) -> list[int]:
        """The persons chosen for ``role``: the combo's, then those ticked in its "+" menu."""
        combo = self.combos[role]
        first = [] if combo.currentData() is None else [int(combo.currentData())]
        more = [int(a.data()) for a in self.more_persons[role].actions() if a.isChecked()]
        return list(dict.fromkeys(first + more))

    def chosen_clips(self) -> list[tuple[int, str]] | None:
        """``(id, name)`` of the ticked clips, or None when every clip is ticked (no restriction)."""
        items = [self.clips_list.item(i) for i in range(self.clips_list.count())]
        ticked = [tuple(it.data(Qt.ItemDataRole.UserRole)) for it in items if it.checkState() == Qt.CheckState.Checked]
        return None if len(ticked) == len(items) else ticked  # type: ignore[return-value]
