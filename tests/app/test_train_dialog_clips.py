"""The Train dialog's clip choice: an unticked clip's faces do not train, and the command
line (``--clip``) is the same job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.train_dialog import FaceColumns, TrainDialog, TrainInputs, device_choices
from engine.jobs.registry import validate_params

pytestmark = pytest.mark.gui


def test_unticked_dst_clip_is_left_out(qtbot, tmp_path: Path) -> None:
    # src clip 1: 40 faces; dst clip 2: 30 faces; dst clip 3 (unrelated): 20 faces.
    clip = np.r_[np.full(40, 1), np.full(30, 2), np.full(20, 3)].astype(np.int64)
    role = (clip != 1).astype(np.int8)
    n = len(clip)
    faces = FaceColumns(np.arange(1, n + 1), role, np.full(n, -1, np.int64), np.zeros(n, bool), np.zeros(n),
                        np.zeros(n), clip)
    inputs = TrainInputs(tmp_path / "P.facesmith", (), (), faces, device_choices([]),
                         clips=((1, "photos", "src"), (2, "stage", "dst"), (3, "other", "dst")))
    d = TrainDialog(inputs, initial={"preset": "fast-64"})
    qtbot.addWidget(d)
    assert d.chosen_clips() is None and "clips" not in d.params()
    assert "dst: 50 faces" in d.counts_label.text()
    d.clips_list.item(2).setCheckState(Qt.CheckState.Unchecked)
    assert d.params()["clips"] == ["photos", "stage"]
    assert "src: 40 faces" in d.counts_label.text() and "dst: 30 faces" in d.counts_label.text()
    cmd = d.command()
    assert cmd.unsupported == () and cmd.argv[-4:] == ("--clip", "photos", "--clip", "stage")

    from engine.cli import build_parser
    from engine.swap import cli as swap_cli

    args = build_parser().parse_args(list(cmd.argv[1:]))
    assert validate_params("train_swap", swap_cli._params(args)) == validate_params("train_swap", d.params())
    # Opening the dialog again from the job's parameters ticks the same clips.
    again = TrainDialog(inputs, initial=d.params())
    qtbot.addWidget(again)
    assert again.chosen_clips() == [(1, "photos"), (2, "stage")]


def test_several_persons_a_side(qtbot, tmp_path: Path) -> None:
    # src persons 1 (20 faces) and 2 (10); dst persons 3 (15) and 4 (5).
    person = np.r_[np.full(20, 1), np.full(10, 2), np.full(15, 3), np.full(5, 4)].astype(np.int64)
    role = (person >= 3).astype(np.int8)
    n = len(person)
    faces = FaceColumns(np.arange(1, n + 1), role, person, np.zeros(n, bool), np.zeros(n), np.zeros(n))
    inputs = TrainInputs(tmp_path / "P.facesmith", (), ((1, "A"), (2, "B"), (3, "C"), (4, "D")), faces,
                         device_choices([]))
    d = TrainDialog(inputs, initial={"preset": "fast-64"})
    qtbot.addWidget(d)
    d.src_person_combo.setCurrentIndex(d.src_person_combo.findData(1))
    next(a for a in d.more_persons["src"].actions() if a.data() == 2).setChecked(True)
    next(a for a in d.more_persons["dst"].actions() if a.data() == 4).setChecked(True)
    p = d.params()
    assert (p["src_person"], p["src_persons"], p["dst_person"]) == (1, [2], 4) and "dst_persons" not in p
    assert "src: 30 faces" in d.counts_label.text() and "dst: 5 faces" in d.counts_label.text()
    cmd = d.command()
    assert cmd.unsupported == () and cmd.argv.count("--src-person") == 2

    from engine.cli import build_parser
    from engine.swap import cli as swap_cli

    args = build_parser().parse_args(list(cmd.argv[1:]))
    assert validate_params("train_swap", swap_cli._params(args)) == validate_params("train_swap", p)
    again = TrainDialog(inputs, initial=p)
    qtbot.addWidget(again)
    assert again.persons_of("src") == [1, 2] and again.persons_of("dst") == [4]
