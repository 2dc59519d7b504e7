"""Drawing the face overlays (boxes, landmark meshes, labels) in view pixels.

Overlays are drawn in *view* coordinates, mapped with numpy, rather than under a scaled
QPainter transform: line widths, dot sizes and text then stay the same size at every
zoom without cosmetic-pen bookkeeping, and mapping 68 points is one vectorised call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPen, QPolygonF

from widgets.frame_view.model import POLYLINES, FaceOverlay, GroupName, group_indices
from widgets.frame_view.transform import ViewTransform

SELECTED_COLOUR: Final = "#409cff"
DEFAULT_COLOUR: Final = "#5cc878"
EXCLUDED_COLOUR: Final = "#8a8a90"
NOT_SWAPPED_COLOUR: Final = "#f0b428"
ACTIVE_COLOUR: Final = "#ffa040"
HOVER_COLOUR: Final = "#ffffff"
LABEL_BACKGROUND: Final = QColor(0, 0, 0, 170)


@dataclass(frozen=True)
class OverlayStyle:
    """What to draw beyond the boxes, and the state of an edit in progress.

    Attributes
    ----------
    landmarks_override : face id -> landmarks to draw instead of the stored ones (a drag preview).
    active : ``(face_id, indices)`` of the points being dragged, drawn highlighted.
    hover : ``(face_id, index)`` of the landmark under the cursor in edit mode.
    group : the group chosen with the group buttons, highlighted on every face.
    """

    selected: Set[int] = frozenset()
    show_landmarks: bool = True
    show_labels: bool = True
    editing: bool = False
    landmarks_override: Mapping[int, np.ndarray] = field(default_factory=dict)
    active: tuple[int, np.ndarray] | None = None
    hover: tuple[int, int] | None = None
    group: GroupName | None = None


def face_colour(face: FaceOverlay, selected: bool) -> QColor:
    if selected:
        return QColor(SELECTED_COLOUR)
    if face.not_swapped:
        return QColor(NOT_SWAPPED_COLOUR)
    if face.excluded:
        return QColor(EXCLUDED_COLOUR)
    return QColor(face.colour or DEFAULT_COLOUR)


def paint_faces(
    painter: QPainter, faces: Sequence[FaceOverlay], transform: ViewTransform, style: OverlayStyle
) -> None:
    """Draw every face; selected faces last, so their highlight is never hidden."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    ordered = sorted(faces, key=lambda f: f.face_id in style.selected)
    for face in ordered:
        _paint_face(painter, face, transform, style)
    painter.restore()


def _paint_face(painter: QPainter, face: FaceOverlay, transform: ViewTransform, style: OverlayStyle) -> None:
    selected = face.face_id in style.selected
    colour = face_colour(face, selected)
    x0, y0, x1, y1 = transform.box_to_view(face.box)
    rect = QRectF(QPointF(x0, y0), QPointF(x1, y1)).normalized()
    pen = QPen(colour, 2.0 if selected else 1.5)
    pen.setCosmetic(True)
    if face.not_swapped:
        pen.setStyle(Qt.PenStyle.DotLine)
    elif face.excluded:
        pen.setStyle(Qt.PenStyle.DashLine)
    painter.setPen(pen)
    painter.drawRect(rect)

    landmarks = style.landmarks_override.get(face.face_id, face.landmarks)
    if style.show_landmarks and landmarks is not None:
        _paint_landmarks(painter, face.face_id, transform.to_view(landmarks), colour, style)
    if style.show_labels and face.label:
        _paint_label(painter, face.label, rect, colour)


def _polygon(points: np.ndarray) -> QPolygonF:
    return QPolygonF([QPointF(x, y) for x, y in points.tolist()])


def _paint_landmarks(painter: QPainter, face_id: int, view: np.ndarray, colour: QColor, style: OverlayStyle) -> None:
    line = QColor(colour)
    line.setAlpha(200)
    pen = QPen(line, 1.0)
    pen.setCosmetic(True)
    painter.setPen(pen)
    for indices, closed in POLYLINES:
        polygon = _polygon(view[list(indices)])
        if closed:
            painter.drawPolygon(polygon)
        else:
            painter.drawPolyline(polygon)

    dot = 5.0 if style.editing else 3.5
    dots = QPen(colour, dot, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    painter.setPen(dots)
    painter.drawPoints(_polygon(view))

    highlight: np.ndarray | None = None
    if style.active is not None and style.active[0] == face_id:
        highlight = style.active[1]
    elif style.editing and style.group is not None:
        highlight = group_indices(style.group)
    if highlight is not None and len(highlight):
        painter.setPen(QPen(QColor(ACTIVE_COLOUR), dot + 1.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawPoints(_polygon(view[highlight]))
    if style.hover is not None and style.hover[0] == face_id and style.active is None:
        x, y = view[style.hover[1]]
        ring = QPen(QColor(HOVER_COLOUR), 1.5)
        ring.setCosmetic(True)
        painter.setPen(ring)
        painter.drawEllipse(QPointF(x, y), dot + 1.0, dot + 1.0)


def _paint_label(painter: QPainter, text: str, box: QRectF, colour: QColor) -> None:
    metrics = QFontMetricsF(painter.font())
    width = metrics.horizontalAdvance(text) + 8.0
    height = metrics.height() + 2.0
    top = box.top() - height if box.top() - height >= 0 else box.top()
    background = QRectF(box.left(), top, width, height)
    painter.fillRect(background, LABEL_BACKGROUND)
    painter.setPen(colour)
    painter.drawText(background, Qt.AlignmentFlag.AlignCenter, text)


#: The box being drawn over a missed face: dashed, in a colour no face uses.
DRAWN_BOX_COLOUR: Final = QColor("#ffd54a")


def paint_drawn_box(painter: QPainter, transform: ViewTransform, box: tuple[float, float, float, float]) -> None:
    """The box the user is dragging ("add a face here"), ``(x, y, w, h)`` frame pixels."""
    x, y, w, h = box
    x0, y0, x1, y1 = transform.box_to_view((x, y, x + w, y + h))
    painter.save()
    pen = QPen(DRAWN_BOX_COLOUR, 1.5, Qt.PenStyle.DashLine)
    pen.setCosmetic(True)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(QRectF(QPointF(x0, y0), QPointF(x1, y1)))
    painter.restore()
