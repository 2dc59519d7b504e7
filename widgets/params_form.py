"""ParamsForm: an editor for a job's parameter dataclass, built from its fields and types.

Every job kind declares its parameters as a frozen dataclass with typed fields and
defaults (``engine.jobs.registry``). This form turns such a class into labelled inputs
— int → spin box, float → double spin box, bool → check box, Literal → combo box,
str → line edit, lists/dicts → JSON line edit — so each job's dialog stays in step with
its parameters without hand-written UI. Field comments become tooltips via ``help``.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, get_args, get_origin

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    if get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


class ParamsForm(QWidget):
    """Inputs for the fields of ``params_type``; :meth:`values` returns a plain dict.

    Parameters
    ----------
    params_type : the job kind's parameter dataclass.
    help : field name -> tooltip text.
    hidden : fields not shown (set by the caller, e.g. the clip a dialog is for).
    """

    changed = Signal()

    def __init__(self, params_type: type, *, help: Mapping[str, str] | None = None,
                 hidden: frozenset[str] = frozenset(), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._type = params_type
        self._hints = typing.get_type_hints(params_type)
        self._inputs: dict[str, tuple[QWidget, Any, bool]] = {}
        layout = QFormLayout(self)
        for f in dataclasses.fields(params_type):
            if f.name in hidden:
                continue
            default = _default(f)
            tp, optional = _unwrap_optional(self._hints[f.name])
            widget = self._make_input(tp, default, optional)
            tip = (help or {}).get(f.name, "")
            if tip:
                widget.setToolTip(tip)
            layout.addRow(f.name.replace("_", " "), widget)
            self._inputs[f.name] = (widget, tp, optional)

    def _make_input(self, tp: Any, default: Any, optional: bool) -> QWidget:
        if get_origin(tp) is Literal:
            w = QComboBox()
            if optional:
                w.addItem("(any)", None)
            for choice in get_args(tp):
                w.addItem(str(choice), choice)
            w.setCurrentIndex(max(w.findData(default), 0))
            w.currentIndexChanged.connect(self.changed)
            return w
        if tp is bool:
            w = QCheckBox()
            w.setChecked(bool(default))
            w.toggled.connect(self.changed)
            return w
        if tp is int and not optional:
            w = QSpinBox()
            w.setRange(-(2**31) + 1, 2**31 - 1)
            w.setValue(int(default or 0))
            w.valueChanged.connect(self.changed)
            return w
        if tp is float and not optional:
            w = QDoubleSpinBox()
            w.setRange(-1e9, 1e9)
            w.setDecimals(4)
            w.setValue(float(default or 0.0))
            w.valueChanged.connect(self.changed)
            return w
        w = QLineEdit()
        if default is not None:
            w.setText(default if isinstance(default, str) else json.dumps(default))
        if optional:
            w.setPlaceholderText("(none)")
        w.textChanged.connect(self.changed)
        return w

    def set_value(self, name: str, value: Any) -> None:
        widget, tp, _optional = self._inputs[name]
        if isinstance(widget, QComboBox):
            widget.setCurrentIndex(max(widget.findData(value), 0))
        elif isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            widget.setValue(value)
        else:
            widget.setText("" if value is None else value if isinstance(value, str) else json.dumps(value))

    def values(self) -> dict[str, Any]:
        """The entered values (JSON-ready); empty optional fields are left out.

        Type errors are not judged here: the job registry validates when queueing and
        its message names the parameter.
        """
        out: dict[str, Any] = {}
        for name, (widget, tp, optional) in self._inputs.items():
            if isinstance(widget, QComboBox):
                if widget.currentData() is not None or not optional:
                    out[name] = widget.currentData()
            elif isinstance(widget, QCheckBox):
                out[name] = widget.isChecked()
            elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
                out[name] = widget.value()
            else:
                text = widget.text().strip()
                if not text:
                    if not optional and tp is str:
                        out[name] = ""
                    continue
                if tp is str:
                    out[name] = text
                else:
                    try:
                        out[name] = json.loads(text)
                    except json.JSONDecodeError:
                        out[name] = text
        return out


def _default(f: dataclasses.Field) -> Any:  # type: ignore[type-arg]
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None
