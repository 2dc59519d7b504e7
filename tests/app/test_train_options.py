"""The train dialog's SAEHD page: every option with a tooltip, sent to the job under
DeepFaceLab's name, read back from a continued model, and the GPU size presets."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QComboBox

import numpy as np

from app.train_dialog import FaceColumns, ModelChoice, TrainDialog, TrainInputs, device_choices, write_input
from engine.jobs.registry import validate_params
from engine.project.models import Model
from engine.swap.config import get_preset
from engine.swap.options import OPTIONS

pytestmark = pytest.mark.gui

FRONTAL = FaceColumns(np.arange(1, 71), np.r_[np.zeros(40), np.ones(30)].astype(np.int8),
                      np.r_[np.full(40, 1), np.full(30, 2)].astype(np.int64), np.zeros(70, bool), np.zeros(70),
                      np.zeros(70))


def parsed(cmd: tuple[str, ...]) -> dict:
    """What ``facesmith`` would queue for this command line (through its real parser)."""
    from engine.cli import build_parser
    from engine.swap import cli as swap_cli

    args = build_parser().parse_args(list(cmd[1:]))
    assert args.command == "train"
    return validate_params("train_swap", swap_cli._params(args))


def _dialog(qtbot, tmp_path: Path, models=()) -> TrainDialog:
    inputs = TrainInputs(tmp_path / "P.facesmith", tuple(models), ((1, "Ann"), (2, "Bo")), FRONTAL,
                         device_choices([]))
    d = TrainDialog(inputs)
    qtbot.addWidget(d)
    return d


def test_every_saehd_option_has_an_input_with_a_tooltip(qtbot, tmp_path: Path) -> None:
    d = _dialog(qtbot, tmp_path)
    for o in OPTIONS:
        if o.name == "random_flip":  # an alias of the two flip inputs
            continue
        w = d.fields[o.name]
        assert w.toolTip() and len(w.toolTip()) > 30, o.name
    assert d.tabs.tabText(d.tabs.count() - 1).replace("&", "") == "SAEHD"
    d.resize(1100, 800)
    d.tabs.setCurrentIndex(d.tabs.count() - 1)
    d.grab().save(str(tmp_path / "saehd.png"))  # looked at while writing this test
    assert (tmp_path / "saehd.png").stat().st_size > 1000


def test_options_go_to_the_job_under_their_names_and_come_back(qtbot, tmp_path: Path) -> None:
    d = _dialog(qtbot, tmp_path)
    write_input(d.fields["gan_power"], 0.1)
    write_input(d.fields["lr_dropout"], "y")
    write_input(d.fields["random_jpeg"], True)
    write_input(d.fields["ct_mode"], "mkl")
    d._changed()
    p = d.params()
    assert p["train"]["gan_power"] == pytest.approx(0.1) and p["train"]["lr_dropout"] == "y"
    assert p["train"]["random_jpeg"] is True and p["train"]["ct_mode"] == "mkl"
    assert validate_params("train_swap", p)["train"]["ct_mode"] == "mkl"
    assert parsed(d.command().argv)["train"]["lr_dropout"] == "y"  # the command line is the same job
    # A continued model shows its options in the list and in the inputs.
    pre = get_preset("fast-64")
    train = pre.train.updated({"gan_power": 0.3, "random_blur": True})
    row = Model(4, "swap", "m", pre.model.arch_string, "full", 64, {"model": pre.model.to_json(),
                                                                    "train": train.to_json()}, 10)
    choice = ModelChoice.from_model(row)
    assert choice is not None and "gan_power=0.3" in choice.label and "random_blur=y" in choice.label
    d2 = TrainDialog(TrainInputs(tmp_path / "P.facesmith", (choice,), ((1, "Ann"),), FRONTAL, device_choices([])),
                     model=4)
    qtbot.addWidget(d2)
    assert d2.fields["gan_power"].value() == pytest.approx(0.3) and d2.fields["random_blur"].isChecked()


def test_gpu_size_presets_set_resolution_and_batch(qtbot, tmp_path: Path) -> None:
    d = _dialog(qtbot, tmp_path)
    combo = d.findChild(QComboBox, "size_preset")
    assert combo is not None and "--size-preset" in combo.toolTip()
    combo.setCurrentIndex(combo.findData("12gb"))
    assert d.resolution_spin.value() == 256 and d.batch_spin.value() == 8
    # The face cache note follows the resolution: 70 faces x 5 x 256 x 256 bytes = 22 MB.
    assert "70 training faces take 22 MB at 256 px" in d.face_cache_note.text()


def test_pretraining_folder_and_start_from_pretrained_go_to_the_job(qtbot, tmp_path: Path) -> None:
    d = _dialog(qtbot, tmp_path)
    w = d.pretrained_inputs
    assert all(x.toolTip() for x in w.values())
    w["pretrain_faces"].setText(str(tmp_path / "aligned"))
    assert "pretrain_faces" not in d.params()  # only with "Pretrain on any faces"
    d.pretrain_check.setChecked(True)
    p = d.params()
    assert p["pretrain_faces"] == str(tmp_path / "aligned") and p["pretrain"] is True
    assert parsed(d.command().argv)["pretrain_faces"] == str(tmp_path / "aligned")
    d.pretrain_check.setChecked(False)
    w["from_pretrained"].setText("/data/Base.facesmith/models/2")
    w["keep_decoders"].setChecked(True)
    p = d.params()
    assert p["from_pretrained"] == "/data/Base.facesmith/models/2" and p["keep_decoders"] is True
    assert "preset" not in p and not d.error()  # the shape comes from the pretrained model
    cmd = d.command()
    assert "--from-pretrained" in cmd.argv and "--keep-decoders" in cmd.argv and not cmd.unsupported
    assert parsed(cmd.argv)["keep_decoders"] is True
