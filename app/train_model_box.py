"""The train dialog's Model section: a new model from a preset (with a name) or an existing
model to continue, and the new model's shape (architecture and its options, resolution,
face type, dims) with a one-line summary under it.

Split out of :mod:`app.train_dialog`: the dialog keeps the section's widgets under its own
names, reads the shape back with :meth:`ModelBox.shape`, writes a preset's or a model's
with :meth:`ModelBox.write_shape`, and locks the shape while continuing
(:meth:`ModelBox.set_continuing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QWidget,
)

from app.train_inputs import ARCH, DIMS, FACE_TYPE, OPTION_TIPS, RESOLUTION, ModelChoice, make_input, write_input
from engine.errors import FacesmithError
from engine.swap.config import PRESETS, ModelConfig


class ModelBox(QGroupBox):
    """New from a preset or continue a model, and the model's shape.

    Attributes
    ----------
    new_radio, continue_radio : the two modes (continue is disabled without models).
    preset_combo, name_edit : the new model's preset and name.
    model_combo : the model to continue (data = model id).
    arch_combo, option_checks, resolution_spin, face_type_combo, dim_spins : the shape.
    shape_label : the shape in one line, or the iteration a continued model is at.
    """

    def __init__(self, models: Sequence[ModelChoice], parent: QWidget | None = None) -> None:
        super().__init__("Model", parent)
        self.new_radio = QRadioButton("&New model from preset")
        self.continue_radio = QRadioButton("C&ontinue model")
        group = QButtonGroup(self)
        group.addButton(self.new_radio)
        group.addButton(self.continue_radio)
        self.preset_combo = QComboBox()
        for name, preset in PRESETS.items():
            self.preset_combo.addItem(name, name)
            self.preset_combo.setItemData(self.preset_combo.count() - 1, preset.description, Qt.ItemDataRole.ToolTipRole)
        self.preset_combo.setToolTip("A named starting point: model shape and training defaults. fast-64 trains "
                                     "visibly in minutes on a CPU; dfl-128 is DeepFaceLab's SAEHD default")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("(automatic)")
        self.name_edit.setToolTip("The new model's name in the project")
        self.model_combo = QComboBox()
        for m in models:
            self.model_combo.addItem(m.label, m.id)
        self.model_combo.setToolTip("Continue training this model from its latest checkpoint. Its shape stays; "
                                    "training settings changed here apply from now on")
        if not models:
            self.continue_radio.setEnabled(False)
            self.continue_radio.setToolTip("No swap model in this project yet")
            self.model_combo.setEnabled(False)
        self.arch_combo = make_input(ARCH)
        self.option_checks = {c: QCheckBox(c) for c in "udt"}
        for c, box in self.option_checks.items():
            box.setToolTip(OPTION_TIPS[c])
        self.resolution_spin = make_input(RESOLUTION)
        self.face_type_combo = make_input(FACE_TYPE)
        self.dim_spins = {spec.name: make_input(spec) for spec in DIMS}
        self.shape_label = QLabel()
        self.shape_label.setStyleSheet("color: #9a9aa0;")
        self._lay_out()

    def _lay_out(self) -> None:
        grid = QGridLayout(self)
        grid.addWidget(self.new_radio, 0, 0)
        grid.addWidget(self.preset_combo, 0, 1)
        name_label = QLabel("Na&me")
        name_label.setBuddy(self.name_edit)
        grid.addWidget(name_label, 0, 2)
        grid.addWidget(self.name_edit, 0, 3)
        grid.addWidget(self.continue_radio, 1, 0)
        grid.addWidget(self.model_combo, 1, 1, 1, 3)
        shape = QFormLayout()
        arch_row = QHBoxLayout()
        arch_row.addWidget(self.arch_combo)
        for box in self.option_checks.values():
            arch_row.addWidget(box)
        arch_row.addStretch(1)
        arch_label = QLabel(ARCH.label)
        arch_label.setBuddy(self.arch_combo)
        arch_label.setToolTip(ARCH.tip)
        shape.addRow(arch_label, arch_row)
        shape.addRow(RESOLUTION.label, self.resolution_spin)
        shape.addRow(FACE_TYPE.label, self.face_type_combo)
        dims_row = QHBoxLayout()
        for spec in DIMS:
            lab = QLabel(spec.label.replace(" dims", ""))
            lab.setToolTip(spec.tip)
            dims_row.addWidget(lab)
            dims_row.addWidget(self.dim_spins[spec.name])
        shape.addRow("Dims", dims_row)
        shape.addRow("", self.shape_label)
        grid.addLayout(shape, 2, 0, 1, 4)

    def shape_inputs(self) -> list[QWidget]:
        """The inputs of the model's shape (each one's change signal is the dialog's)."""
        return [self.arch_combo, *self.option_checks.values(), self.resolution_spin, self.face_type_combo,
                *self.dim_spins.values()]

    def shape(self) -> dict[str, Any]:
        """The shape as :class:`ModelConfig`'s keywords (options as a string, e.g. ``"ud"``)."""
        return {"arch": self.arch_combo.currentData(),
                "options": "".join(c for c, box in self.option_checks.items() if box.isChecked()),
                "resolution": self.resolution_spin.value(), "face_type": self.face_type_combo.currentData(),
                **{k: w.value() for k, w in self.dim_spins.items()}}

    def write_shape(self, cfg: ModelConfig) -> None:
        write_input(self.arch_combo, cfg.arch)
        for c, box in self.option_checks.items():
            write_input(box, c in cfg.options)
        write_input(self.resolution_spin, cfg.resolution)
        write_input(self.face_type_combo, cfg.face_type)
        for k, w in self.dim_spins.items():
            write_input(w, getattr(cfg, k))

    def set_continuing(self, continuing: bool) -> None:
        """A continued model keeps its shape, preset and name: only the model choice is open."""
        for w in self.shape_inputs():
            w.setEnabled(not continuing)
        self.preset_combo.setEnabled(not continuing)
        self.name_edit.setEnabled(not continuing)
        self.model_combo.setEnabled(continuing)

    def show_summary(self, continuing: ModelChoice | None) -> None:
        """The line under the shape: the new model's shape, or the continued model's iteration."""
        if continuing is not None:
            self.shape_label.setText(f"Continuing at iteration {continuing.iteration:,}; "
                                     "a model's shape never changes.")
            return
        try:
            cfg = ModelConfig(**self.shape())
            self.shape_label.setText(f"{cfg.arch_string} {cfg.resolution} px {cfg.face_type.replace('_', '-')} "
                                     f"face, mask dims {cfg.d_mask_dims}")
        except FacesmithError:
            self.shape_label.setText("")
