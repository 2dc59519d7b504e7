"""ParamsForm: a job's parameter dataclass round-trips through the form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox

from widgets.params_form import ParamsForm

pytestmark = pytest.mark.gui


@dataclass(frozen=True)
class Params:
    steps: int = 10
    rate: float = 0.5
    fast: bool = True
    face_type: Literal["half", "full", "whole"] = "whole"
    name: str = "x"
    limit: int | None = None
    clips: list[int] = field(default_factory=list)


def test_defaults_round_trip_and_edits(qtbot) -> None:
    form = ParamsForm(Params, help={"steps": "how many"})
    qtbot.addWidget(form)
    assert form.values() == {"steps": 10, "rate": 0.5, "fast": True, "face_type": "whole", "name": "x", "clips": []}
    widgets = {n: w for n, (w, _t, _o) in form._inputs.items()}
    assert isinstance(widgets["steps"], QSpinBox) and widgets["steps"].toolTip() == "how many"
    assert isinstance(widgets["fast"], QCheckBox) and isinstance(widgets["face_type"], QComboBox)
    assert isinstance(widgets["limit"], QLineEdit)
    form.set_value("steps", 3)
    form.set_value("face_type", "half")
    widgets["limit"].setText("7")
    widgets["clips"].setText("[1, 2]")
    assert form.values() == {"steps": 3, "rate": 0.5, "fast": True, "face_type": "half", "name": "x",
                             "limit": 7, "clips": [1, 2]}


def test_form_values_validate_with_the_registry() -> None:
    from engine.jobs.registry import validate_params

    assert validate_params("noop", {"steps": 2, "step_s": 0.0})["steps"] == 2


def test_hidden_fields(qtbot) -> None:
    form = ParamsForm(Params, hidden=frozenset({"clips", "name"}))
    qtbot.addWidget(form)
    assert "clips" not in form.values() and "name" not in form.values()


@dataclass(frozen=True)
class OptionalChoice:
    role: Literal["src", "dst"] | None = None


def test_optional_choice_offers_any(qtbot) -> None:
    form = ParamsForm(OptionalChoice)
    qtbot.addWidget(form)
    assert form.values() == {}
    form.set_value("role", "dst")
    assert form.values() == {"role": "dst"}
