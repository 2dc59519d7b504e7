"""The Train dialog: sparse parameters, presets, continuing a model, devices, coverage, and a
command line that the real ``facesmith`` parser turns into the same job."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.train_dialog import (
    CPU_DEVICE,
    FaceColumns,
    ModelChoice,
    TrainDialog,
    TrainInputs,
    command_line,
    device_choices,
    probe_gpus,
)
from engine.jobs.registry import parse_cli_params, validate_params
from engine.project.models import Model
from engine.swap.config import get_preset

pytestmark = pytest.mark.gui


def faces(src_yaw: list[float], dst_yaw: list[float], *, src_person: int = 1, dst_person: int = 2,
          excluded: int = 0) -> FaceColumns:
    n_src, n_dst = len(src_yaw), len(dst_yaw)
    n = n_src + n_dst
    ex = np.zeros(n, bool)
    ex[:excluded] = True
    return FaceColumns(np.arange(1, n + 1), np.r_[np.zeros(n_src), np.ones(n_dst)].astype(np.int8),
                       np.r_[np.full(n_src, src_person), np.full(n_dst, dst_person)].astype(np.int64), ex,
                       np.array(src_yaw + dst_yaw, float), np.zeros(n))


FRONTAL = faces([0.0] * 40, [0.0] * 30)


def model(model_id: int = 3, preset: str = "fast-64", iteration: int = 1200) -> ModelChoice:
    p = get_preset(preset)
    row = Model(model_id, "swap", "grid", p.model.arch_string, p.model.face_type, p.model.resolution,
                {"model": p.model.to_json(), "train": p.train.to_json(), "preset": preset}, iteration)
    choice = ModelChoice.from_model(row)
    assert choice is not None
    return choice


@pytest.fixture
def make_dialog(qtbot, tmp_path: Path):
    def make(**kw) -> TrainDialog:
        inputs = TrainInputs(tmp_path / "P.facesmith", kw.pop("models", ()), kw.pop("persons", ((1, "Ann"), (2, "Bo"))),
                             kw.pop("faces", FRONTAL), kw.pop("devices", device_choices([])))
        dialog = TrainDialog(inputs, **kw)
        qtbot.addWidget(dialog)
        return dialog

    return make


def parsed(cmd: tuple[str, ...]) -> dict:
    """What ``facesmith`` would queue for this command line (through its real parser)."""
    from engine.cli import build_parser
    from engine.swap import cli as swap_cli

    args = build_parser().parse_args(list(cmd[1:]))
    raw = swap_cli._params(args) if args.command == "train" else parse_cli_params(args.param)
    return validate_params("train_swap", raw)


def test_a_new_model_from_a_preset_is_sparse_and_presets_fill_the_form(make_dialog) -> None:
    d = make_dialog()
    assert d.new_radio.isChecked() and not d.continue_radio.isEnabled()  # no model to continue yet
    assert d.params() == {"preset": "dfl-128", "iterations": 100_000} and d.error() == ""
    d.preset_combo.setCurrentIndex(d.preset_combo.findData("fast-64"))
    fast = get_preset("fast-64")
    assert d.resolution_spin.value() == 64 and d.arch_combo.currentData() == "df"
    assert d.dim_spins["ae_dims"].value() == fast.model.ae_dims
    assert d.fields["lr"].value() == pytest.approx(fast.train.lr) and d.fields["lr"].text() == "0.0004"
    assert d.params() == {"preset": "fast-64", "iterations": 100_000}
    assert d.command().text.endswith("train " + str(d.inputs.project) + " --preset fast-64 --iterations 100000")
    assert "df-ud 64 px full face" in d.shape_label.text()


def test_params_round_trip_and_the_command_line_is_the_same_job(make_dialog) -> None:
    wanted = {"preset": "fast-64", "name": "grid 64", "arch": "liae-u", "resolution": 96, "iterations": 2500,
              "batch_size": 4, "lr": 0.0002, "optimizer": "adabelief", "device": "cpu", "checkpoint_every_s": 30.0,
              "preview_every": 50, "seed": 7,
              "train": {"ct_mode": "rct", "uniform_yaw": True, "loss": {"mse": 5.0}, "warmup": 10}}
    d = make_dialog(initial=wanted)
    got = d.params()
    assert got == wanted
    cmd = d.command()
    assert cmd.argv[:3] == ("facesmith", "train", str(d.inputs.project)) and cmd.unsupported == ()
    assert "--set" in cmd.argv and "ct_mode=rct" in cmd.argv
    assert parsed(cmd.argv) == validate_params("train_swap", got)
    # Options `facesmith train` lacks: the command becomes `facesmith run ... train_swap`, the same job.
    d.dim_spins["ae_dims"].setValue(128)
    d.src_person_combo.setCurrentIndex(d.src_person_combo.findData(1))
    d.fields["keep_backups"].setValue(5)
    got = d.params()
    assert got["ae_dims"] == 128 and got["src_person"] == 1 and got["keep_backups"] == 5
    cmd = d.command()
    assert cmd.argv[1] == "run" and set(cmd.unsupported) == {"ae_dims", "keep_backups"}
    assert d.command_note.isVisibleTo(d) and "ae_dims" in d.command_note.text()
    assert parsed(cmd.argv) == validate_params("train_swap", got)
    assert d.command_edit.toPlainText() == cmd.text
    d.copy_button.click()
    assert QGuiApplication.clipboard().text() == cmd.text


def test_command_line_quotes_what_a_shell_would_split() -> None:
    cmd = command_line("/data/My Show.facesmith", {"preset": "fast-64", "name": "it's mine", "pretrain": True,
                                                   "train": {"loss": {"mse": 5}}})
    assert cmd.text.startswith("facesmith train '/data/My Show.facesmith'")
    assert parsed(cmd.argv)["name"] == "it's mine" and parsed(cmd.argv)["pretrain"] is True
    assert parsed(cmd.argv)["train"] == {"loss": {"mse": 5}}


def test_bad_choices_are_explained_and_block_queueing(qtbot, make_dialog) -> None:
    d = make_dialog()
    d.resolution_spin.setValue(80)  # liae-ud needs a multiple of 32
    assert "multiple of 32" in d.error() and not d.queue_button.isEnabled()
    assert d.error_label.text() == d.error()
    d.accept()
    assert d.result() == 0  # still open
    d.resolution_spin.setValue(96)
    assert d.error() == "" and d.queue_button.isEnabled()
    d.src_person_combo.setCurrentIndex(d.src_person_combo.findData(2))  # Bo has no src faces
    assert "No src faces" in d.error()
    d.pretrain_check.setChecked(True)  # pretraining uses any faces
    assert d.error() == "" and "70 faces of both roles" in d.counts_label.text()
    d.show()
    d.activateWindow()
    qtbot.waitUntil(d.isActiveWindow)
    with qtbot.waitSignal(d.accepted):
        qtbot.keyClick(d.iterations_spin, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def test_continuing_a_model_keeps_its_shape_and_sends_only_changes(make_dialog) -> None:
    m = model(iteration=1200)
    d = make_dialog(models=(m,), initial={"preset": "dfl-256", "iterations": 5}, model=m.id)
    assert d.continue_radio.isChecked() and d.continuing() == m
    assert not d.resolution_spin.isEnabled() and d.resolution_spin.value() == 64
    assert d.params() == {"model": m.id, "iterations": 11_200}  # not the last job's preset or target
    assert "1,200" in d.shape_label.text()
    d.fields["lr"].setValue(1e-4)
    d.batch_spin.setValue(4)
    assert d.params() == {"model": m.id, "iterations": 11_200, "lr": 1e-4, "batch_size": 4}
    assert d.error() == ""
    assert parsed(d.command().argv)["model"] == m.id
    d.iterations_spin.setValue(1000)
    assert "already at iteration 1,200" in d.error() and not d.queue_button.isEnabled()
    d.iterations_spin.setValue(11_200)
    d.new_radio.setChecked(True)  # back to a new model: from the continued model's preset
    assert d.resolution_spin.isEnabled() and d.params() == {"preset": "fast-64", "iterations": 11_200}
    # The last parameters name a model: the dialog opens on it.
    again = make_dialog(models=(m,), initial={"model": m.id, "iterations": 3000, "batch_size": 2})
    assert again.continuing() == m and again.params() == {"model": m.id, "iterations": 3000, "batch_size": 2}
    gone = make_dialog(initial={"model": 99, "iterations": 3000})  # a deleted model: a new one instead
    assert gone.new_radio.isChecked() and "model" not in gone.params()


def test_devices_cpu_each_gpu_and_all_gpus(make_dialog) -> None:
    choices = device_choices(["NVIDIA H100 (80 GB)", "NVIDIA H100 (80 GB)", "NVIDIA H100 (80 GB)"])
    assert [c.label for c in choices][:3] == ["Auto (first GPU, else CPU)", "CPU", "GPU 0: NVIDIA H100 (80 GB)"]
    assert [(c.device, c.devices) for c in choices[-2:]] == [(None, 2), (None, 3)]
    d = make_dialog(devices=choices, initial={"preset": "fast-64", "iterations": 10})
    d.device_combo.setCurrentIndex(3)
    assert d.params()["device"] == "cuda:1" and "devices" not in d.params()
    d.device_combo.setCurrentIndex(d.device_combo.count() - 1)
    assert d.params()["devices"] == 3 and "device" not in d.params()
    assert "multiple of devices" in d.error()  # batch 8 over 3 GPUs
    d.batch_spin.setValue(9)
    assert d.error() == "" and "--devices 3" in d.command().text
    d.set_devices([CPU_DEVICE])  # a late probe answer keeps a choice it no longer lists
    assert d.params()["devices"] == 3 and "not seen here" in d.device_combo.currentText()


def test_gpus_are_probed_without_torch_and_honour_cuda_visible_devices(tmp_path: Path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # as if the editor never imported torch
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho '0, GPU-aaa, NVIDIA A, 81559'\necho '1, GPU-bbb, NVIDIA B, 40960'\n")
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert probe_gpus() == ["NVIDIA A (80 GB)", "NVIDIA B (40 GB)"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert probe_gpus() == ["NVIDIA B (40 GB)"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-bb,0")
    assert probe_gpus() == ["NVIDIA B (40 GB)", "NVIDIA A (80 GB)"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert probe_gpus() == []
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    assert probe_gpus() == []


def test_the_coverage_warning_names_the_gaps_of_the_faces_that_train(make_dialog) -> None:
    d = make_dialog(faces=faces([0.0] * 40, [0.0] * 20 + [30.0] * 12, excluded=3))
    assert d.coverage_gaps() == 1
    text = d.coverage_label.text()
    assert "⚠" in text and "1 gap" in text and "yaw 25..35°" in text and "12 dst / 0 src" in text
    assert "src: 37 faces · dst: 32 faces · 3 excluded faces left out" == d.counts_label.text()
    d.pretrain_check.setChecked(True)
    assert d.coverage_gaps() == 0 and d.coverage_label.text() == ""
    ok = make_dialog()
    assert ok.coverage_gaps() == 0 and "every dst pose has src faces" in ok.coverage_label.text()
