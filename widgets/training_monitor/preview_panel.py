"""PreviewPanel: the training preview grid, with a slider through its history.

The presenter hands over the preview images of a job, oldest first, as file paths (read
here with ``QImage``, a few milliseconds for a preview-sized JPEG, with a small cache) or
as RGB ``uint8`` arrays. While the slider sits on the newest preview it follows new ones;
once the user moves it back it stays where it was put, so comparing an old preview with
a newer one is not interrupted by the next preview arriving.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from widgets.qt_utils import signals_blocked

CACHE_SIZE: Final = 16


def image_from_array(rgb: np.ndarray) -> QtGui.QImage:
    """An RGB ``uint8`` (H, W, 3) array as a QImage that owns its pixels."""
    a = np.ascontiguousarray(rgb, dtype=np.uint8)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB array, got shape {a.shape}")
    h, w, _ = a.shape
    return QtGui.QImage(a.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()


class _ImageView(QtWidgets.QWidget):
    """Draws one image scaled to fit, centred, aspect kept (no upscaling blur below 2x)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = QtGui.QImage()
        self.placeholder = "no preview yet"
        self.setMinimumSize(120, 96)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Expanding)

    def set_image(self, image: QtGui.QImage) -> None:
        self.image = image
        self.update()

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt override
        return QtCore.QSize(320, 256) if self.image.isNull() else self.image.size()

    def paintEvent(self, _event: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt override
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtGui.QColor(24, 24, 28))
        if self.image.isNull():
            p.setPen(QtGui.QColor(140, 140, 150))
            p.drawText(self.rect(), QtCore.Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        size = self.image.size().scaled(self.size(), QtCore.Qt.AspectRatioMode.KeepAspectRatio)
        target = QtCore.QRect(QtCore.QPoint(0, 0), size)
        target.moveCenter(self.rect().center())
        # Integer magnification stays crisp (64 px faces in a big dock); others are smoothed.
        smooth = size.width() % max(self.image.width(), 1) != 0
        p.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, smooth)
        p.drawImage(target, self.image)


class PreviewPanel(QtWidgets.QWidget):
    """A preview image with a history slider.

    Parameters
    ----------
    loader : reads a path into a QImage (default ``QImage(path)``).

    Signals
    -------
    index_changed(int) : the user moved to another preview (its index, oldest = 0).
    """

    index_changed = QtCore.Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None, *,
                 loader: Callable[[str], QtGui.QImage] | None = None) -> None:
        super().__init__(parent)
        self._loader = loader or (lambda path: QtGui.QImage(path))
        self._paths: list[str] = []
        self._images: list[QtGui.QImage] | None = None
        self._steps: list[int | None] = []
        self._cache: OrderedDict[str, QtGui.QImage] = OrderedDict()
        self.view = _ImageView()
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setPageStep(5)
        self.slider.setEnabled(False)
        self.slider.setToolTip("Preview history: ←/→ step, PgUp/PgDn jump, Home/End oldest/newest")
        self.caption = QtWidgets.QLabel()
        self.caption.setMinimumWidth(150)
        self.latest_button = QtWidgets.QToolButton(text="Latest")
        self.latest_button.setToolTip("Show the newest preview and follow new ones")
        self.latest_button.clicked.connect(lambda: self._go(self.count() - 1, user=True))
        row = QtWidgets.QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.caption)
        row.addWidget(self.latest_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.view, 1)
        layout.addLayout(row)
        self.slider.valueChanged.connect(lambda i: self._go(i, user=True))
        self._update_caption()

    # ------------------------------------------------------------------ data in
    def set_paths(self, paths: Sequence[str | Path], steps: Sequence[int] | None = None) -> None:
        """Show these preview files (oldest first); ``steps`` label them with iterations."""
        self._set([str(p) for p in paths], None, steps)

    def set_images(self, images: Sequence[np.ndarray], steps: Sequence[int] | None = None) -> None:
        """Show these RGB ``uint8`` images (oldest first)."""
        self._set([""] * len(images), [image_from_array(a) for a in images], steps)

    def clear(self) -> None:
        self._set([], None, None)

    # ------------------------------------------------------------------ reading back
    def count(self) -> int:
        return len(self._steps)

    def current_index(self) -> int:
        return self.slider.value() if self.count() else -1

    def set_current_index(self, index: int) -> None:
        self._go(index, user=False)

    def current_image(self) -> QtGui.QImage:
        return self.view.image

    def current_step(self) -> int | None:
        i = self.current_index()
        return self._steps[i] if i >= 0 else None

    # ------------------------------------------------------------------ internals
    def _set(self, paths: list[str], images: list[QtGui.QImage] | None, steps: Sequence[int] | None) -> None:
        if steps is not None and len(steps) != len(paths):
            raise ValueError("steps and previews differ in length")
        old_count = self.count()
        following = old_count == 0 or self.slider.value() >= old_count - 1
        same_prefix = images is None and self._images is None and paths[:old_count] == self._paths
        previous = self.slider.value()
        self._paths, self._images = paths, images
        self._steps = list(steps) if steps is not None else [None] * len(paths)
        if not same_prefix:
            self._cache.clear()
        n = self.count()
        with signals_blocked(self.slider):
            self.slider.setRange(0, max(n - 1, 0))
            self.slider.setEnabled(n > 1)
            index = n - 1 if (following or not same_prefix) else min(previous, n - 1)
            self.slider.setValue(max(index, 0))
        self._show(self.current_index())

    def _go(self, index: int, *, user: bool) -> None:
        if not self.count():
            return
        index = min(max(int(index), 0), self.count() - 1)
        if self.slider.value() != index:
            with signals_blocked(self.slider):
                self.slider.setValue(index)
        self._show(index)
        if user:
            self.index_changed.emit(index)

    def _show(self, index: int) -> None:
        self.view.set_image(self._image(index) if index >= 0 else QtGui.QImage())
        self._update_caption()

    def _image(self, index: int) -> QtGui.QImage:
        if self._images is not None:
            return self._images[index]
        path = self._paths[index]
        image = self._cache.get(path)
        if image is None:
            image = self._loader(path)
            self._cache[path] = image
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(path)
        return image

    def _update_caption(self) -> None:
        n = self.count()
        i = self.current_index()
        if n == 0:
            self.caption.setText("no previews")
            self.latest_button.setEnabled(False)
            return
        step = self._steps[i]
        at = f"iteration {step} · " if step is not None else ""
        self.caption.setText(f"{at}{i + 1}/{n}")
        self.latest_button.setEnabled(i < n - 1)
