"""Merge keys: merge settings that change over a clip's frames.

A real shot is never one setting: the light changes, a hand crosses the mouth, the head
turns away. A **merge key** (docs/CONTEXT.md) is one setting's value at one frame of a
clip, stored in the project's ``merge_keys`` table. Between two keys of a setting the
value interpolates linearly, or holds when the earlier key says ``hold``; before the
first key the first key's value holds, after the last the last key's. Enum settings
(mask sources, colour mode, sharpen mode, seamless) always hold from key to key.

The clip's saved settings (:func:`engine.merge.settings.load_clip_settings`) are the base;
keys replace the settings they key, and a face override (:mod:`engine.merge.overrides`)
replaces both for its face. :class:`KeyedSettings` is what the render and the preview
ask for "the settings of this face on this frame".

Not keyable: ``smooth_mask`` (the temporal window must be one size along a track) and
``xseg_model`` (one live XSeg model per merge).

Every write here is checked first (frame inside the clip, value in the setting's range,
enum names known) and refused with a message naming the setting and the range; nothing
is stored then. Writes return a :class:`ChangeSet` so the editor can undo them.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from engine.merge.settings import ColorMode, MaskSource, MergeSettings, MergeSettingsError, SharpenMode
from engine.project.changes import ChangeSet, RowChange

if TYPE_CHECKING:
    from engine.project.models import Clip
    from engine.project.store import ProjectStore

Interp = Literal["linear", "hold"]

#: Numeric settings that interpolate, with their ranges (those of :class:`MergeSettings`).
NUMERIC: Final[dict[str, tuple[float, float]]] = {
    "erode": (-50.0, 50.0), "blur": (0.0, 50.0), "face_scale": (-50.0, 50.0), "offset_x": (-50.0, 50.0),
    "offset_y": (-50.0, 50.0), "opacity": (0.0, 1.0), "sharpen_amount": (-100.0, 100.0),
    "smooth_alignment": (0.0, 1.0),
}
#: Settings that hold from key to key, with their choices.
ENUMS: Final[dict[str, tuple[Any, ...]]] = {
    "mask": get_args(MaskSource), "color": get_args(ColorMode), "sharpen": get_args(SharpenMode),
    "seamless": (False, True),
}
KEYABLE: Final = (*NUMERIC, *ENUMS)
#: Alignment smoothing strength is quantised when keyed: each distinct strength costs a
#: placement pass over the clip's faces.
_ALIGN_STEP: Final = 0.05


class MergeKeyError(MergeSettingsError):
    """A merge key is outside its clip, out of its setting's range, or of an unknown setting."""


@dataclass(frozen=True)
class MergeKey:
    """One stored key (a row of ``merge_keys``)."""

    id: int
    clip_id: int
    frame: int
    setting: str
    value: Any
    interp: Interp = "linear"


# ---------------------------------------------------------------------- validation
def range_text(setting: str) -> str:
    """The accepted values of ``setting``, for messages."""
    if setting in NUMERIC:
        lo, hi = NUMERIC[setting]
        return f"a number in {lo:g}..{hi:g}"
    if setting == "mask":
        return f"mask sources of {', '.join(ENUMS['mask'])}"
    if setting == "seamless":
        return "true or false"
    return f"one of {', '.join(ENUMS[setting])}"


def check_value(setting: str, value: Any, *, frame: int | None = None) -> Any:
    """``value`` normalised (floats, mask as a list), or :class:`MergeKeyError` naming the
    setting and its range."""
    where = f"merge key {setting}" + ("" if frame is None else f" at frame {frame}")
    if setting not in KEYABLE:
        why = " (it cannot change within a clip)" if setting in ("smooth_mask", "xseg_model") else ""
        raise MergeKeyError(f"{where}: {setting!r} is not a keyable merge setting{why}; "
                            f"keyable: {', '.join(KEYABLE)}")
    try:
        checked = MergeSettings().replace(**{setting: tuple(value) if isinstance(value, list) else value})
    except MergeSettingsError as exc:
        raise MergeKeyError(f"{where}: must be {range_text(setting)}, got {value!r} ({exc})") from None
    except TypeError:
        raise MergeKeyError(f"{where}: must be {range_text(setting)}, got {value!r}") from None
    out = getattr(checked, setting)
    return list(out) if isinstance(out, tuple) else out


def check_frame(clip: Clip, frame: int, setting: str = "") -> int:
    if isinstance(frame, bool) or not isinstance(frame, int) or not 0 <= frame < clip.frame_count:
        name = f"merge key {setting}" if setting else "merge key"
        raise MergeKeyError(f"{name} at frame {frame}: outside clip '{clip.name}' "
                            f"(frames 0..{clip.frame_count - 1})")
    return int(frame)


def parse_value(setting: str, text: str) -> Any:
    """A command-line value: JSON when it parses (``10``, ``true``), mask sources as
    ``hull,learned_dst``, else the text itself (enum names)."""
    if setting == "mask":
        return [p for p in text.replace("+", ",").split(",") if p]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


