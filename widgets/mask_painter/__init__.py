"""The mask painter: label a face's mask on its crop, with the frame around it.

``MaskPainterPanel`` (tools, sliders, view modes, key help) wraps ``MaskPainterCanvas``
(the custom-painted crop), which drives the Qt-free ``PainterModel`` (tools as state
machines over a :class:`~engine.masks.shapes.LabelMask` in frame pixels). Data goes in as
a ``PainterFace``; every committed step leaves as ``label_committed(label, text)``.
Run ``python -m widgets.mask_painter`` for a demo on a synthetic face.
"""

from widgets.mask_painter.geometry import Hit, canvas_picture, crop_points, frame_points, hit_test
from widgets.mask_painter.help_overlay import HelpOverlay
from widgets.mask_painter.mask_painter_canvas import MaskPainterCanvas
from widgets.mask_painter.mask_painter_panel import MaskPainterPanel, PainterActions
from widgets.mask_painter.model import (
    TOOLS,
    VIEW_MODES,
    Edit,
    PainterFace,
    PainterModel,
    PointerEvent,
    Tool,
    ViewMode,
)
from widgets.mask_painter.training_preview import TrainingPreview

__all__ = [
    "TOOLS",
    "VIEW_MODES",
    "Edit",
    "HelpOverlay",
    "Hit",
    "MaskPainterCanvas",
    "MaskPainterPanel",
    "PainterActions",
    "PainterFace",
    "PainterModel",
    "PointerEvent",
    "Tool",
    "TrainingPreview",
    "ViewMode",
    "canvas_picture",
    "crop_points",
    "frame_points",
    "hit_test",
]
