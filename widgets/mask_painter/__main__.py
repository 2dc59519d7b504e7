"""Demo: ``python -m widgets.mask_painter [--seconds N] [--size PX]``.

Three synthetic faces of one "track" (A/D step between them), each with a soft stand-in
XSeg prediction, and a tiny stand-in presenter: it keeps the labels in a dict, puts every
committed step on a QUndoStack (Ctrl+Z / Ctrl+Shift+Z) and hands the stored label back
with ``set_label``, as the editor's presenter does with the project. With ``--seconds`` a
short scripted session (a polygon, a brush stroke, an undo) plays before it closes.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtCore import QPointF, Qt, QTimer
    from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from engine.masks.shapes import LabelMask
    from widgets.mask_painter.mask_painter_panel import MaskPainterPanel
    from widgets.mask_painter.synthetic import synthetic_face

    parser = argparse.ArgumentParser(prog="python -m widgets.mask_painter")
    parser.add_argument("--seconds", type=float, default=0.0, help="close after this long (0: stay open)")
    parser.add_argument("--size", type=int, default=256, help="crop side in pixels")
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    panel = MaskPainterPanel()
    panel.setWindowTitle("Mask painter demo")
    canvas = panel.canvas
    labels: dict[int, LabelMask | None] = {1: None, 2: None, 3: None}
    stack = QUndoStack(panel)
    current = {"index": 0}

    def show(index: int) -> None:
        current["index"] = index % 3
        face_id = current["index"] + 1
        canvas.set_face(synthetic_face(args.size, index=current["index"], label=labels[face_id]))
        panel.set_title(f"synthetic face {face_id} of 3 · {'keyframe' if labels[face_id] is not None else 'no label'}")

    class SetLabel(QUndoCommand):
        def __init__(self, face_id: int, before: LabelMask | None, after: LabelMask | None, text: str) -> None:
            super().__init__(text)
            self.face_id, self.before, self.after = face_id, before, after

        def redo(self) -> None:
            self._apply(self.after)

        def undo(self) -> None:
            self._apply(self.before)

        def _apply(self, label: LabelMask | None) -> None:
            labels[self.face_id] = label
            if canvas.face_id != self.face_id:
                show(self.face_id - 1)
            canvas.set_label(label)
            panel.set_status(f"stored: {len(label or ())} shapes on face {self.face_id}")

    def on_commit(label: LabelMask | None, text: str) -> None:
        face_id = canvas.face_id
        assert face_id is not None
        stack.push(SetLabel(face_id, labels[face_id], label, text))

    canvas.label_committed.connect(on_commit)
    for keys, step in (("A", -1), ("D", 1)):
        nav = QAction(f"{'Previous' if step < 0 else 'Next'} face", panel)
        nav.setShortcut(QKeySequence(keys))
        nav.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        nav.triggered.connect(lambda _=False, s=step: show(current["index"] + s))
        panel.addAction(nav)
        panel.add_help_actions([nav])
    for make, keys in ((stack.createUndoAction, QKeySequence.StandardKey.Undo), (stack.createRedoAction, "Ctrl+Shift+Z")):
        action = make(panel)
        action.setShortcut(QKeySequence(keys))
        panel.addAction(action)
    show(0)
    panel.resize(720, 760)
    panel.show()

    def script() -> None:
        # A polygon by clicks, a brush stroke, an undo: the same path a user takes.
        s = args.size
        for x, y in ((0.3, 0.3), (0.7, 0.3), (0.7, 0.7), (0.3, 0.7), (0.3, 0.3)):
            QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                             canvas.map_from_crop(x * s, y * s).toPoint())
        canvas.set_tool("brush")
        start = canvas.map_from_crop(0.2 * s, 0.8 * s).toPoint()
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
        for i in range(1, 11):
            QTest.mouseMove(canvas, canvas.map_from_crop((0.2 + 0.06 * i) * s, 0.8 * s).toPoint())
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                           QPointF(canvas.map_from_crop(0.8 * s, 0.8 * s)).toPoint())
        stack.undo()
        canvas.set_show_predicted(True)

    if args.seconds > 0:
        QTimer.singleShot(100, script)
        QTimer.singleShot(int(args.seconds * 1000), app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
