"""Small dialogs of the editor: job parameters (Extract…, XSeg…), preferences, clip role."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QLabel,
    QMessageBox,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.settings import Preferences
from engine.errors import FacesmithError
from engine.jobs.registry import get_kind, validate_params
from widgets.params_form import ParamsForm


def scrolling(inner: QWidget) -> QScrollArea:
    """``inner`` in a vertical scroll area: on a short screen the form scrolls, never clips."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(inner)
    area.setMinimumWidth(inner.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width())
    return area


def fit_to_screen(dialog: QDialog, inner: QWidget) -> None:
    """Open as tall as the form wants (a scroll area alone asks for ~24 lines), within the screen."""
    screen = dialog.screen() or QGuiApplication.primaryScreen()
    room = screen.availableGeometry() if screen is not None else None
    extra = dialog.sizeHint().height() - min(dialog.sizeHint().height(), inner.sizeHint().height())
    want_h = inner.sizeHint().height() + max(extra, 80)
    want_w = max(dialog.sizeHint().width(), inner.sizeHint().width() + 60, 460)
    if room is not None:
        want_h = min(want_h, room.height() - 60)
        want_w = min(want_w, room.width() - 40)
    dialog.resize(want_w, want_h)


class JobDialog(QDialog):
    """Edit a job kind's parameters; OK validates them with the registry before closing.

    ``offer_defaults`` names parameters whose default the refusal offers: when the job is
    refused as it stands but would be queued with those parameters at their defaults
    (Extract: a face backend this installation cannot run), the message has a button that
    queues it that way.
    """

    def __init__(self, kind: str, *, title: str, intro: str = "", initial: Mapping[str, Any] | None = None,
                 help: Mapping[str, str] | None = None, hidden: frozenset[str] = frozenset(),
                 offer_defaults: frozenset[str] = frozenset(), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.kind = kind
        self.offer_defaults = offer_defaults
        self.fixed = {k: v for k, v in (initial or {}).items() if k in hidden}
        self.form = ParamsForm(get_kind(kind).params, help=help, hidden=hidden)
        for name, value in (initial or {}).items():
            if name not in hidden:
                self.form.set_value(name, value)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Queue")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        if intro:
            label = QLabel(intro)
            label.setWordWrap(True)
            layout.addWidget(label)
        layout.addWidget(scrolling(self.form), 1)
        layout.addWidget(buttons)
        fit_to_screen(self, self.form)
        self.params: dict[str, Any] = {}

    def accept(self) -> None:
        params = self.form.values() | self.fixed
        try:
            self.params = validate_params(self.kind, params)
        except FacesmithError as exc:
            defaults = self._defaults_that_fit(params)
            if not defaults:
                QMessageBox.warning(self, self.windowTitle(), str(exc))
            elif self._ask_to_use(str(exc), defaults):
                for name, value in defaults.items():
                    self.form.set_value(name, value)
                self.accept()
            return
        super().accept()

    def _defaults_that_fit(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The ``offer_defaults`` that differ from ``params`` when the job validates with them."""
        fields = {f.name: f.default for f in dataclasses.fields(get_kind(self.kind).params)}
        defaults = {name: fields[name] for name in self.offer_defaults
                    if name in fields and fields[name] is not dataclasses.MISSING and params.get(name) != fields[name]}
        if not defaults:
            return {}
        try:
            validate_params(self.kind, {**params, **defaults})
        except FacesmithError:
            return {}
        return defaults

    def _ask_to_use(self, message: str, defaults: Mapping[str, Any]) -> bool:
        box = QMessageBox(QMessageBox.Icon.Warning, self.windowTitle(), message, parent=self)
        said = ", ".join(f"{name} {value}" for name, value in defaults.items())
        use = box.addButton(f"Queue with {said} (the default)", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(use)
        box.exec()
        return box.clickedButton() is use


class PreferencesDialog(QDialog):
    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.form = ParamsForm(Preferences)
        for f in dataclasses.fields(Preferences):
            self.form.set_value(f.name, getattr(prefs, f.name))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(scrolling(self.form), 1)
        layout.addWidget(buttons)
        fit_to_screen(self, self.form)
        self.prefs = prefs

    def accept(self) -> None:
        try:
            self.prefs = Preferences().replace(**self.form.values())
        except (ValueError, KeyError, TypeError) as exc:
            QMessageBox.warning(self, "Preferences", str(exc))
            return
        super().accept()


def ask_role(parent: QWidget, count: int) -> str | None:
    """Ask whether dropped files are src or dst clips; None when cancelled."""
    box = QMessageBox(QMessageBox.Icon.Question, "Add clips",
                      f"Add {count} file{'s' if count != 1 else ''} as…", parent=parent)
    src = box.addButton("src (the face to put in)", QMessageBox.ButtonRole.AcceptRole)
    dst = box.addButton("dst (the footage to change)", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    clicked = box.clickedButton()
    return "src" if clicked is src else "dst" if clicked is dst else None
