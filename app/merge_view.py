"""The split view of the merge workspace: original on the left, merged on the right.

A new user found that dividing the frame at its centre shows only the original half of
a face left of centre. The divider now sits at the face (the selected one, else the
largest on the frame) and follows it from frame to frame; dragging the divider with
Alt held over the frame view places it by hand, and it stays there until
:meth:`SplitDivider.follow_face` is asked again (double-click with Alt).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QMouseEvent

from widgets.frame_view import FrameView


def split_position(boxes: Sequence[tuple[float, float, float, float]], width: int,
                   selected: int | None = None) -> int:
    """The column to divide a frame of ``width`` at: the centre of box ``selected`` (an
    index into ``boxes``), else of the largest box, else the frame's centre."""
    if not boxes:
        return width // 2
    if selected is None or not 0 <= selected < len(boxes):
        selected = max(range(len(boxes)), key=lambda i: (boxes[i][2] - boxes[i][0]) * (boxes[i][3] - boxes[i][1]))
    x0, _, x1, _ = boxes[selected]
    return int(np.clip(round((x0 + x1) / 2.0), 1, max(width - 1, 1)))


def split_image(original: np.ndarray, merged: np.ndarray, x: int) -> np.ndarray:
    """``original`` left of column ``x``, ``merged`` from it on, a 2 px white divider."""
    image = merged.copy()
    x = int(np.clip(x, 1, image.shape[1] - 1))
    image[:, :x] = original[:, :x]
    image[:, x - 1:x + 1] = (255, 255, 255)
    return image


class SplitDivider(QObject):
    """Where the split view divides the frame; Alt+drag over the frame view moves it.

    Signal: ``moved()`` when the user dragged it (the view redraws).
    """

    moved = Signal()

    def __init__(self, view: FrameView, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.manual: int | None = None
        self._dragging = False
        view.installEventFilter(self)

    def position(self, width: int) -> int:
        """The divider's column: where the user put it, else at the face."""
        if self.manual is not None:
            return int(np.clip(self.manual, 1, max(width - 1, 1)))
        faces = self.view.faces()
        chosen = set(int(i) for i in self.view.selected_ids())
        index = next((i for i, f in enumerate(faces) if f.face_id in chosen), None)
        return split_position([f.box for f in faces], width, index)

    def follow_face(self) -> None:
        self.manual = None
        self.moved.emit()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        kind = event.type()
        if kind not in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.MouseButtonRelease,
                        QEvent.Type.MouseButtonDblClick):
            return False
        assert isinstance(event, QMouseEvent)
        alt = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
        if kind == QEvent.Type.MouseButtonDblClick and alt:
            self.follow_face()
            return True
        if kind == QEvent.Type.MouseButtonPress and alt and event.button() == Qt.MouseButton.LeftButton:
            self._dragging = True
        if not self._dragging:
            return False
        if kind == QEvent.Type.MouseButtonRelease:
            self._dragging = False
        self.manual = int(round(self.view.map_to_frame(event.position()).x()))
        self.moved.emit()
        return True
