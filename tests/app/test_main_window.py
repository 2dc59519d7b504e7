"""The editor window on a real project (qtbot, offscreen)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.document import ProjectDocument
from app.main_window import MainWindow
from engine.project.demo import ensure_demo

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, tmp_path: Path):
    root = ensure_demo(tmp_path / "Demo")
    win = MainWindow(ProjectDocument.open(root))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def test_lists_the_demo_clips_by_role_and_screenshot(qtbot, window: MainWindow, artifacts_dir: Path) -> None:
    view = window.browser
    names = {view.item_for("clip", i).text(0) for i in view.ids("clip")}
    assert names == {"bbaf2n", "lbax4n", "sbwe5n"}
    assert view.topLevelItem(0).childCount() == 1 and view.topLevelItem(1).childCount() == 2
    qtbot.waitUntil(lambda: window.frame_view.frame() is not None, timeout=5000)
    assert window.frame_view.frame().shape == (288, 360, 3)
    shot = artifacts_dir / "main_window_demo.png"
    assert window.grab().save(str(shot))
    assert shot.stat().st_size > 10_000


def test_add_clips_is_undoable(window: MainWindow, sample_clips: dict[str, Path]) -> None:
    window.add_clips([str(sample_clips["id2_vcd_swwp2s"])], "dst")
    assert len(window.browser.ids('clip')) == 4
    assert window.actions.undo.text() == "&Undo Add 1 clip"
    window.actions.undo.trigger()
    assert len(window.browser.ids('clip')) == 3
    assert len(window.document.store.clips()) == 3
    window.actions.redo.trigger()
    assert len(window.document.store.clips()) == 4


def test_bad_clip_shows_an_error_and_changes_nothing(window: MainWindow, tmp_path: Path, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text: shown.append(text))
    bad = tmp_path / "notes.mp4"
    bad.write_text("no video here")
    window.add_clips([str(bad)], "dst")
    assert shown and "notes.mp4" in shown[0] and "not a video" in shown[0]
    assert len(window.document.store.clips()) == 3 and not window.document.undo_stack.canUndo()


def test_check_clips_runs_in_the_engine_and_shows_in_the_jobs_dock(qtbot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.engine.job_finished, timeout=30_000):
        window.actions.check_clips.trigger()
    qtbot.waitUntil(lambda: "done" in window.jobs_view.tree.topLevelItem(0).text(2), timeout=5_000)
    assert window.jobs_view.tree.topLevelItem(0).text(1) == "probe_clips"


def test_preflight_names_missing_packages(monkeypatch) -> None:
    import app.preflight as pf

    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr(pf.ctypes.util, "find_library", lambda name: None if name == "xcb-cursor" else "lib.so")
    message = pf.check_display()
    assert message is not None and "libxcb-cursor0" in message and "apt-get install libxcb-cursor0" in message
    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert "DISPLAY is not set" in pf.check_display()
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert pf.check_display() is None


def test_drop_files_adds_clips_with_the_chosen_role(window: MainWindow, sample_clips: dict[str, Path], monkeypatch) -> None:
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    import app.main_window as mw

    monkeypatch.setattr(mw, "ask_role", lambda _parent, count: "src" if count == 1 else None)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(sample_clips["id2_vcd_swwp2s"]))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    roles = {c.name: c.role for c in window.document.store.clips()}
    assert roles["id2_vcd_swwp2s"] == "src"


def test_job_dialog_validates_before_queueing(qtbot, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    from app.dialogs import JobDialog

    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text: warnings.append(text))
    dialog = JobDialog("noop", title="Test job", initial={"steps": 3, "fail_at": 1}, hidden=frozenset({"fail_at"}))
    qtbot.addWidget(dialog)
    dialog.form.set_value("steps", -5)
    dialog.accept()
    assert warnings and "steps must be >= 0" in warnings[0] and not dialog.result()
    dialog.form.set_value("steps", 4)
    dialog.accept()
    assert dialog.params["steps"] == 4 and dialog.params["fail_at"] == 1


def test_a_refused_face_backend_offers_the_default(qtbot, tmp_path, monkeypatch) -> None:
    """Extract with FAN where it cannot run (no weights here): the refusal says why and offers
    to queue with the default backend; Cancel leaves the choice as it was."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.dialogs import JobDialog

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    dialog = JobDialog("extract", title="Extract faces", initial={"backend": "fan"},
                       offer_defaults=frozenset({"backend"}))
    qtbot.addWidget(dialog)
    seen: list[str] = []

    def answer(button_text: str) -> None:
        box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
        seen.append(box.text())
        next(b for b in box.buttons() if b.text().startswith(button_text)).click()

    QTimer.singleShot(100, lambda: answer("Cancel"))
    dialog.accept()
    assert "2DFAN4-11f355bf06.pth.tar" in seen[0] and not dialog.result()
    assert dialog.form.values()["backend"] == "fan"
    QTimer.singleShot(100, lambda: answer("Queue with backend mediapipe (the default)"))
    dialog.accept()
    assert len(seen) == 2 and dialog.result() and dialog.params["backend"] == "mediapipe"
