"""The train dialog's SAEHD page: DeepFaceLab's option set, one input and tooltip each.

The inputs are built from :data:`engine.swap.options.OPTIONS` (the engine's single
description of the options: names, ranges, help), so the dialog, ``facesmith train --set``
and the checkpoint always agree. Options that already have an input on another page
(colour transfer, uniform yaw, eyes and mouth priority, masked training, the flips) are
not repeated here; :func:`saehd_tabs` is appended to the dialog's ``TRAIN_TABS``.
"""

from __future__ import annotations

from typing import Final

from app.train_inputs import FieldSpec
from engine.swap.options import OPTIONS, SIZE_PRESETS, OptionSpec

#: On another page already (or an alias of fields there).
_ELSEWHERE: Final = frozenset({"ct_mode", "uniform_yaw", "eyes_mouth_prio", "masked_training", "random_flip"})
#: Spin-box step and decimals of the float options.
_STEPS: Final = {"gan_power": (0.05, 3), "true_face_power": (0.01, 3), "face_style_power": (0.01, 3),
                 "bg_style_power": (0.01, 3)}
_LR_DROPOUT_TEXT: Final = {"n": "off", "y": "on (device)", "cpu": "on (mask on the CPU)"}


def _spec(o: OptionSpec) -> FieldSpec:
    tip = f"{o.help} (DeepFaceLab option {o.name})"
    if o.kind == "choice":
        texts = _LR_DROPOUT_TEXT if o.name == "lr_dropout" else {}
        return FieldSpec(o.name, o.label, tip, "choice", choices=tuple((texts.get(c, c), c) for c in o.choices))
    if o.kind == "float":
        step, decimals = _STEPS.get(o.name, (0.1, 2))
        return FieldSpec(o.name, o.label, tip, "float", o.lo, o.hi, step, decimals)
    if o.kind == "int":
        return FieldSpec(o.name, o.label, tip, "int", o.lo, o.hi, 1, special="auto" if o.name == "gan_patch_size" else "")
    return FieldSpec(o.name, o.label, tip, "bool")


def saehd_tabs() -> tuple[tuple[str, tuple[FieldSpec, ...]], ...]:
    """The SAEHD page for the dialog's tab list."""
    return (("SAE&HD", tuple(_spec(o) for o in OPTIONS if o.name not in _ELSEWHERE)),)



def size_preset_tip() -> str:
    """What the batch-size and resolution presets are (``facesmith train --size-preset``)."""
    return "GPU size presets (facesmith train --size-preset NAME): " + "; ".join(
        f"{p.name}: {p.description}" for p in SIZE_PRESETS.values())


def add_size_presets(dialog: object) -> object:
    """A "GPU size" combo on the SAEHD page that sets the dialog's resolution (new models)
    and batch size together; returns the combo."""
    from PySide6.QtWidgets import QComboBox, QFormLayout

    combo = QComboBox()
    combo.addItem("(choose to set resolution and batch)", None)
    for p in SIZE_PRESETS.values():
        combo.addItem(p.description, p.name)
    combo.setToolTip(size_preset_tip())
    combo.setObjectName("size_preset")
    tabs = dialog.tabs  # type: ignore[attr-defined]
    page = tabs.widget(tabs.count() - 1)
    form = page.layout()
    if isinstance(form, QFormLayout):
        form.insertRow(0, "GPU si&ze", combo)

    def chosen() -> None:
        name = combo.currentData()
        if name is None:
            return
        p = SIZE_PRESETS[name]
        if dialog.continuing() is None:  # type: ignore[attr-defined]  # a continued model keeps its resolution
            dialog.resolution_spin.setValue(p.resolution)  # type: ignore[attr-defined]
        dialog.batch_spin.setValue(p.batch_size)  # type: ignore[attr-defined]

    combo.currentIndexChanged.connect(chosen)
    return combo


