"""Merge settings: one typed, versioned, serialisable value for everything a merge does.

DeepFaceLab keeps its merger options in a pickled session file whose meaning changes with
the model's resolution (erode 100 is a fifth of the face at 128 px and a tenth at 256 px).
Here settings are a frozen dataclass with a JSON form that carries a version, refuses
unknown keys and out-of-range values with a message naming them, and measures every
length as a **percentage of the face crop's side**, so a settings file means the same
thing for a 128 px and a 512 px model, and for a face small or large in the frame.

Per-clip settings live in the project's ``meta`` table under ``merge_settings:<clip_id>``
(:func:`load_clip_settings`, :func:`save_clip_settings`): the editor's merge workspace
and the ``render`` job read the same value.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from engine.errors import FacesmithError

if TYPE_CHECKING:
    from engine.project.store import ProjectStore

MaskSource = Literal["full", "hull", "learned_dst", "learned_src", "xseg_src", "xseg_dst"]
ColorMode = Literal["none", "rct", "lct", "mkl", "idt", "sot"]
SharpenMode = Literal["none", "box", "gaussian"]

#: The version :meth:`MergeSettings.to_json` writes; older versions are migrated on load.
VERSION: Final = 1
META_PREFIX: Final = "merge_settings:"


class MergeSettingsError(FacesmithError):
    """A merge setting is unknown, of the wrong type or out of range."""


@dataclass(frozen=True)
class MergeSettings:
    """How faces are merged into frames.

    Attributes
    ----------
    mask : mask sources whose product is the face mask (DeepFaceLab's mask modes):
        ``hull`` the dst landmarks' hull; ``learned_dst`` / ``learned_src`` the swap
        model's masks of the dst face and of the swapped face; ``xseg_dst`` the dst
        face's mask as the project resolves it (keyframe label, else XSeg prediction,
        else propagated keyframe, else XSeg run live when a model is known, else hull);
        ``xseg_src`` XSeg run on the swapped face; ``full`` the whole crop.
    xseg_model : the XSeg model for live predictions; None = the project's newest.
    erode : shrink (>0) or grow (<0) the mask, % of the crop side, at sub-pixel precision.
    blur : feather width of the mask edge, % of the crop side (about 2.5 sigma).
    face_scale : enlarge (>0) or shrink (<0) the pasted face, % (DeepFaceLab's -50..50).
    offset_x, offset_y : move the pasted face right/down in its own frame, % of the crop.
    color : colour transfer of the swapped face toward the dst face, statistics taken
        only inside the mask.
    seamless : Poisson (seamless) clone into the frame before the soft blend.
    sharpen, sharpen_amount : unsharp masking of the swapped face; a negative amount
        softens it instead (-100..100, 100 = one full unsharp step).
    opacity : how much of the swapped face replaces the frame inside the mask (0..1).
    smooth_alignment : landmark smoothing along each track before merging (0 off .. 1).
    smooth_mask : temporal smoothing of the raw mask along each track, averaged in the
        faces' aligned crops (so head motion is taken out), in frames on each side (0 off .. 4).
    """

    mask: tuple[MaskSource, ...] = ("learned_src", "learned_dst")
    xseg_model: int | None = None
    erode: float = 0.0
    blur: float = 5.0
    face_scale: float = 0.0
    offset_x: float = 0.0
    offset_y: float = 0.0
    color: ColorMode = "rct"
    seamless: bool = False
    sharpen: SharpenMode = "none"
    sharpen_amount: float = 0.0
    opacity: float = 1.0
    smooth_alignment: float = 0.0
    smooth_mask: int = 0

    def __post_init__(self) -> None:
        mask = tuple(self.mask) if not isinstance(self.mask, str) else (self.mask,)
        object.__setattr__(self, "mask", mask)
        if not mask:
            raise MergeSettingsError("mask needs at least one source (e.g. [\"learned_dst\"])")
        bad = [m for m in mask if m not in get_args(MaskSource)]
        if bad or len(set(mask)) != len(mask):
            raise MergeSettingsError(f"mask sources must be distinct names of {', '.join(get_args(MaskSource))}; "
                                     f"got {list(mask)}")
        _choice("color", self.color, ColorMode)
        _choice("sharpen", self.sharpen, SharpenMode)
        for name, lo, hi in (("erode", -50.0, 50.0), ("blur", 0.0, 50.0), ("face_scale", -50.0, 50.0),
                             ("offset_x", -50.0, 50.0), ("offset_y", -50.0, 50.0),
                             ("sharpen_amount", -100.0, 100.0), ("opacity", 0.0, 1.0),
                             ("smooth_alignment", 0.0, 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
                raise MergeSettingsError(f"{name} must be a number in {lo:g}..{hi:g}, got {value!r}")
            object.__setattr__(self, name, float(value))
        if isinstance(self.smooth_mask, bool) or not isinstance(self.smooth_mask, int) or not 0 <= self.smooth_mask <= 4:
            raise MergeSettingsError(f"smooth_mask must be a whole number of frames 0..4, got {self.smooth_mask!r}")
        if not isinstance(self.seamless, bool):
            raise MergeSettingsError(f"seamless must be true or false, got {self.seamless!r}")
        if self.xseg_model is not None and (isinstance(self.xseg_model, bool) or not isinstance(self.xseg_model, int)):
            raise MergeSettingsError(f"xseg_model must be a model id or null, got {self.xseg_model!r}")

    # ------------------------------------------------------------------ derived
    @property
    def needs_xseg(self) -> bool:
        """Whether XSeg may have to run live (the swapped face always needs it)."""
        return "xseg_src" in self.mask or "xseg_dst" in self.mask

    @property
    def temporal_radius(self) -> int:
        """Frames on each side a face's merge depends on (mask smoothing)."""
        return self.smooth_mask

    def replace(self, **changes: Any) -> MergeSettings:
        """A copy with ``changes`` (validated like any other value)."""
        unknown = sorted(set(changes) - _FIELDS)
        if unknown:
            raise MergeSettingsError(f"unknown merge setting(s) {', '.join(unknown)} (known: {', '.join(sorted(_FIELDS))})")
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["mask"] = list(self.mask)
        return {"version": VERSION, **data}

    @classmethod
    def from_json(cls, data: Any) -> MergeSettings:
        """Settings from their JSON form; a missing key takes its default, an unknown key or
        a version newer than this Facesmith is refused."""
        if not isinstance(data, dict):
            raise MergeSettingsError(f"merge settings must be a JSON object, got {type(data).__name__}")
        values = dict(data)
        version = values.pop("version", VERSION)
        if not isinstance(version, int) or version < 1:
            raise MergeSettingsError(f"merge settings version must be a positive integer, got {version!r}")
        if version > VERSION:
            raise MergeSettingsError(f"merge settings of version {version} come from a newer Facesmith "
                                     f"(this one reads up to version {VERSION})")
        unknown = sorted(set(values) - _FIELDS)
        if unknown:
            raise MergeSettingsError(f"unknown merge setting(s) {', '.join(unknown)} (known: {', '.join(sorted(_FIELDS))})")
        if "mask" in values and isinstance(values["mask"], list):
            values["mask"] = tuple(values["mask"])
        try:
            return cls(**values)
        except TypeError as exc:
            raise MergeSettingsError(str(exc)) from None

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True)

    @classmethod
    def loads(cls, text: str) -> MergeSettings:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MergeSettingsError(f"merge settings are not valid JSON: {exc}") from None
        return cls.from_json(data)


_FIELDS: Final = frozenset(f.name for f in dataclasses.fields(MergeSettings))


def _choice(name: str, value: object, options: Any) -> None:
    if value not in get_args(options):
        raise MergeSettingsError(f"{name} must be one of {', '.join(get_args(options))}, got {value!r}")


# ---------------------------------------------------------------------- per-clip storage
def load_clip_settings(store: ProjectStore, clip_id: int) -> MergeSettings:
    """The clip's saved merge settings, or the defaults when none were saved."""
    text = store.meta(f"{META_PREFIX}{int(clip_id)}")
    return MergeSettings() if text is None else MergeSettings.loads(text)


def save_clip_settings(store: ProjectStore, clip_id: int, settings: MergeSettings) -> None:
    """Save ``settings`` as the clip's merge settings (one small write)."""
    store.clip(int(clip_id))  # refuses an unknown clip
    store.set_meta(f"{META_PREFIX}{int(clip_id)}", json.dumps(settings.to_json(), sort_keys=True))
