"""ProjectBrowser: sections filled from plain rows; selection and rename signals."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.project.models import Clip, Model, Person, Render
from widgets.project_browser import PersonRow, ProjectBrowser

pytestmark = pytest.mark.gui


def _clip(i: int, role: str, path: Path) -> Clip:
    return Clip(id=i, name=f"clip{i}", role=role, path=path, size_bytes=1, fingerprint="f", width=360, height=288,
                fps=Fraction(25), frame_count=75, duration_s=3.0, rotation=0, codec="mpeg1video", audio_streams=1,
                audio_codec="mp2", in_frame=0, out_frame=None, added_at=0.0)


def test_sections_signals_and_rename(qtbot, tmp_path: Path) -> None:
    present = tmp_path / "a.mpg"
    present.write_bytes(b"x")
    view = ProjectBrowser()
    qtbot.addWidget(view)
    view.set_clips([_clip(1, "src", present), _clip(2, "dst", tmp_path / "gone.mpg")], {1: (75, 5)},
                   {1: np.zeros((36, 48, 3), np.uint8)})
    view.set_persons([PersonRow(Person(7, "Person 1", False, 0.0), 75, 0)])
    view.set_models([Model(3, "swap", "SAEHD", "liae-ud", "whole", 128, {}, 1000, "models/3", 0, 0)])
    view.set_renders([Render(4, 2, None, 3, "renders/out.mp4", "mp4", 0, 75, {}, 0.0)])
    assert view.ids("clip") == [1, 2] and view.ids("person") == [7] and view.ids("model") == [3]
    assert view.ids("render") == ["renders/out.mp4"]
    assert view.item_for("clip", 1).text(2) == "70 (+5)"
    assert "missing" in view.item_for("clip", 2).text(0)
    with qtbot.waitSignal(view.clip_selected) as sig:
        view.setCurrentItem(view.item_for("clip", 2))
    assert sig.args == [2]
    with qtbot.waitSignal(view.person_renamed) as sig:
        view.item_for("person", 7).setText(0, "Alice")
    assert sig.args == [7, "Alice"]
