"""The mask painter's model: the label being edited and the tools' state machines, no Qt.

Pointer events arrive as :class:`PointerEvent` values in **crop** pixels (the widget maps
the mouse through its zoom and pan; tests build them by hand), keys as names. Every call
returns an :class:`Edit` when it *committed* a step (a new label for the face, in frame
pixels) and ``None`` otherwise, so one gesture is one edit is one undo step:

- **polygon tools** (``include``, ``exclude``): clicks add points to a draft; a click on
  the first point or ``enter`` closes it (one edit). Without a draft, dragging a vertex
  moves it, Ctrl+click on an edge inserts a vertex (and drags it), Ctrl+click or a right
  click on a vertex deletes it, ``delete`` removes the point or polygon under the cursor.
  ``backspace`` takes the last draft point back, ``escape`` drops the draft or the drag.
- **brush tools** (``brush``, ``eraser``): :meth:`PainterModel.begin_stroke` on press,
  :meth:`~PainterModel.extend_stroke` on every move (a short round-capped segment stamped
  into the display raster, so a move costs the same for any mask),
  :meth:`~PainterModel.commit_stroke` on release (the stroke becomes one more shape of the
  label and the raster is redrawn exactly), :meth:`~PainterModel.abort_stroke` on
  ``escape`` (the raster is restored from the copy taken at the press). The right button
  paints the other kind (erases with the brush, paints with the eraser).
- **whole-label steps**: :meth:`~PainterModel.fill_hull` (the landmark hull with forehead,
  as a starting point), :meth:`~PainterModel.predicted_to_polygons` (the XSeg prediction
  as editable polygons), :meth:`~PainterModel.clear` (the face stops being a keyframe).

This follows napari's labels painting (``_labels_mouse_bindings.py``, history atoms per
drag) with labelme-style full snapshots: a label is a small immutable value, so an undo
step simply holds the label before and after.

**Brush hardness.** A label is binary shapes (what XSeg training reads, thresholded at
one half), so a soft brush cannot be stored as such. Hardness sets where the brush's
linear fall-off would cross one half: the stored stroke radius is ``size / 2`` at hardness
1 and ``size / 4`` at hardness 0; the cursor shows both the full size and that edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from engine.masks.raster import draw
from engine.masks.shapes import LabelMask, Shape, ShapeKind, similarity_scale
from widgets.mask_painter.geometry import (
    Hit,
    Points,
    Rect,
    crop_points,
    frame_points,
    hit_test,
    StrokeCoverage,
    shifted,
    union,
)

Tool = Literal["include", "exclude", "brush", "eraser"]
TOOLS: Final[tuple[Tool, ...]] = ("include", "exclude", "brush", "eraser")
POLYGON_TOOLS: Final = ("include", "exclude")
ViewMode = Literal["image", "mask", "overlay"]
VIEW_MODES: Final[tuple[ViewMode, ...]] = ("image", "mask", "overlay")
Button = Literal["left", "right", "middle", "none"]
KEYS: Final = ("enter", "escape", "backspace", "delete", "[", "]", "{", "}")

MIN_BRUSH: Final = 2.0
MAX_BRUSH: Final = 1024.0
DEFAULT_BRUSH: Final = 32.0
BRUSH_STEP: Final = 1.2
HARDNESS_STEP: Final = 0.1
#: Default pick radius in crop pixels (the canvas sets it from the zoom: ~7 screen px).
DEFAULT_PICK: Final = 6.0
#: Points of a vectorised prediction (all polygons together).
DEFAULT_VECTOR_POINTS: Final = 240


@dataclass(frozen=True)
class PointerEvent:
    """A mouse event in crop pixels (what the widget hands the model, and tests fake)."""

    kind: Literal["press", "move", "release"]
    x: float
    y: float
    button: Button = "left"
    ctrl: bool = False
    shift: bool = False


def press(x: float, y: float, button: Button = "left", *, ctrl: bool = False) -> PointerEvent:
    return PointerEvent("press", x, y, button, ctrl)


def move(x: float, y: float, button: Button = "none") -> PointerEvent:
    return PointerEvent("move", x, y, button)


def release(x: float, y: float, button: Button = "left") -> PointerEvent:
    return PointerEvent("release", x, y, button)


@dataclass(frozen=True, eq=False)
class PainterFace:
    """What the painter shows of one face (plain data; the presenter builds it).

    Attributes
    ----------
    face_id : the face.
    image : the canvas picture, uint8 RGB ``(side, side, 3)``: the frame warped into the
        crop with ``margin`` pixels of frame around it (see
        :func:`~widgets.mask_painter.geometry.canvas_picture`); ``None`` while it loads.
    matrix : frame -> crop 2x3 alignment of the ``size`` crop (any face type).
    label : the face's label mask in frame pixels; ``None`` when it is no keyframe.
    predicted : the XSeg prediction in this crop, uint8 ``(size, size)``, or ``None``.
    landmarks : 68 frame-pixel landmarks (for the hull), or ``None``.
    """

    face_id: int
    image: np.ndarray | None
    matrix: np.ndarray
    size: int
    margin: int = 0
    label: LabelMask | None = None
    predicted: np.ndarray | None = None
    landmarks: np.ndarray | None = None

    @property
    def side(self) -> int:
        """Side of the canvas picture: the crop plus its margins."""
        return self.size + 2 * self.margin

    @property
    def canvas_matrix(self) -> npt.NDArray[np.float64]:
        return shifted(self.matrix, self.margin)


@dataclass(frozen=True)
class Edit:
    """One committed step: the face's new label (``None``: no longer a keyframe)."""

    label: LabelMask | None
    text: str