# ---------------------------------------------------------------------- storage
def _key(row: Any) -> MergeKey:
    value = json.loads(row["value"])
    return MergeKey(int(row["id"]), int(row["clip_id"]), int(row["frame"]), str(row["setting"]), value,
                    row["interp"])


def clip_keys(store: ProjectStore, clip_id: int) -> list[MergeKey]:
    """The clip's keys by frame, then setting."""
    rows = store.query("SELECT * FROM merge_keys WHERE clip_id = ? ORDER BY frame, setting", (int(clip_id),))
    return [_key(r) for r in rows]


def set_keys(store: ProjectStore, clip_id: int, frame: int, values: Mapping[str, Any], *,
             interp: Interp = "linear") -> ChangeSet:
    """Key ``values`` (setting -> value) at ``frame``: one undoable change set. All are
    checked before anything is written."""
    clip = store.clip(int(clip_id))
    if not values:
        raise MergeKeyError("merge key: give at least one SETTING=VALUE")
    if interp not in get_args(Interp):
        raise MergeKeyError(f"merge key interpolation must be linear or hold, got {interp!r}")
    checked = {s: check_value(s, v, frame=frame) for s, v in values.items()}
    for s in checked:
        check_frame(clip, frame, s)
    changes: list[RowChange] = []
    with store.transaction() as c:
        for setting, value in checked.items():
            kind = "hold" if setting in ENUMS else interp
            text = json.dumps(value)
            old = c.execute("SELECT * FROM merge_keys WHERE clip_id = ? AND setting = ? AND frame = ?",
                            (clip.id, setting, frame)).fetchone()
            if old is None:
                cur = c.execute("INSERT INTO merge_keys (clip_id, frame, setting, value, interp) VALUES (?, ?, ?, ?, ?)",
                                (clip.id, frame, setting, text, kind))
                changes.append(RowChange("merge_keys", int(cur.lastrowid), None,
                                         {"clip_id": clip.id, "frame": frame, "setting": setting, "value": text,
                                          "interp": kind}))
            elif (old["value"], old["interp"]) != (text, kind):
                c.execute("UPDATE merge_keys SET value = ?, interp = ? WHERE id = ?", (text, kind, old["id"]))
                changes.append(RowChange("merge_keys", int(old["id"]), {"value": old["value"], "interp": old["interp"]},
                                         {"value": text, "interp": kind}))
    what = ", ".join(f"{s}={v}" for s, v in checked.items())
    return ChangeSet(tuple(changes), {}, f"Key {what} at frame {frame}")


def delete_keys(store: ProjectStore, clip_id: int, frame: int, settings: Iterable[str] | None = None) -> ChangeSet:
    """Delete the keys at ``frame`` (of ``settings``, or all): one undoable change set."""
    wanted = None if settings is None else set(settings)
    for s in wanted or ():
        if s not in KEYABLE:
            raise MergeKeyError(f"merge key {s}: not a keyable merge setting; keyable: {', '.join(KEYABLE)}")
    ids = [k.id for k in clip_keys(store, clip_id) if k.frame == frame and (wanted is None or k.setting in wanted)]
    return store.delete_rows("merge_keys", ids, label=f"Delete {len(ids)} merge key(s) at frame {frame}")


def move_keys(store: ProjectStore, clip_id: int, from_frame: int, to_frame: int,
              settings: Iterable[str] | None = None) -> ChangeSet:
    """Move the keys at ``from_frame`` to ``to_frame`` (replacing keys there): one undoable edit."""
    clip = store.clip(int(clip_id))
    wanted = None if settings is None else set(settings)
    moving = [k for k in clip_keys(store, clip.id) if k.frame == from_frame and (wanted is None or k.setting in wanted)]
    for k in moving:
        check_frame(clip, to_frame, k.setting)
    if not moving or from_frame == to_frame:
        return ChangeSet()
    names = {k.setting for k in moving}
    replaced = [k.id for k in clip_keys(store, clip.id) if k.frame == to_frame and k.setting in names]
    with store.transaction():
        cs = store.delete_rows("merge_keys", replaced)
        cs = cs.merged(store.update_rows("merge_keys", {k.id: {"frame": to_frame} for k in moving}))
    return ChangeSet(cs.rows, {}, f"Move {len(moving)} merge key(s) to frame {to_frame}")


# ---------------------------------------------------------------------- values over time
@dataclass(frozen=True)
class _Track:
    frames: tuple[int, ...]
    values: tuple[Any, ...]
    interps: tuple[str, ...]

    def at(self, frame: float, numeric: bool) -> Any:
        i = bisect.bisect_right(self.frames, frame) - 1
        if i < 0:
            return self.values[0]
        if i >= len(self.frames) - 1 or not numeric or self.interps[i] == "hold":
            return self.values[i]
        f0, f1 = self.frames[i], self.frames[i + 1]
        t = (frame - f0) / (f1 - f0)
        return float(self.values[i] + (self.values[i + 1] - self.values[i]) * t)


