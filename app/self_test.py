"""``facesmith-editor --self-test [PROJECT]``: does this installation work end to end?

Opens the main window on the project (the demo by default), queues a ``probe_clips`` job,
lets the editor start its engine process exactly as it does for any job (in a PyInstaller
bundle: the bundled ``facesmith`` executable), waits for the job to end and exits 0 only
if the window came up and the engine ran the job. It prints what it saw, one line per
step, so an installer or CI can show why a bundle is broken. The bundle test
(tests/test_bundle.py) runs exactly this.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.engine_client import engine_command
from engine.project.models import FINAL_STATES

if TYPE_CHECKING:
    from app.main_window import MainWindow

TIMEOUT_S: Final = 180.0


def run_self_test(app: QApplication, window: MainWindow, *, timeout_s: float = TIMEOUT_S) -> int:
    """Drive ``window`` through the check; returns the exit status."""
    program, prefix = engine_command()
    say(f"main window shown: {window.width()}x{window.height()}, title {window.windowTitle()!r}")
    job = window.engine.submit("probe_clips")
    say(f"queued job {job.id} (probe_clips); engine: {' '.join([program, *prefix])}")
    started = time.monotonic()
    outcome: dict[str, object] = {}

    def poll() -> None:
        current = window.engine.queue.job(job.id)
        if window.engine.running:
            outcome["engine_seen"] = True
        if current.state in FINAL_STATES:
            outcome["state"] = current.state
            outcome["summary"] = current.status_text
            app.quit()
        elif time.monotonic() - started > timeout_s:
            outcome["state"] = f"still {current.state} after {timeout_s:.0f} s"
            app.quit()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(100)
    app.exec()
    timer.stop()
    state = outcome.get("state")
    say(f"engine process started: {'yes' if outcome.get('engine_seen') else 'not seen'}")
    say(f"job {job.id} ended: {state} ({outcome.get('summary') or ''})")
    window.close()
    return 0 if state == "done" else 1


def say(line: str) -> None:
    print(f"facesmith-editor self-test: {line}", flush=True)
    sys.stdout.flush()
