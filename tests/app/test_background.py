"""The editor's hand-off from worker threads (app.background): values put from a plain
Python thread arrive on the main thread through the inbox's timer, which runs only while
work is out; the merge preview worker gives its results back the same way."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from app.background import MainThreadInbox, TaskRunner

pytestmark = pytest.mark.gui


def test_inbox_delivers_on_the_main_thread_and_stops_when_idle(qtbot: Any) -> None:
    got: list[tuple[int, str]] = []
    outstanding = {"n": 3}

    def deliver(value: int) -> None:
        got.append((value, threading.current_thread().name))
        outstanding["n"] -= 1

    inbox = MainThreadInbox(deliver, lambda: outstanding["n"] > 0)
    inbox.expect()
    worker = threading.Thread(target=lambda: [inbox.put(i) for i in range(3)], name="worker")
    worker.start()
    worker.join()
    assert got == []  # nothing runs on the worker: the values wait for the main thread
    qtbot.waitUntil(lambda: len(got) == 3, timeout=2000)
    assert got == [(0, "MainThread"), (1, "MainThread"), (2, "MainThread")]
    assert not inbox._timer.isActive()  # idle: no timer polls
    inbox.put(9)
    inbox.discard()
    inbox.drain()
    assert len(got) == 3  # a discarded value is never delivered


def test_task_runner_results_and_errors_come_back(qtbot: Any) -> None:
    runner = TaskRunner(threads=1)
    done: list[Any] = []
    failed: list[str] = []
    runner.finished.connect(lambda key, value: done.append((key, value, threading.current_thread().name)))
    runner.failed.connect(lambda key, text: failed.append(text))
    runner.submit("a", lambda: 41 + 1)
    runner.submit("b", lambda: 1 / 0)
    qtbot.waitUntil(lambda: bool(done and failed), timeout=5000)
    assert done == [("a", 42, "MainThread")] and "ZeroDivisionError" in failed[0]
    qtbot.waitUntil(lambda: not runner._inbox._timer.isActive(), timeout=2000)
