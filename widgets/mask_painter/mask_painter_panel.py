"""MaskPainterPanel: the canvas with its tool buttons, sliders, view modes and key help.

The panel owns the painter's own actions (tools, view modes, hull, prediction to
polygons) in a typed registry, with DeepFaceLab's XSeg editor keys where it has them
(Q include, W exclude; E brush and R eraser are ours). Their shortcuts are scoped to the
panel (``WidgetWithChildrenShortcut``): Q paints only when the painter has focus, and the
editor can put the same actions in its menus. Controls and canvas are bound both ways,
pushing canvas state into controls inside ``signals_blocked``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from widgets.mask_painter.help_overlay import CANVAS_HELP, action_rows
from widgets.mask_painter.mask_painter_canvas import MaskPainterCanvas
from widgets.mask_painter.model import MAX_BRUSH, MIN_BRUSH, TOOLS, VIEW_MODES
from widgets.qt_utils import signals_blocked

FACE_TYPES = ("", "half", "mid_full", "full", "whole", "head")


class PainterActions(NamedTuple):
    include: QAction
    exclude: QAction
    brush: QAction
    eraser: QAction
    view_image: QAction
    view_mask: QAction
    view_overlay: QAction
    show_predicted: QAction
    fill_hull: QAction
    predicted_to_polygons: QAction
    remove_mask: QAction
    help: QAction


class MaskPainterPanel(QWidget):
    """The painter with its controls.

    Signals
    -------
    face_type_changed(str) : the face type to view the crop in (``""``: as extracted).
    The canvas's own signals (``panel.canvas.label_committed`` …) carry the edits.
    """

    face_type_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = MaskPainterCanvas()
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.actions = self._build_actions()
        self._extra_help: list[QAction] = []
        self.title = QLabel("No face")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel("")
        self.size_slider = self._slider(int(MIN_BRUSH), 512, int(self.canvas.model.brush_size), "brush size (px): [ ]")
        self.hardness_slider = self._slider(0, 100, int(self.canvas.model.hardness * 100), "brush hardness: Shift+[ ]")
        self.opacity_slider = self._slider(0, 100, int(self.canvas.opacity() * 100), "overlay opacity")
        self.face_type = QComboBox()
        for name in FACE_TYPES:
            self.face_type.addItem(name.replace("_", " ") if name else "as extracted", name)
        self.face_type.setToolTip("face type the crop is shown in (the label is stored in frame pixels)")
        self.face_type.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.face_type.setMinimumContentsLength(6)
        self._layout()
        self._connect()
        self.refresh_help()

    # ------------------------------------------------------------------ construction
    def _build_actions(self) -> PainterActions:
        def act(text: str, keys: Iterable[str], tip: str, *, checkable: bool = False) -> QAction:
            a = QAction(text, self)
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            a.setToolTip(f"{tip} ({', '.join(keys)})" if keys else tip)
            a.setStatusTip(tip)
            a.setCheckable(checkable)
            self.addAction(a)
            return a

        tools = QActionGroup(self)
        views = QActionGroup(self)
        acts = PainterActions(
            include=act("&Include Polygon", ["Q"], "draw polygons that add to the mask", checkable=True),
            exclude=act("E&xclude Polygon", ["W"], "draw polygons that cut out of the mask", checkable=True),
            brush=act("&Brush", ["E"], "paint the mask in (right drag erases)", checkable=True),
            eraser=act("&Eraser", ["R"], "paint the mask out (right drag paints)", checkable=True),
            view_image=act("View &Image", ["1"], "the face with the polygons only", checkable=True),
            view_mask=act("View &Mask", ["2"], "the mask, white on black", checkable=True),
            view_overlay=act("View &Overlay", ["3"], "the mask tinted over the face", checkable=True),
            show_predicted=act("&Predicted Mask Beside", ["4"], "the XSeg prediction beside the label",
                               checkable=True),
            fill_hull=act("Fill from &Hull", ["H"], "replace the mask by the landmark hull with forehead"),
            predicted_to_polygons=act("Predicted → &Polygons", ["P"],
                                      "replace the mask by the XSeg prediction as editable polygons"),
            remove_mask=act("&Remove Mask", ["Ctrl+Delete"], "remove the label: the face is no keyframe any more"),
            help=act("&Keys…", ["?", "F1"], "show the painter's keys"),
        )
        for a in (acts.include, acts.exclude, acts.brush, acts.eraser):
            tools.addAction(a)
        for a in (acts.view_image, acts.view_mask, acts.view_overlay):
            views.addAction(a)
        acts.include.setChecked(True)
        acts.view_overlay.setChecked(True)
        return acts

    def _slider(self, lo: int, hi: int, value: int, tip: str) -> QSlider:
        s = QSlider(Qt.Orientation.Horizontal)
        s.setRange(lo, hi)
        s.setValue(value)
        s.setToolTip(tip)
        s.setMinimumWidth(30)
        return s

    def _layout(self) -> None:
        a = self.actions
        # A tool bar folds what does not fit into its "»" menu, so the panel stays usable
        # in a narrow dock next to the face grid.
        tools = QToolBar()
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        tools.setIconSize(QSize(1, 1))
        for action, text in ((a.include, "Include"), (a.exclude, "Exclude"), (a.brush, "Brush"), (a.eraser, "Eraser"),
                             (None, ""), (a.view_image, "Image"), (a.view_mask, "Mask"), (a.view_overlay, "Overlay"),
                             (a.show_predicted, "Predicted"), (None, ""), (a.fill_hull, "Hull"),
                             (a.predicted_to_polygons, "Pred→Poly"), (a.help, "?")):
            if action is None:
                tools.addSeparator()
            else:
                action.setIconText(text)  # what a text-only tool button shows; menus keep the full text
                tools.addAction(action)
        self.tool_bar = tools
        row = QHBoxLayout()
        for label, widget in (("Size", self.size_slider), ("Hardness", self.hardness_slider),
                              ("Opacity", self.opacity_slider), ("Face", self.face_type)):
            row.addWidget(QLabel(label))
            row.addWidget(widget, 1 if isinstance(widget, QSlider) else 0)
        for text_label in (self.title, self.status):
            text_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(tools)
        layout.addLayout(row)
        layout.addWidget(self.title)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.status)

    def _connect(self) -> None:
        a, c = self.actions, self.canvas
        for tool, action in zip(TOOLS, (a.include, a.exclude, a.brush, a.eraser), strict=True):
            action.triggered.connect(lambda _=False, t=tool: c.set_tool(t))
        for mode, action in zip(VIEW_MODES, (a.view_image, a.view_mask, a.view_overlay), strict=True):
            action.triggered.connect(lambda _=False, m=mode: c.set_view_mode(m))
        a.show_predicted.toggled.connect(c.set_show_predicted)
        a.fill_hull.triggered.connect(c.fill_hull)
        a.predicted_to_polygons.triggered.connect(lambda: c.predicted_to_polygons())
        a.remove_mask.triggered.connect(c.clear_label)
        a.help.triggered.connect(c.toggle_help)
        self.size_slider.valueChanged.connect(lambda v: c.set_brush(size=float(v)))
        self.hardness_slider.valueChanged.connect(lambda v: c.set_brush(hardness=v / 100.0))
        self.opacity_slider.valueChanged.connect(lambda v: c.set_opacity(v / 100.0))
        self.face_type.currentIndexChanged.connect(lambda i: self.face_type_changed.emit(self.face_type.itemData(i)))
        c.tool_changed.connect(self._on_tool_changed)
        c.brush_changed.connect(self._on_brush_changed)
        c.view_mode_changed.connect(lambda mode: self._check(getattr(self.actions, f"view_{mode}")))
        c.show_predicted_changed.connect(lambda on: self._check(self.actions.show_predicted, on))

    # ------------------------------------------------------------------ canvas -> controls
    def _on_tool_changed(self, tool: str) -> None:
        self._check(getattr(self.actions, tool))

    @staticmethod
    def _check(action: QAction, on: bool = True) -> None:
        # Not inside signals_blocked: the action group keeps its actions exclusive through
        # them. No echo: the tool and view actions act on ``triggered``, which setChecked
        # never emits, and the canvas ignores a show_predicted it already has.
        action.setChecked(on)

    def _on_brush_changed(self, size: float, hardness: float) -> None:
        with signals_blocked(self.size_slider):
            self.size_slider.setValue(int(round(min(max(size, MIN_BRUSH), MAX_BRUSH))))
        with signals_blocked(self.hardness_slider):
            self.hardness_slider.setValue(int(round(hardness * 100)))

    # ------------------------------------------------------------------ data in
    def set_title(self, text: str) -> None:
        self.title.setText(text)

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def set_face_type(self, name: str) -> None:
        """Show ``name`` in the face type box (``""``: as extracted) without emitting."""
        index = max(self.face_type.findData(name), 0)
        with signals_blocked(self.face_type):
            self.face_type.setCurrentIndex(index)

    def add_help_actions(self, actions: Iterable[QAction]) -> None:
        """List more actions (the editor's navigation…) in the key help."""
        self._extra_help.extend(actions)
        self.refresh_help()

    def refresh_help(self) -> None:
        self.canvas.help.set_rows([*action_rows([*self.actions, *self._extra_help]), *CANVAS_HELP])
