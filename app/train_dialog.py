"""TrainDialog: queue a swap-model training job (Train ▸ Train Swap Model…, Ctrl+T).

The important choices come first: a new model from a preset (architecture, resolution,
face type, dims) or an existing model to continue; which faces train; the target, batch
size and device. Every other option of the trainer sits in the tabs beside them, each
with a tooltip saying what it does to the model. A coverage warning appears when the
chosen src faces leave dst poses uncovered (the face graph's gaps).

The job's parameters are kept *sparse*: only what differs from the preset (or from the
continued model's last settings) goes into the job, so the equivalent command line shown
at the bottom stays short, and it is exactly the same job (a test parses it with the
real ``facesmith`` parser). The dialog reads nothing itself: the workspace hands it the
models, persons, face columns and devices as plain values (:class:`TrainInputs`).

Inputs are built from one table of :class:`FieldSpec` (:data:`TRAIN_TABS`), so a new
trainer option is one line. The Model section is :class:`app.train_model_box.ModelBox`,
the persons and clips :class:`app.train_faces.FacesChoice`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QFontDatabase,
    QGuiApplication,
    QKeySequence,
    QShortcut,
    QTextOption,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.train_faces import FacesChoice
from app.train_inputs import (  # noqa: F401 - re-exported: the dialog's API
    _ERROR_STYLE,
    _KEPT_FOR_ANOTHER_MODEL,
    _REQUEST_DEFAULTS,
    _SHAPE_KEYS,
    _WARNING_STYLE,
    ARCH,
    AUTO_DEVICE,
    BATCH,
    CPU_DEVICE,
    DEFAULT_TARGET,
    DIMS,
    FACE_TYPE,
    ITERATIONS,
    JOB_FIELDS,
    OPTION_TIPS,
    RESOLUTION,
    TOP_LEVEL_TRAIN,
    TRAIN_TABS,
    CommandLine,
    DeviceChoice,
    FaceColumns,
    FieldSpec,
    ModelChoice,
    SciSpinBox,
    TrainInputs,
    changed_signal,
    command_line,
    device_choices,
    make_input,
    probe_gpus,
    read_input,
    same,
    write_input,
)
from app.train_model_box import ModelBox
from app.train_options import (
    add_face_cache_note,
    add_pretrained_inputs,
    add_size_presets,
    pretrained_params,
    saehd_tabs,
)
from engine.curation.coverage import compute_coverage
from engine.errors import FacesmithError
from engine.jobs.registry import get_kind
from engine.swap.config import (
    DEFAULT_PRESET,
    PRESETS,
    ModelConfig,
    TrainConfig,
    get_preset,
)
from engine.swap.request import TrainRequest
from widgets.qt_utils import signals_blocked


class TrainDialog(QDialog):
    """Choose what to train and how; Queue validates and accepts (``params()`` is the job's).

    Parameters
    ----------
    inputs : the project's models, persons, faces and devices.
    initial : parameters to start from (the last queued ones); a ``model`` in them
        selects "continue".
    model : continue this model (overrides ``initial``'s choice).
    """

    def __init__(self, inputs: TrainInputs, *, initial: Mapping[str, Any] | None = None, model: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train swap model")
        self.inputs = inputs
        self._loading = False
        self._params: dict[str, Any] = {}
        self._error = ""
        self._coverage_gaps = 0
        self._build()
        self.size_combo = add_size_presets(self)
        add_pretrained_inputs(self)
        start = dict(initial or {})
        choice = self._model(model)
        if choice is not None and start.get("model") != model:
            # The last job trained something else: keep only where and how it ran.
            start = {k: v for k, v in start.items() if k in _KEPT_FOR_ANOTHER_MODEL}
            start.update(model=model, iterations=choice.iteration + 10_000)
        self.set_params(start)
        self.face_cache_note = add_face_cache_note(self)

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        intro = QLabel("Train a face-swap model on the project's src faces (the face to put in) and dst faces "
                       "(the footage to change). The job runs in the engine; the Training monitor follows it.")
        intro.setWordWrap(True)
        # -- model
        self.model_box = ModelBox(self.inputs.models)
        box = self.model_box
        self.new_radio, self.continue_radio = box.new_radio, box.continue_radio
        self.preset_combo, self.name_edit, self.model_combo = box.preset_combo, box.name_edit, box.model_combo
        self.arch_combo, self.option_checks, self.resolution_spin = box.arch_combo, box.option_checks, box.resolution_spin
        self.face_type_combo, self.dim_spins, self.shape_label = box.face_type_combo, box.dim_spins, box.shape_label

        # -- faces
        self.faces_choice = FacesChoice(self.inputs, self)
        self.faces_choice.changed.connect(self._on_faces)
        self.src_person_combo, self.dst_person_combo = self.faces_choice.combos["src"], self.faces_choice.combos["dst"]
        self.more_persons = self.faces_choice.more_persons
        self.clips_list = self.faces_choice.clips_list
        more_buttons = self.faces_choice.rows
        self.pretrain_check = QCheckBox("&Pretrain on any faces")
        self.pretrain_check.setToolTip("Train on every face of both roles: a generic face model to start real models "
                                       "from. Continuing a pretrained model with this off resets its inter layers and "
                                       "its iteration count, as DeepFaceLab does")
        self.counts_label = QLabel()
        self.coverage_label = QLabel()
        self.coverage_label.setWordWrap(True)
        self.coverage_label.setTextFormat(Qt.TextFormat.RichText)
        hint = QLabel("Excluded faces never train. For a best-faces subset use Faces ▸ Keep Best Faces… "
                      "(it excludes the rest) before queuing.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #9a9aa0;")
        faces_box = QGroupBox("Faces")
        faces = QFormLayout()
        faces.addRow("&src person", more_buttons["src"])
        faces.addRow("&dst person", more_buttons["dst"])
        if self.inputs.clips:
            faces.addRow("&Clips", self.clips_list)
        faces.addRow("", self.pretrain_check)
        faces_column = QVBoxLayout(faces_box)  # wrapped labels size themselves properly outside a form
        faces_column.addLayout(faces)
        for label in (self.counts_label, self.coverage_label, hint):
            faces_column.addWidget(label)

        # -- run
        self.iterations_spin = make_input(ITERATIONS)
        self.batch_spin = make_input(BATCH)
        self.device_combo = QComboBox()
        self.set_devices(self.inputs.devices)
        self.device_combo.setToolTip("Where the engine trains. Several GPUs train one model together (DDP)")
        run_box = QGroupBox("Run")
        run = QFormLayout(run_box)
        run.addRow(ITERATIONS.label, self.iterations_spin)
        run.addRow(BATCH.label, self.batch_spin)
        run.addRow("De&vice", self.device_combo)

        # -- advanced
        self.fields: dict[str, QWidget] = {}
        self.tabs = QTabWidget()
        for title, specs in (*TRAIN_TABS, *saehd_tabs()):
            page = QWidget()
            form = QFormLayout(page)
            for spec in specs:
                w = make_input(spec)
                self.fields[spec.name] = w
                label = QLabel(spec.label)
                label.setToolTip(spec.tip)
                label.setBuddy(w)
                form.addRow(label, w)
            self.tabs.addTab(page, title)

        # -- command line
        self.command_edit = QPlainTextEdit()
        self.command_edit.setReadOnly(True)
        self.command_edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.command_edit.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.command_edit.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.command_edit.setFixedHeight(4 * self.command_edit.fontMetrics().lineSpacing() + 12)
        self.command_edit.setTabChangesFocus(True)
        self.command_edit.setToolTip("The same job from a terminal (e.g. on a GPU server with a copy of the project)")
        self.copy_button = QPushButton("&Copy")
        self.copy_button.setToolTip("Copy the command line to the clipboard")
        self.command_note = QLabel()
        self.command_note.setWordWrap(True)
        self.command_note.setStyleSheet("color: #9a9aa0;")
        command_label = QLabel("Command &line")
        command_label.setBuddy(self.command_edit)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(_ERROR_STYLE)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.queue_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.queue_button.setText("&Queue Training")
        self.queue_button.setToolTip("Queue the job (Ctrl+Enter); the engine starts it when the device is free")

        left = QVBoxLayout()
        left.addWidget(self.model_box)
        left.addWidget(faces_box)
        left.addWidget(run_box)
        left.addStretch(1)
        right = QVBoxLayout()
        advanced = QLabel("Training options")
        advanced.setStyleSheet("font-weight: 600;")
        right.addWidget(advanced)
        right.addWidget(self.tabs, 1)
        columns = QHBoxLayout()
        columns.addLayout(left, 3)
        columns.addLayout(right, 2)
        command_row = QHBoxLayout()
        command_row.addWidget(self.command_edit, 1)
        command_row.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(columns, 1)
        layout.addWidget(command_label)
        layout.addLayout(command_row)
        layout.addWidget(self.command_note)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.resize(1040, 760)

        # -- behaviour
        self.new_radio.toggled.connect(self._on_mode)
        self.preset_combo.currentIndexChanged.connect(self._on_preset)
        self.model_combo.currentIndexChanged.connect(self._on_model)
        for w in (*self.model_box.shape_inputs(), self.iterations_spin, self.batch_spin, self.device_combo,
                  *self.fields.values()):
            changed_signal(w).connect(self._changed)
        self.name_edit.textChanged.connect(self._changed)
        for w in (self.src_person_combo, self.dst_person_combo):
            w.currentIndexChanged.connect(self._on_faces)
        self.pretrain_check.toggled.connect(self._on_faces)
        self.clips_list.itemChanged.connect(lambda _item: self._on_faces())
        self.copy_button.clicked.connect(self.copy_command)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, activated=self.accept)

    # ------------------------------------------------------------------ data in
    def set_devices(self, devices: Sequence[DeviceChoice]) -> None:
        """Offer these devices (the GPU probe may answer after the dialog opened); keeps the choice."""
        current = self.device_combo.currentData()
        with signals_blocked(self.device_combo):
            self.device_combo.clear()
            for d in devices:
                self.device_combo.addItem(d.label, d)
                self.device_combo.setItemData(self.device_combo.count() - 1, d.tip, Qt.ItemDataRole.ToolTipRole)
        if current is not None:
            self._select_device(current.device, current.devices)

    def set_params(self, params: Mapping[str, Any]) -> None:
        """Show these job parameters (sparse or full); unknown or invalid parts fall back."""
        self._loading = True
        try:
            p = {k: v for k, v in params.items() if k in _REQUEST_DEFAULTS}
            choice = self._model(p.get("model"))
            if choice is not None:
                with signals_blocked(self.continue_radio), signals_blocked(self.new_radio):
                    self.continue_radio.setChecked(True)
                write_input(self.model_combo, choice.id)
                write_input(self.preset_combo, choice.preset if choice.preset in PRESETS else DEFAULT_PRESET)
                model_cfg, base_train = choice.model, choice.train
            else:
                with signals_blocked(self.continue_radio), signals_blocked(self.new_radio):
                    self.new_radio.setChecked(True)
                preset = p.get("preset") if p.get("preset") in PRESETS else DEFAULT_PRESET
                write_input(self.preset_combo, preset)
                model_cfg, base_train = get_preset(preset).model, get_preset(preset).train
                p.pop("model", None)
            try:
                req = get_kind("train_swap").parse(p)
                if choice is None:
                    model_cfg, train_cfg = req.new_configs()
                else:
                    train_cfg = base_train.updated(req.train_overrides())
            except (FacesmithError, ValueError):
                req, train_cfg = TrainRequest(), base_train
            self._write_shape(model_cfg)
            self._write_train(train_cfg)
            with signals_blocked(self.name_edit):
                self.name_edit.setText(p.get("name") or "")
            write_input(self.iterations_spin, p["iterations"] if p.get("iterations") is not None else (
                choice.iteration + 10_000 if choice is not None else DEFAULT_TARGET))
            self._select_device(p.get("device"), int(p.get("devices") or 1))
            write_input(self.fields["checkpoint_minutes"], req.checkpoint_every_s / 60.0)
            for name in ("keep_backups", "keep_hourly", "preview_every", "metric_every", "compile"):
                write_input(self.fields[name], getattr(req, name))
            write_input(self.fields["seed"], req.seed if req.seed is not None else -1)
            for combo, key in ((self.src_person_combo, "src_person"), (self.dst_person_combo, "dst_person")):
                write_input(combo, p.get(key))
            for role in ("src", "dst"):
                more = {int(x) for x in p.get(f"{role}_persons") or ()}
                for action in self.more_persons[role].actions():
                    action.setChecked(int(action.data()) in more)
            chosen = {str(c) for c in p.get("clips") or ()}
            for i in range(self.clips_list.count()):
                item = self.clips_list.item(i)
                clip_id, clip_name = item.data(Qt.ItemDataRole.UserRole)
                on = not chosen or clip_name in chosen or str(clip_id) in chosen
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        finally:
            self._loading = False
        self._update_mode()
        self._on_faces()

    # ------------------------------------------------------------------ reading back
    def persons_of(self, role: str) -> list[int]:
        """The persons chosen for ``role``: the combo's, then those ticked in its "+" menu."""
        return self.faces_choice.persons_of(role)

    def chosen_clips(self) -> list[tuple[int, str]] | None:
        """``(id, name)`` of the ticked clips, or None when every clip is ticked (no restriction)."""
        return self.faces_choice.chosen_clips()

    def continuing(self) -> ModelChoice | None:
        return self._model(self.model_combo.currentData()) if self.continue_radio.isChecked() else None

    def params(self) -> dict[str, Any]:
        """The job's parameters, sparse: what differs from the preset or the continued model."""
        p: dict[str, Any] = {}
        choice = self.continuing()
        if choice is not None:
            p["model"] = choice.id
            base_train = choice.train
        else:
            preset = get_preset(self.preset_combo.currentData())
            p["preset"] = preset.name
            base_train = preset.train
            if self.name_edit.text().strip():
                p["name"] = self.name_edit.text().strip()
            have, base = self._shape(), preset.model.to_json()
            if (have["arch"], have["options"]) != (base["arch"], base["options"]):
                p["arch"] = f"{have['arch']}-{have['options']}" if have["options"] else have["arch"]
            p.update({k: have[k] for k in _SHAPE_KEYS if have[k] != base[k]})
        p["iterations"] = self.iterations_spin.value()
        train, loss = self._train_values()
        base_json = base_train.to_json()
        extra: dict[str, Any] = {}
        for key, value in train.items():
            if not same(value, base_json[key]):
                (p if key in TOP_LEVEL_TRAIN else extra)[key] = value
        loss_diff = {k: v for k, v in loss.items() if not same(v, base_json["loss"][k])}
        if loss_diff:
            extra["loss"] = loss_diff
        device = self.device_combo.currentData()
        if device is not None and device.device is not None:
            p["device"] = device.device
        if device is not None and device.devices != 1:
            p["devices"] = device.devices
        for role in ("src", "dst"):
            persons = self.persons_of(role)
            if persons:  # the first as <role>_person, the rest as <role>_persons: as the CLI reads them
                p[f"{role}_person"] = persons[0]
                if persons[1:]:
                    p[f"{role}_persons"] = persons[1:]
        chosen = self.chosen_clips()
        if chosen is not None:
            p["clips"] = [name for _, name in chosen]
        seconds = round(read_input(self.fields["checkpoint_minutes"]) * 60.0, 6)
        if not same(seconds, _REQUEST_DEFAULTS["checkpoint_every_s"]):
            p["checkpoint_every_s"] = seconds
        for name in ("keep_backups", "keep_hourly", "preview_every", "metric_every", "compile"):
            value = read_input(self.fields[name])
            if value != _REQUEST_DEFAULTS[name]:
                p[name] = value
        seed = read_input(self.fields["seed"])
        if seed >= 0:
            p["seed"] = seed
        if extra:
            p["train"] = extra
        return pretrained_params(self, p)

    def command(self) -> CommandLine:
        return command_line(self.inputs.project, self.params())

    def error(self) -> str:
        """Why the job cannot be queued as it stands ("" when it can)."""
        return self._error

    def copy_command(self) -> None:
        QGuiApplication.clipboard().setText(self.command().text)

    def accept(self) -> None:
        self._changed()
        if self._error:
            self.error_label.setFocus()
            return
        super().accept()

    # ------------------------------------------------------------------ internals
    def _model(self, model_id: Any) -> ModelChoice | None:
        return next((m for m in self.inputs.models if m.id == model_id), None)

    def _select_device(self, device: str | None, devices: int) -> None:
        for i in range(self.device_combo.count()):
            d = self.device_combo.itemData(i)
            if d.device == device and d.devices == devices:
                write_input(self.device_combo, d)
                return
        # A choice for another machine (a server's cuda:3): kept, so the command line stays as meant.
        custom = DeviceChoice(f"{device or 'auto'} × {devices} (not seen here)", device, devices,
                              "A device this computer does not show; the job needs a machine that has it")
        with signals_blocked(self.device_combo):
            self.device_combo.addItem(custom.label, custom)
            self.device_combo.setCurrentIndex(self.device_combo.count() - 1)

    def _shape(self) -> dict[str, Any]:
        return self.model_box.shape()

    def _write_shape(self, cfg: ModelConfig) -> None:
        self.model_box.write_shape(cfg)

    def _train_values(self) -> tuple[dict[str, Any], dict[str, float]]:
        train = {"batch_size": self.batch_spin.value(), "pretrain": self.pretrain_check.isChecked()}
        loss = {}
        for name, w in self.fields.items():
            if name.startswith("loss."):
                loss[name[5:]] = read_input(w)
            elif name not in JOB_FIELDS:
                train[name] = read_input(w)
        return train, loss

    def _write_train(self, cfg: TrainConfig) -> None:
        write_input(self.batch_spin, cfg.batch_size)
        write_input(self.pretrain_check, cfg.pretrain)
        for name, w in self.fields.items():
            if name.startswith("loss."):
                write_input(w, getattr(cfg.loss, name[5:]))
            elif name not in JOB_FIELDS:
                write_input(w, getattr(cfg, name))

    def _on_mode(self) -> None:
        if self._loading:
            return
        choice = self.continuing()
        if choice is not None:
            self._write_shape(choice.model)
            self._write_train(choice.train)
            write_input(self.iterations_spin, max(self.iterations_spin.value(), choice.iteration + 10_000))
        else:
            self._on_preset()
            return
        self._update_mode()
        self._on_faces()

    def _on_preset(self) -> None:
        if self._loading or self.continuing() is not None:
            return
        preset = get_preset(self.preset_combo.currentData())
        self._write_shape(preset.model)
        self._write_train(preset.train)
        self._update_mode()
        self._on_faces()

    def _on_model(self) -> None:
        if not self._loading and self.continuing() is not None:
            self._on_mode()

    def _update_mode(self) -> None:
        self.model_box.set_continuing(self.continuing() is not None)
        self._changed()

    def _side(self, role: int, clip_ids: list[int] | None) -> np.ndarray:
        """The faces that train for ``role`` (0 src, 1 dst): of any chosen person, of the clips."""
        f = self.inputs.faces
        persons = self.persons_of("src" if role == 0 else "dst")
        if not persons:
            return f.training(role, None, clip_ids)
        mask = np.zeros(len(f.ids), bool)
        for pid in persons:
            mask |= f.training(role, pid, clip_ids)
        return mask

    def _on_faces(self) -> None:
        """Face counts and the pose-coverage warning for the faces that will train."""
        if self._loading:
            return
        f = self.inputs.faces
        pretrain = self.pretrain_check.isChecked()
        excluded = int(f.excluded.sum())
        left_out = f" · {excluded:,} excluded face{'s' if excluded != 1 else ''} left out" if excluded else ""
        self._coverage_gaps = 0
        if pretrain:
            n = int(f.training(None, None).sum())
            self.counts_label.setText(f"{n:,} faces of both roles train{left_out}")
            self.coverage_label.setText("")
            self._changed()
            return
        chosen = self.chosen_clips()
        clip_ids = None if chosen is None else [cid for cid, _ in chosen]
        src, dst = self._side(0, clip_ids), self._side(1, clip_ids)
        self._counts = (int(src.sum()), int(dst.sum()))
        self.counts_label.setText(f"src: {self._counts[0]:,} faces · dst: {self._counts[1]:,} faces{left_out}")
        if self._counts[0] and self._counts[1]:
            cov = compute_coverage(np.column_stack([f.yaw[src], f.pitch[src]]),
                                   np.column_stack([f.yaw[dst], f.pitch[dst]]), plane="pose",
                                   src_ids=f.ids[src], dst_ids=f.ids[dst])
            self._coverage_gaps = len(cov.gaps)
            score = "–" if math.isnan(cov.score) else f"{cov.score:.0%}"
            if cov.gaps:
                shown = "; ".join(f"{cov.describe_bin(g)}: {g.dst_count} dst / {g.src_count} src"
                                  for g in cov.gaps[:3])
                more = f" and {len(cov.gaps) - 3} more" if len(cov.gaps) > 3 else ""
                self.coverage_label.setStyleSheet(_WARNING_STYLE)
                self.coverage_label.setText(
                    f"⚠ Pose coverage {score}: {len(cov.gaps)} gap{'s' if len(cov.gaps) != 1 else ''}, dst poses "
                    f"with too few src faces ({shown}{more}). The model will have to guess them: add src footage "
                    "with these poses (see the Face Graph).")
            else:
                self.coverage_label.setStyleSheet("")
                self.coverage_label.setText(f"Pose coverage {score}: every dst pose has src faces.")
        else:
            self.coverage_label.setText("")
        self._changed()

    def coverage_gaps(self) -> int:
        """Gaps in the pose coverage of the faces that will train (0 when pretraining)."""
        return self._coverage_gaps

    def _changed(self) -> None:
        if self._loading:
            return
        params = self.params()
        self._params = params
        self._error = self._validate(params)
        cmd = command_line(self.inputs.project, params)
        self.command_edit.setPlainText(cmd.text)
        self.command_note.setText(
            f"facesmith train has no option for {', '.join(cmd.unsupported)}: this command queues the same job "
            "with facesmith run." if cmd.unsupported else "")
        self.command_note.setVisible(bool(cmd.unsupported))
        self.error_label.setText(self._error)
        self.queue_button.setEnabled(not self._error)
        self.model_box.show_summary(self.continuing())

    def _validate(self, params: dict[str, Any]) -> str:
        try:
            req = get_kind("train_swap").parse(params)
            choice = self.continuing()
            if choice is not None:
                req.continued_configs(choice.id, choice.model, choice.train)
                if req.iterations and req.iterations <= choice.iteration:
                    return (f"model {choice.id} is already at iteration {choice.iteration:,}: set a higher target "
                            "iteration (or 0 to train until stopped)")
        except FacesmithError as exc:
            return str(exc)
        except ValueError as exc:
            return str(exc)
        if self.pretrain_check.isChecked():
            return "" if self.inputs.faces.training(None, None).any() else "No faces to train on: extract faces first."
        src, dst = getattr(self, "_counts", (0, 0))
        if not src:
            return "No src faces would train: extract src clips, or choose another src person, or restore excluded faces."
        if not dst:
            return "No dst faces would train: extract dst clips, or choose another dst person, or restore excluded faces."
        return ""
