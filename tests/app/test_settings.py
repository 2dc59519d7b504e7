"""Preferences: typed, validated, versioned, stored as JSON in QSettings (isolated per test)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app.settings import Preferences, from_dict, load_preferences, save_preferences


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def test_round_trip(settings: QSettings) -> None:
    prefs = Preferences().replace(default_crop_size=512, show_landmarks=False)
    save_preferences(prefs, settings)
    assert load_preferences(settings) == prefs


def test_unknown_keys_and_bad_values_are_refused() -> None:
    with pytest.raises(KeyError, match="unknown preference"):
        Preferences().replace(colour="red")
    with pytest.raises(ValueError, match="between 64 and 1024"):
        Preferences().replace(default_crop_size=20)
    with pytest.raises(ValueError, match="newer Facesmith"):
        from_dict({"schema_version": 99})


def test_broken_stored_value_gives_defaults(settings: QSettings) -> None:
    settings.setValue("preferences/json", "{not json")
    assert load_preferences(settings) == Preferences()


def test_log_view_follows_appends(qtbot, tmp_path: Path) -> None:
    from widgets.log_view import LogView

    log = tmp_path / "engine.log"
    log.write_text("first line\n")
    view = LogView(poll_ms=50)
    qtbot.addWidget(view)
    view.follow(log)
    assert "first line" in view.toPlainText()
    with open(log, "a") as fh:
        fh.write("second line\n")
    qtbot.waitUntil(lambda: "second line" in view.toPlainText(), timeout=2000)