@dataclass(frozen=True, eq=False)
class KeyedSettings:
    """A clip's base settings, its keys and its faces' overrides: the settings of any
    face on any frame.

    Attributes
    ----------
    base : the clip's settings (keys and overrides apply on top).
    keys : the clip's keys.
    overrides : face id -> the settings that face overrides (validated JSON values).
    """

    base: MergeSettings
    keys: tuple[MergeKey, ...] = ()
    overrides: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        by: dict[str, list[MergeKey]] = {}
        for k in sorted(self.keys, key=lambda k: k.frame):
            by.setdefault(k.setting, []).append(k)
        tracks = {s: _Track(tuple(k.frame for k in ks), tuple(k.value for k in ks), tuple(k.interp for k in ks))
                  for s, ks in by.items()}
        object.__setattr__(self, "_tracks", tracks)
        object.__setattr__(self, "_cache", {})

    @property
    def keyed(self) -> bool:
        return bool(self.keys)

    @property
    def static(self) -> bool:
        """Whether every face on every frame gets ``base`` (no keys, no overrides)."""
        return not self.keys and not self.overrides

    def values_at(self, frame: int) -> dict[str, Any]:
        """setting -> value of the keyed settings at ``frame``."""
        tracks: dict[str, _Track] = self.__dict__["_tracks"]
        out: dict[str, Any] = {}
        for s, tr in tracks.items():
            v = tr.at(frame, s in NUMERIC)
            if s == "smooth_alignment":
                v = round(round(v / _ALIGN_STEP) * _ALIGN_STEP, 4)
            out[s] = tuple(v) if isinstance(v, list) else v
        return out

    def at(self, frame: int) -> MergeSettings:
        """The clip's settings at ``frame`` (keys applied)."""
        cache: dict[Any, MergeSettings] = self.__dict__["_cache"]
        found = cache.get(frame)
        if found is None:
            found = self.base.replace(**self.values_at(frame)) if self.keys else self.base
            if len(cache) > 4096:
                cache.clear()
            cache[frame] = found
        return found

    def for_face(self, face_id: int | None, frame: int) -> MergeSettings:
        """The settings of face ``face_id`` on ``frame``: its override wins over the keys."""
        settings = self.at(frame)
        over = self.overrides.get(face_id) if face_id is not None else None
        if not over:
            return settings
        cache: dict[Any, MergeSettings] = self.__dict__["_cache"]
        key = (face_id, frame)
        found = cache.get(key)
        if found is None:
            found = settings.replace(**{k: tuple(v) if isinstance(v, list) else v for k, v in over.items()})
            cache[key] = found
        return found

    def alignment_strengths(self) -> set[float]:
        """Every alignment smoothing strength some face may get."""
        tracks: dict[str, _Track] = self.__dict__["_tracks"]
        out = {self.base.smooth_alignment}
        if "smooth_alignment" in tracks:
            tr = tracks["smooth_alignment"]
            lo, hi = min(tr.values), max(tr.values)
            n = int(round((hi - lo) / _ALIGN_STEP))
            out |= {round(round((lo + i * _ALIGN_STEP) / _ALIGN_STEP) * _ALIGN_STEP, 4) for i in range(n + 1)}
        out |= {float(o["smooth_alignment"]) for o in self.overrides.values() if "smooth_alignment" in o}
        return out

    def mask_sources(self) -> tuple[MaskSource, ...]:
        """Every mask source some face may need (the base's first)."""
        out: list[MaskSource] = list(self.base.mask)
        for k in self.keys:
            if k.setting == "mask":
                out += [m for m in k.value if m not in out]
        for o in self.overrides.values():
            out += [m for m in o.get("mask", ()) if m not in out]
        return tuple(out)

    @property
    def needs_xseg(self) -> bool:
        return any(m in ("xseg_src", "xseg_dst") for m in self.mask_sources())

    def provenance(self) -> dict[str, Any]:
        """What the provenance record says about keys and overrides ("keyframed")."""
        out: dict[str, Any] = {}
        if self.keys:
            out["keyframed"] = {s: [[k.frame, k.value, k.interp] for k in sorted(self.keys, key=lambda k: k.frame)
                                    if k.setting == s] for s in sorted({k.setting for k in self.keys})}
        if self.overrides:
            out["face_overrides"] = {str(f): dict(o) for f, o in sorted(self.overrides.items())}
        return out


def load_keyed(store: ProjectStore, clip_id: int, base: MergeSettings | None = None) -> KeyedSettings:
    """The clip's :class:`KeyedSettings` (``base`` defaults to its saved settings)."""
    from engine.merge.overrides import clip_overrides
    from engine.merge.settings import load_clip_settings

    base = load_clip_settings(store, clip_id) if base is None else base
    return KeyedSettings(base, tuple(clip_keys(store, clip_id)), clip_overrides(store, clip_id))
