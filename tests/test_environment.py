"""The installed environment has none of the known-bad builds we pin away from."""

from __future__ import annotations

import sys


def test_qt_calls_do_not_leak_none() -> None:
    # PySide6 6.12.0 on Python < 3.12 returns None from void methods without a reference;
    # CPython then aborts ("deallocating None") after a few hundred repaints.
    from PySide6.QtCore import QObject

    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(200):
        obj.setObjectName("x")
    assert sys.getrefcount(None) >= before - 5


def test_opencv_is_the_headless_build() -> None:
    # The non-headless build bundles its own Qt, which clashes with PySide6; face-alignment
    # asks for it, so the Makefile installs face-alignment with --no-deps.
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("opencv-python")
        has_gui_build = True
    except PackageNotFoundError:
        has_gui_build = False
    assert not has_gui_build, "opencv-python (with Qt) is installed beside opencv-python-headless"