def add_face_cache_note(dialog: object) -> object:
    """A note on the SAEHD page: how much device memory the training faces take at the
    chosen resolution, and what happens when that is more than the device has free
    (``facesmith train --face-cache-mb`` sets the budget). Returns the label."""
    from PySide6.QtWidgets import QFormLayout, QLabel

    label = QLabel()
    label.setWordWrap(True)
    label.setObjectName("face_cache_note")
    label.setStyleSheet("color: #9a9aa0;")
    tabs = dialog.tabs  # type: ignore[attr-defined]
    form = tabs.widget(tabs.count() - 1).layout()
    if isinstance(form, QFormLayout):
        form.addRow(label)

    def update() -> None:
        src, dst = getattr(dialog, "_counts", (0, 0))
        r = int(dialog.resolution_spin.value())  # type: ignore[attr-defined]
        mb = (src + dst) * 5 * r * r / 2**20
        label.setText(f"Face cache: the {src + dst:,} training faces take {mb:,.0f} MB at {r} px. By default the "
                      "engine keeps as many on the device as fit in its free memory minus the model's needs; the "
                      "rest stream from the face pack on disk, sampled as evenly (facesmith train --face-cache-mb N "
                      "sets the budget)")

    dialog.resolution_spin.valueChanged.connect(update)  # type: ignore[attr-defined]
    for combo in (dialog.src_person_combo, dialog.dst_person_combo):  # type: ignore[attr-defined]
        combo.currentIndexChanged.connect(update)
    dialog.pretrain_check.toggled.connect(update)  # type: ignore[attr-defined]
    update()
    return label


#: Model-shape parameters a "start from pretrained" job leaves out (the source has a shape).
_SHAPE_PARAMS: Final = ("preset", "arch", "resolution", "face_type", "ae_dims", "e_dims", "d_dims", "d_mask_dims")


def add_pretrained_inputs(dialog: object) -> dict[str, object]:
    """Pretraining and "start from pretrained" inputs on the SAEHD page: a folder of
    aligned faces to pretrain on (with "Pretrain on any faces" checked), and a pretrained
    model folder (of any project) a new model starts from, decoders kept or reset.
    Returns the widgets by name; :func:`pretrained_params` reads them into the job."""
    from PySide6.QtWidgets import QCheckBox, QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QPushButton

    tabs = dialog.tabs  # type: ignore[attr-defined]
    form = tabs.widget(tabs.count() - 1).layout()
    widgets: dict[str, object] = {}

    def folder_row(name: str, label: str, placeholder: str, tip: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        edit.setToolTip(tip)
        browse = QPushButton("…")
        browse.setMaximumWidth(36)
        browse.setToolTip(f"Choose the folder: {tip}")
        browse.clicked.connect(lambda: edit.setText(QFileDialog.getExistingDirectory(tabs, label) or edit.text()))
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(browse)
        if isinstance(form, QFormLayout):
            form.addRow(label, row)
        edit.textChanged.connect(dialog._changed)  # type: ignore[attr-defined]
        widgets[name] = edit
        return edit

    folder_row("pretrain_faces", "Pretraining faces", "(the project's faces)",
               "With 'Pretrain on any faces': pretrain on this folder of aligned face images (any persons, e.g. a "
               "DeepFaceLab aligned folder) instead of the project's faces")
    folder_row("from_pretrained", "Start from pretrained", "(none: a fresh model)",
               "A new model starts from this pretrained model (its model folder, e.g. Other.facesmith/models/2, of "
               "any project): its shape, encoder and inter layers are kept, so it learns the project's faces far "
               "sooner. Iterations start at 0")
    keep = QCheckBox("Keep the pretrained decoders")
    keep.setObjectName("keep_decoders")
    keep.setToolTip("Keep the decoders too (they start from a generic face), or reset them so no other "
                    "identity lingers in them")
    keep.toggled.connect(dialog._changed)  # type: ignore[attr-defined]
    if isinstance(form, QFormLayout):
        form.addRow("", keep)
    widgets["keep_decoders"] = keep
    dialog.pretrained_inputs = widgets  # type: ignore[attr-defined]
    return widgets


def pretrained_params(dialog: object, params: dict) -> dict:
    """``params`` with the pretraining inputs applied (the dialog's ``params()`` ends here)."""
    widgets = getattr(dialog, "pretrained_inputs", None)
    if not widgets:
        return params
    p = dict(params)
    faces = widgets["pretrain_faces"].text().strip()  # type: ignore[attr-defined]
    if faces and p.get("pretrain", dialog.pretrain_check.isChecked()):  # type: ignore[attr-defined]
        p["pretrain_faces"] = faces
    source = widgets["from_pretrained"].text().strip()  # type: ignore[attr-defined]
    if source and dialog.continuing() is None:  # type: ignore[attr-defined]
        for key in _SHAPE_PARAMS:
            p.pop(key, None)
        p["from_pretrained"] = source
        if widgets["keep_decoders"].isChecked():  # type: ignore[attr-defined]
            p["keep_decoders"] = True
    return p