@dataclass
class _Stroke:
    kind: ShapeKind
    radius: float  # crop px (the stored edge, see the module docs)
    coverage: StrokeCoverage  # the stroke's pixels, and the raster before it (for abort)
    points: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class _Drag:
    shape: int
    index: int  # the vertex being dragged (in the preview's points)
    original: Points  # the shape's frame points before the gesture
    preview: Points  # crop points shown while dragging
    inserted: bool
    start: tuple[float, float]
    moved: bool = False


class PainterModel:
    """The label of one face under edit, the current tool and its gesture state.

    Attributes
    ----------
    face : what is shown, or ``None``.
    label : the label as committed so far (empty when the face is no keyframe).
    keyframe : whether the face has a label (an empty label is a keyframe too).
    raster : the display mask in canvas pixels (uint8, ``face.side`` square), kept up to
        date incrementally during a stroke and redrawn exactly after every step.
    polygons : ``(shape index, crop points)`` of the label's polygons, for hit tests and
        outlines.
    draft : crop points of the polygon being drawn.
    drag, stroke : the gesture in progress, if any.
    hover : what the pointer is over (polygon tools).
    cursor : the last pointer position (crop pixels).
    """

    def __init__(self) -> None:
        self.face: PainterFace | None = None
        self.label = LabelMask()
        self.keyframe = False
        self.predicted: np.ndarray | None = None
        self.tool: Tool = "include"
        self.brush_size = DEFAULT_BRUSH
        self.hardness = 1.0
        self.pick_radius = DEFAULT_PICK
        self.raster = np.zeros((0, 0), np.uint8)
        self.polygons: list[tuple[int, Points]] = []
        self.draft: list[tuple[float, float]] = []
        self.stroke: _Stroke | None = None
        self.drag: _Drag | None = None
        self.hover: Hit | None = None
        self.cursor: tuple[float, float] | None = None
        self.last_edit: Edit | None = None
        self._dirty: Rect | None = None
        self._full = False

    # ------------------------------------------------------------------ data in
    def set_face(self, face: PainterFace | None) -> None:
        """Show another face: any gesture or draft of the previous one is dropped."""
        self.stroke = None
        self.drag = None
        self.draft = []
        self.hover = None
        self.face = face
        self.label = (face.label if face is not None else None) or LabelMask()
        self.keyframe = face is not None and face.label is not None
        self.predicted = None if face is None else face.predicted
        self._render()

    def set_label(self, label: LabelMask | None) -> None:
        """The stored label changed (undo, redo, another view): show it. A stroke or drag
        in progress is dropped; a polygon draft is kept."""
        self.stroke = None
        self.drag = None
        self.hover = None
        self.label = label or LabelMask()
        self.keyframe = label is not None
        self._render()

    def set_predicted(self, mask: np.ndarray | None) -> None:
        self.predicted = mask

    def set_tool(self, tool: Tool) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; tools: {', '.join(TOOLS)}")
        if self.stroke is not None:
            self.abort_stroke()
        if tool not in POLYGON_TOOLS:
            self.draft = []
            self.drag = None
        self.hover = None
        self.tool = tool

    def set_brush(self, *, size: float | None = None, hardness: float | None = None) -> None:
        if size is not None:
            self.brush_size = float(min(max(size, MIN_BRUSH), MAX_BRUSH))
        if hardness is not None:
            self.hardness = float(min(max(hardness, 0.0), 1.0))

    @property
    def brush_radius(self) -> float:
        """The stored stroke radius in crop pixels (see *Brush hardness* in the module docs)."""
        return 0.25 * self.brush_size * (1.0 + self.hardness)

    # ------------------------------------------------------------------ events
    def handle(self, event: PointerEvent) -> Edit | None:
        """Feed one pointer event; returns the committed step, if this event made one."""
        self.cursor = (float(event.x), float(event.y))
        if self.face is None:
            return None
        if event.kind == "press":
            return self._press(event)
        if event.kind == "move":
            return self._move(event)
        return self._release(event)

    def key(self, name: str) -> Edit | None:
        """A key: ``enter``, ``escape``, ``backspace``, ``delete``, ``[``/``]`` (brush
        size), ``{``/``}`` (hardness, i.e. Shift+[ and Shift+])."""
        if name == "enter":
            return self.close_polygon()
        if name == "escape":
            if self.stroke is not None:
                self.abort_stroke()
            elif self.drag is not None:
                self.drag = None
            else:
                self.draft = []
            return None
        if name == "backspace":
            if self.draft:
                self.draft.pop()
            return None
        if name == "delete":
            return self.delete_at_cursor()
        if name in ("[", "]"):
            factor = BRUSH_STEP if name == "]" else 1.0 / BRUSH_STEP
            self.set_brush(size=round(self.brush_size * factor, 1))
        elif name in ("{", "}"):
            self.set_brush(hardness=round(self.hardness + (HARDNESS_STEP if name == "}" else -HARDNESS_STEP), 2))
        return None

    def _press(self, ev: PointerEvent) -> Edit | None:
        if ev.button == "middle":
            return None
        if self.tool not in POLYGON_TOOLS:
            if ev.button in ("left", "right"):
                paints = (self.tool == "brush") == (ev.button == "left")
                self.begin_stroke((ev.x, ev.y), "include" if paints else "exclude")
            return None
        if ev.button == "right":
            if self.draft:
                self.draft.pop()
                return None
            hit = self._hit(ev.x, ev.y)
            return self._delete_vertex(hit) if hit is not None and hit.kind == "vertex" else None
        if ev.button != "left":
            return None
        if self.draft:
            fx, fy = self.draft[0]
            if len(self.draft) >= 3 and math.hypot(ev.x - fx, ev.y - fy) <= self.pick_radius:
                return self.close_polygon()
            lx, ly = self.draft[-1]
            if math.hypot(ev.x - lx, ev.y - ly) > 0.25:  # a double click adds one point
                self.draft.append((ev.x, ev.y))
            return None
        hit = self._hit(ev.x, ev.y)
        if hit is not None and hit.kind == "vertex":
            if ev.ctrl:
                return self._delete_vertex(hit)
            pts = self.polygons_of(hit.shape)
            self.drag = _Drag(hit.shape, hit.index, self.label.shapes[hit.shape].points, pts.copy(), False,
                              (ev.x, ev.y))
            return None
        if hit is not None and hit.kind == "edge" and ev.ctrl:
            pts = np.insert(self.polygons_of(hit.shape), hit.index + 1, hit.point, axis=0)
            self.drag = _Drag(hit.shape, hit.index + 1, self.label.shapes[hit.shape].points, pts, True,
                              (ev.x, ev.y))
            return None
        self.hover = None
        self.draft = [(ev.x, ev.y)]
        return None

    def _move(self, ev: PointerEvent) -> Edit | None:
        if self.stroke is not None:
            self.extend_stroke((ev.x, ev.y))
        elif self.drag is not None:
            d = self.drag
            if d.moved or (ev.x, ev.y) != d.start:  # a plain Ctrl+click inserts exactly on the edge
                d.preview[d.index] = (ev.x, ev.y)
                d.moved = True
        elif self.tool in POLYGON_TOOLS and not self.draft:
            self.hover = self._hit(ev.x, ev.y)
        else:
            self.hover = None
        return None

    def _release(self, ev: PointerEvent) -> Edit | None:
        if self.stroke is not None and ev.button in ("left", "right"):
            self.extend_stroke((ev.x, ev.y))
            return self.commit_stroke()
        if self.drag is not None and ev.button == "left":
            self._move(ev)
            return self._finish_drag()
        return None

    # ------------------------------------------------------------------ brush
    def begin_stroke(self, pos: tuple[float, float], kind: ShapeKind = "include") -> None:
        """Start a brush stroke at ``pos`` (crop px): its first dab shows at once."""
        if self.face is None:
            return
        if self.stroke is not None:
            self.abort_stroke()
        cover = StrokeCoverage(self.raster, 255 if kind == "include" else 0)
        self.stroke = _Stroke(kind, self.brush_radius, cover, [(float(pos[0]), float(pos[1]))])
        self._stamp(self.stroke.points[0], self.stroke.points[0])

    def extend_stroke(self, pos: tuple[float, float]) -> None:
        s = self.stroke
        if s is None:
            return
        last = s.points[-1]
        p = (float(pos[0]), float(pos[1]))
        # Points closer than a tenth of the radius add nothing a rasteriser could show.
        if math.hypot(p[0] - last[0], p[1] - last[1]) < max(0.25, 0.1 * s.radius):
            return
        s.points.append(p)
        self._stamp(last, p)

    def commit_stroke(self) -> Edit | None:
        """End the stroke: it becomes one more shape of the label (one undo step)."""
        s, face = self.stroke, self.face
        self.stroke = None
        if s is None or face is None:
            return None
        radius = s.radius / similarity_scale(face.matrix)
        shape = Shape(s.kind, "stroke", frame_points(s.points, face.matrix), radius)
        return self._commit(self.label.with_shape(shape), "Brush stroke" if s.kind == "include" else "Erase stroke")

    def abort_stroke(self) -> None:
        """Drop the stroke in progress: the display raster is restored exactly."""
        s = self.stroke
        self.stroke = None
        if s is not None and s.coverage.base.shape == self.raster.shape:
            s.coverage.restore(self.raster)
            self._full = True

    def _stamp(self, p0: tuple[float, float], p1: tuple[float, float]) -> None:
        assert self.face is not None and self.stroke is not None
        m = self.face.margin
        rect = self.stroke.coverage.add(self.raster, (p0[0] + m, p0[1] + m), (p1[0] + m, p1[1] + m),
                                        self.stroke.radius)
        self._dirty = union(self._dirty, rect)

    # ------------------------------------------------------------------ polygons
    def close_polygon(self) -> Edit | None:
        """Close the draft into an include/exclude polygon (the tool's kind): one step."""
        face = self.face
        draft, self.draft = self.draft, []
        if face is None or len(draft) < 3:
            self.draft = draft if len(draft) < 3 else []
            return None
        pts = np.asarray(draft, dtype=np.float64)
        x, y = pts[:, 0], pts[:, 1]
        if abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))) < 1.0:  # twice the area
            return None  # a sliver: nothing to mask
        kind: ShapeKind = "exclude" if self.tool == "exclude" else "include"
        shape = Shape(kind, "polygon", frame_points(pts, face.matrix))
        return self._commit(self.label.with_shape(shape), f"Add {kind} polygon")

    def delete_at_cursor(self) -> Edit | None:
        """Delete the vertex under the cursor, else the polygon under it."""
        if self.cursor is None or self.draft or self.face is None:
            return None
        hit = self._hit(*self.cursor)
        if hit is None:
            return None
        if hit.kind == "vertex":
            return self._delete_vertex(hit)
        return self._commit(self.label.without(hit.shape), "Delete polygon")

    def polygons_of(self, shape: int) -> Points:
        for index, pts in self.polygons:
            if index == shape:
                return pts
        raise IndexError(f"shape {shape} is not a polygon")

    def _hit(self, x: float, y: float) -> Hit | None:
        return hit_test(self.polygons, x, y, self.pick_radius)

    def _delete_vertex(self, hit: Hit) -> Edit | None:
        shape = self.label.shapes[hit.shape]
        if len(shape.points) <= 3:
            return self._commit(self.label.without(hit.shape), "Delete polygon")
        pts = np.delete(shape.points, hit.index, axis=0)
        return self._commit(self._replaced(hit.shape, Shape(shape.kind, "polygon", pts)), "Delete point")

    def _finish_drag(self) -> Edit | None:
        d, face = self.drag, self.face
        self.drag = None
        if d is None or face is None or not (d.moved or d.inserted):
            return None
        point = frame_points(d.preview[d.index:d.index + 1], face.matrix)[0]
        if d.inserted:
            pts = np.insert(d.original, d.index, point, axis=0)
        else:
            pts = d.original.copy()
            pts[d.index] = point
        kind = self.label.shapes[d.shape].kind
        return self._commit(self._replaced(d.shape, Shape(kind, "polygon", pts)),
                            "Insert point" if d.inserted else "Move point")

    def _replaced(self, index: int, shape: Shape) -> LabelMask:
        shapes = list(self.label.shapes)
        shapes[index] = shape
        return LabelMask(tuple(shapes))

    # ------------------------------------------------------------------ whole-label steps
    def fill_hull(self) -> Edit | None:
        """Replace the label with the landmark hull plus forehead (a starting point)."""
        from engine.masks.hull import DEFAULT_FOREHEAD, hull_label

        if self.face is None or self.face.landmarks is None:
            return None
        self.draft = []
        return self._commit(hull_label(self.face.landmarks, forehead=DEFAULT_FOREHEAD), "Fill mask from hull")

    def predicted_to_polygons(self, max_points: int = DEFAULT_VECTOR_POINTS) -> Edit | None:
        """Replace the label with the prediction as editable polygons (frame pixels)."""
        from engine.masks.vectorize import vectorize

        if self.face is None or self.predicted is None:
            return None
        self.draft = []
        return self._commit(vectorize(self.predicted, self.face.matrix, max_points=max_points),
                            "Predicted mask to polygons")

    def clear(self) -> Edit | None:
        """Remove the label: the face stops being a keyframe."""
        if self.face is None or not self.keyframe:
            return None
        self.draft = []
        self.stroke = None
        self.drag = None
        self.label = LabelMask()
        self.keyframe = False
        self._render()
        self.last_edit = Edit(None, "Remove mask")
        return self.last_edit

    def _commit(self, label: LabelMask, text: str) -> Edit:
        self.label = label
        self.keyframe = True
        self.hover = None
        self._render()
        self.last_edit = Edit(label, text)
        return self.last_edit

    # ------------------------------------------------------------------ display raster
    def _render(self) -> None:
        face = self.face
        self._full = True
        self._dirty = None
        if face is None:
            self.raster = np.zeros((0, 0), np.uint8)
            self.polygons = []
            return
        side = face.side
        self.raster = draw(self.label, face.canvas_matrix, (side, side))
        self.polygons = [(i, crop_points(s.points, face.matrix)) for i, s in enumerate(self.label.shapes)
                         if s.type == "polygon"]

    def take_dirty(self) -> tuple[bool, Rect | None]:
        """``(whole raster changed, changed canvas rectangle)`` since the last call."""
        full, rect = self._full, self._dirty
        self._full, self._dirty = False, None
        return full, rect
