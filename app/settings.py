"""Editor preferences: a typed, frozen dataclass stored in QSettings.

Unknown keys are rejected (a typo in a settings file must not silently do nothing), the
stored form carries a ``schema_version`` with migrators, and nothing is pickled.
Project data never lives here: it is in the project database.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Final, Literal

from PySide6.QtCore import QSettings

SCHEMA_VERSION: Final = 1
KEY: Final = "preferences/json"


@dataclass(frozen=True)
class Preferences:
    #: face type and crop size that new extractions start from
    default_face_type: Literal["half", "mid_full", "full", "whole", "head"] = "whole"
    default_crop_size: int = 256
    #: start the engine by itself when jobs are queued
    auto_start_engine: bool = True
    #: thumbnails kept in memory by the face grid
    thumbnail_cache: int = 5000
    #: show landmarks on the frame view
    show_landmarks: bool = True
    #: seconds the editor waits for running jobs to checkpoint when it quits
    quit_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not 64 <= self.default_crop_size <= 1024:
            raise ValueError("default_crop_size must be between 64 and 1024")
        if self.thumbnail_cache < 100:
            raise ValueError("thumbnail_cache must be at least 100")
        if self.quit_timeout_s < 0:
            raise ValueError("quit_timeout_s must be >= 0")

    def replace(self, **changes: Any) -> Preferences:
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise KeyError(f"unknown preference(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)


#: version -> function turning the stored dict of that version into the next version's
_MIGRATIONS: dict[int, Any] = {}


def from_dict(data: dict[str, Any]) -> Preferences:
    version = int(data.pop("schema_version", SCHEMA_VERSION))
    while version < SCHEMA_VERSION:
        data = _MIGRATIONS[version](data)
        version += 1
    if version > SCHEMA_VERSION:
        raise ValueError(f"preferences were written by a newer Facesmith (version {version})")
    return Preferences().replace(**data)


def load_preferences(settings: QSettings | None = None) -> Preferences:
    """The stored preferences, or the defaults when none are stored or they are unusable."""
    settings = settings or QSettings()
    raw = settings.value(KEY)
    if not raw:
        return Preferences()
    try:
        return from_dict(json.loads(raw))
    except (ValueError, KeyError, TypeError):
        return Preferences()


def save_preferences(prefs: Preferences, settings: QSettings | None = None) -> None:
    settings = settings or QSettings()
    data = dataclasses.asdict(prefs) | {"schema_version": SCHEMA_VERSION}
    settings.setValue(KEY, json.dumps(data))
    settings.sync()
