"""Demo: ``python -m widgets.frame_view [--seconds N]``.

A synthetic frame with two fake faces, with a tiny stand-in presenter that stores each
landmark edit and hands the faces back with ``set_faces``, as the editor's presenter does.
The synthetic data is also what the tests and the benchmark draw.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from widgets.frame_view.model import GROUP_NAMES, FaceOverlay


def template_landmarks() -> np.ndarray:
    """A plausible 68-point face in the unit square (iBUG order), float32 (68, 2)."""
    points: list[tuple[float, float]] = []
    for k in range(17):  # jaw: a U from the right temple (image left) to the left one
        a = np.pi - k * np.pi / 16
        points.append((0.5 + 0.5 * np.cos(a), 0.25 + 0.75 * np.sin(a)))
    for x0 in (0.12, 0.58):  # brows
        for k in range(5):
            points.append((x0 + 0.075 * k, 0.2 - 0.05 * np.sin(np.pi * k / 4)))
    points += [(0.5, 0.3 + 0.083 * k) for k in range(4)]  # nose bridge
    points += [(0.4 + 0.05 * k, 0.62 + 0.02 * (k == 2)) for k in range(5)]  # nostrils
    for cx in (0.3, 0.7):  # eyes: outer/inner corner, upper lid, corner, lower lid
        for a in (np.pi, 2 * np.pi / 3, np.pi / 3, 0.0, -np.pi / 3, -2 * np.pi / 3):
            points.append((cx + 0.08 * np.cos(a), 0.35 - 0.035 * np.sin(a)))
    outer = [np.pi - k * np.pi / 6 for k in range(7)] + [-k * np.pi / 6 for k in range(1, 6)]
    points += [(0.5 + 0.18 * np.cos(a), 0.8 - 0.07 * np.sin(a)) for a in outer]
    inner = [np.pi - k * np.pi / 4 for k in range(5)] + [-k * np.pi / 4 for k in range(1, 4)]
    points += [(0.5 + 0.12 * np.cos(a), 0.8 - 0.03 * np.sin(a)) for a in inner]
    return np.asarray(points, dtype=np.float32)


def landmarks_in_box(box: tuple[float, float, float, float]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return (template_landmarks() * np.float32([x1 - x0, y1 - y0]) + np.float32([x0, y0])).astype(np.float32)


def synthetic_frame(width: int = 640, height: int = 360) -> np.ndarray:
    """A gradient with a fine checker (so zoomed-in pixels show) and two face-coloured ovals."""
    y, x = np.mgrid[0:height, 0:width]
    frame = np.empty((height, width, 3), np.uint8)
    frame[..., 0] = (40 + 80 * x / width).astype(np.uint8)
    frame[..., 1] = (50 + 60 * y / height).astype(np.uint8)
    frame[..., 2] = 90 + 30 * ((x // 4 + y // 4) % 2)
    for face in synthetic_faces(width, height):
        x0, y0, x1, y1 = face.box
        cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
        inside = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0
        frame[inside] = (214, 170, 140)
    return frame


def synthetic_faces(width: int = 640, height: int = 360) -> list[FaceOverlay]:
    """Two faces: id 1 (a normal one) and id 2 (excluded), scaled to the frame size."""
    sx, sy = width / 640, height / 360
    boxes = [(120 * sx, 80 * sy, 260 * sx, 260 * sy), (400 * sx, 100 * sy, 510 * sx, 240 * sy)]
    return [
        FaceOverlay(1, boxes[0], landmarks_in_box(boxes[0])),
        FaceOverlay(2, boxes[1], landmarks_in_box(boxes[1]), excluded=True),
    ]


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import (
        QApplication,
        QButtonGroup,
        QCheckBox,
        QHBoxLayout,
        QLabel,
        QPushButton,
        QVBoxLayout,
        QWidget,
    )

    from widgets.frame_view.frame_view import FrameView

    parser = argparse.ArgumentParser(prog="python -m widgets.frame_view")
    parser.add_argument("--seconds", type=float, default=0.0, help="close after this long (0: stay open)")
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = QWidget()
    window.setWindowTitle("FrameView demo")
    view = FrameView()
    status = QLabel("Wheel: zoom · middle drag / Space+drag: pan · click: select · edit mode: drag points (Shift: group)")
    stored = {f.face_id: f for f in synthetic_faces()}
    for face in stored.values():
        stored[face.face_id] = FaceOverlay(face.face_id, face.box, face.landmarks, f"face {face.face_id}",
                                           face.excluded, face.colour)
    view.set_frame(synthetic_frame())
    view.set_faces(list(stored.values()))

    def on_edit(face_id: int, landmarks: np.ndarray) -> None:
        # The stand-in presenter: store the result, then show what is stored.
        old = stored[face_id]
        stored[face_id] = FaceOverlay(face_id, old.box, landmarks, old.label, old.excluded, old.colour)
        view.set_faces(list(stored.values()))
        status.setText(f"landmarks_edited(face {face_id})")

    view.landmarks_edited.connect(on_edit)
    view.selection_changed.connect(lambda ids: status.setText(f"selection_changed({ids.tolist()})"))
    view.face_activated.connect(lambda i: status.setText(f"face_activated({i})"))
    view.copy_landmarks_requested.connect(lambda i, d: status.setText(f"copy_landmarks_requested({i}, {d})"))
    view.reset_landmarks_requested.connect(lambda i: status.setText(f"reset_landmarks_requested({i})"))

    landmarks_box = QCheckBox("Landmarks")
    landmarks_box.setChecked(True)
    landmarks_box.toggled.connect(view.set_show_landmarks)
    edit_box = QCheckBox("Edit landmarks")
    edit_box.toggled.connect(view.set_edit_landmarks)
    tools = QHBoxLayout()
    tools.addWidget(landmarks_box)
    tools.addWidget(edit_box)
    groups = QButtonGroup(window)
    for name in (None, *GROUP_NAMES):
        button = QPushButton("point" if name is None else name.replace("_", " "))
        button.setCheckable(True)
        button.setChecked(name is None)
        button.clicked.connect(lambda _=False, n=name: view.set_edit_group(n))
        groups.addButton(button)
        tools.addWidget(button)
    tools.addStretch(1)
    layout = QVBoxLayout(window)
    layout.addLayout(tools)
    layout.addWidget(view, 1)
    layout.addWidget(status)
    window.resize(960, 600)
    window.show()
    if args.seconds > 0:
        QTimer.singleShot(int(args.seconds * 1000), app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
