"""MergeSettingsPanel: the merge settings as sliders and choices, for live tuning.

Plain values in (``set_values(dict)``), one ``settings_changed(dict)`` out per user change
(sliders emit while dragging, so the preview follows the hand). The dict has the field
names of ``engine.merge.settings.MergeSettings``; the presenter validates it there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QWidget,
)

from widgets.qt_utils import signals_blocked

MASK_SOURCES: Final = (
    ("learned_src", "learned (swapped face)"), ("learned_dst", "learned (dst face)"), ("hull", "landmark hull"),
    ("xseg_dst", "XSeg on dst face"), ("xseg_src", "XSeg on swapped face"), ("full", "whole crop"),
)
COLOR_MODES: Final = ("none", "rct", "lct", "mkl", "idt", "sot")
SHARPEN_MODES: Final = ("none", "box", "gaussian")
#: name -> (label, low, high, scale: slider units per value unit, tooltip)
SLIDERS: Final[dict[str, tuple[str, float, float, int, str]]] = {
    "erode": ("erode", -50, 50, 10, "shrink (+) or grow (−) the mask, % of the face crop"),
    "blur": ("blur", 0, 50, 10, "feather the mask edge, % of the face crop"),
    "face_scale": ("face scale", -50, 50, 10, "enlarge (+) or shrink (−) the pasted face, %"),
    "offset_x": ("offset x", -50, 50, 10, "move the pasted face right (+) or left (−), % of the crop"),
    "offset_y": ("offset y", -50, 50, 10, "move the pasted face down (+) or up (−), % of the crop"),
    "sharpen_amount": ("sharpen amount", -100, 100, 1, "unsharp amount; negative softens"),
    "opacity": ("opacity", 0, 1, 100, "how much of the swapped face shows inside the mask"),
    "smooth_alignment": ("smooth alignment", 0, 1, 100, "steady the face along its track (stops jitter)"),
    "smooth_mask": ("smooth mask", 0, 4, 1, "average mask edges over this many frames each side (stops flicker)"),
}


class MergeSettingsPanel(QWidget):
    """Signal: ``settings_changed(dict)`` — the whole settings dict after a user change."""

    settings_changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QFormLayout(self)
        # A narrow dock (a laptop screen) puts a long row's label above its field rather
        # than making the panel scroll sideways.
        layout.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.mask_boxes: dict[str, QCheckBox] = {}
        masks = QWidget()
        mask_layout = QGridLayout(masks)
        mask_layout.setContentsMargins(0, 0, 0, 0)
        for n, (key, label) in enumerate(MASK_SOURCES):
            box = QCheckBox(label)
            box.setToolTip("the face mask is the product of the checked sources")
            box.toggled.connect(self._emit)
            self.mask_boxes[key] = box
            mask_layout.addWidget(box, n // 2, n % 2)
        layout.addRow("mask", masks)
        self.color = QComboBox()
        self.color.addItems(COLOR_MODES)
        self.color.setToolTip("colour transfer toward the dst face (statistics inside the mask only)")
        self.color.currentIndexChanged.connect(self._emit)
        layout.addRow("colour transfer", self.color)
        self.seamless = QCheckBox("seamless clone")
        self.seamless.toggled.connect(self._emit)
        layout.addRow("", self.seamless)
        self.sharpen = QComboBox()
        self.sharpen.addItems(SHARPEN_MODES)
        self.sharpen.currentIndexChanged.connect(self._emit)
        layout.addRow("sharpen", self.sharpen)
        self.sliders: dict[str, QSlider] = {}
        self._readouts: dict[str, QLabel] = {}
        for name, (label, lo, hi, scale, tip) in SLIDERS.items():
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(int(lo * scale), int(hi * scale))
            slider.setToolTip(tip)
            readout = QLabel()
            readout.setMinimumWidth(44)
            slider.valueChanged.connect(lambda _v, n=name: self._on_slider(n))
            row = QWidget()
            row_layout = QHBoxLayout(row)
            row_layout.setContentsMargins(0, 0, 0, 0)
            row_layout.addWidget(slider, 1)
            row_layout.addWidget(readout)
            layout.addRow(label, row)
            self.sliders[name] = slider
            self._readouts[name] = readout

    # ------------------------------------------------------------------ data in/out
    def set_values(self, values: Mapping[str, Any]) -> None:
        """Show these settings without emitting."""
        with signals_blocked(self):
            for key, box in self.mask_boxes.items():
                with signals_blocked(box):
                    box.setChecked(key in values.get("mask", ()))
            for combo, name in ((self.color, "color"), (self.sharpen, "sharpen")):
                with signals_blocked(combo):
                    combo.setCurrentText(str(values.get(name, combo.currentText())))
            with signals_blocked(self.seamless):
                self.seamless.setChecked(bool(values.get("seamless", False)))
            for name, slider in self.sliders.items():
                if name in values:
                    with signals_blocked(slider):
                        slider.setValue(int(round(float(values[name]) * SLIDERS[name][3])))
                    self._show_readout(name)

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mask": [k for k, box in self.mask_boxes.items() if box.isChecked()],
            "color": self.color.currentText(),
            "seamless": self.seamless.isChecked(),
            "sharpen": self.sharpen.currentText(),
        }
        for name, slider in self.sliders.items():
            value = slider.value() / SLIDERS[name][3]
            out[name] = int(value) if name == "smooth_mask" else value
        return out

    # ------------------------------------------------------------------ internals
    def _on_slider(self, name: str) -> None:
        self._show_readout(name)
        self._emit()

    def _show_readout(self, name: str) -> None:
        scale = SLIDERS[name][3]
        value = self.sliders[name].value() / scale
        self._readouts[name].setText(f"{value:.2f}" if scale >= 100 else f"{value:g}")

    def _emit(self) -> None:
        self.settings_changed.emit(self.values())
