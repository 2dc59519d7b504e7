"""Qt-free data and arithmetic behind the timeline: the track value type, the presence
strip downsampled to pixels, ruler tick spacing and SMPTE timecode.

Nothing here imports Qt, so the numbers a user sees (which frame a pixel means, what a
ruler label says) are tested without a widget.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from typing import Final

import numpy as np

#: Presence levels of one pixel of the strip (``int8``), in the order they win when
#: several frames share a pixel (max semantics: a pixel with any two-face frame is
#: "several", else with any one-face frame "one", ...).
OUTSIDE: Final = -2  # the pixel lies before frame 0 or after the last frame
UNKNOWN: Final = -1  # the clip's faces have not been analysed (``face_counts`` is empty)
NONE: Final = 0
ONE: Final = 1
SEVERAL: Final = 2

_NTSC_DROP_RATES: Final = (Fraction(30000, 1001), Fraction(60000, 1001))


@dataclasses.dataclass(frozen=True, eq=False)
class TimelineTrack:
    """One clip as the timeline shows it: one row of the view.

    Parameters
    ----------
    clip_id:
        The clip's id; the view reports it in ``track_selected``.
    name:
        Shown in the track header.
    frame_count:
        Number of frames (>= 1); frames are numbered ``0 .. frame_count - 1``.
    fps:
        Frame rate, for timecode and playback speed.
    face_counts:
        Faces found on each frame (``frame_count`` integers: 0 none, 1 one, >= 2 several),
        or an empty array while the clip has not been analysed.
    keyframes:
        Frames holding a keyframe (a face with a label mask); sorted and deduplicated here.
    in_frame, out_frame:
        The in/out range, both inclusive; ``out_frame=None`` means the last frame.
    cuts:
        Shot cuts: the first frame of each new shot (drawn as lines, ``cuts_painting``).

    Arrays are copied and made read-only, so a track can be shared between views and a
    presenter cannot change what is shown behind the view's back (build a new track, then
    ``set_tracks``).
    """

    clip_id: int
    name: str
    frame_count: int
    fps: Fraction
    face_counts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int32))
    keyframes: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))
    in_frame: int = 0
    out_frame: int | None = None
    #: "don't swap here" ranges ``(start, stop)``, stop exclusive: drawn hatched over the row
    no_swap: tuple[tuple[int, int], ...] = ()
    cuts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))

    def __post_init__(self) -> None:
        if self.frame_count < 1:
            raise ValueError(f"track {self.clip_id}: frame_count must be >= 1, not {self.frame_count}")
        fps = Fraction(self.fps)
        if fps <= 0:
            raise ValueError(f"track {self.clip_id}: fps must be positive, not {self.fps}")
        counts = np.array(self.face_counts, dtype=np.int32).reshape(-1)
        if counts.size not in (0, self.frame_count):
            raise ValueError(
                f"track {self.clip_id}: face_counts has {counts.size} values for {self.frame_count} frames"
            )
        keys = np.unique(np.asarray(self.keyframes, dtype=np.int64).reshape(-1))
        if keys.size and (keys[0] < 0 or keys[-1] >= self.frame_count):
            raise ValueError(f"track {self.clip_id}: a keyframe lies outside 0..{self.frame_count - 1}")
        out = self.frame_count - 1 if self.out_frame is None else int(self.out_frame)
        if not 0 <= self.in_frame <= out < self.frame_count:
            raise ValueError(f"track {self.clip_id}: bad range {self.in_frame}..{out} for {self.frame_count} frames")
        counts.flags.writeable = False
        keys.flags.writeable = False
        object.__setattr__(self, "fps", fps)
        object.__setattr__(self, "face_counts", counts)
        object.__setattr__(self, "keyframes", keys)
        object.__setattr__(self, "in_frame", int(self.in_frame))
        object.__setattr__(self, "out_frame", out)
        object.__setattr__(self, "no_swap", tuple((int(a), int(b)) for a, b in self.no_swap))
        cuts = np.unique(np.asarray(self.cuts, dtype=np.int64).reshape(-1))
        cuts.flags.writeable = False
        object.__setattr__(self, "cuts", cuts)

    @property
    def last_frame(self) -> int:
        return self.frame_count - 1

    @property
    def range(self) -> tuple[int, int]:
        """``(in_frame, out_frame)``, both inclusive."""
        return self.in_frame, self.frame_count - 1 if self.out_frame is None else self.out_frame


# --------------------------------------------------------------------------- viewport

#: The closest zoom: a frame this many pixels wide (frame ticks need about 8).
MAX_PIXELS_PER_FRAME: Final = 24


@dataclasses.dataclass(frozen=True)
class Viewport:
    """Which frames the track area shows: pixel ``x`` (0 at the area's left edge) covers
    frame positions ``[first_frame + x * fpp, first_frame + (x + 1) * fpp)``, frame ``i``
    occupying positions ``[i, i + 1)``.

    Immutable; zooming and scrolling return a new viewport, clamped to the clip with
    :meth:`clamped`.
    """

    first_frame: float = 0.0
    frames_per_pixel: float = 1.0
    width: int = 1

    @property
    def last_position(self) -> float:
        """The frame position at the right edge of the area."""
        return self.first_frame + self.width * self.frames_per_pixel

    def x_of(self, position: float) -> float:
        """Pixel x (from the area's left edge) of a frame position; a frame's centre is ``i + 0.5``."""
        return (position - self.first_frame) / self.frames_per_pixel

    def position_at(self, x: float) -> float:
        return self.first_frame + x * self.frames_per_pixel

    def frame_at(self, x: float, frame_count: int) -> int:
        """The frame under pixel ``x`` (its centre), clamped to ``0 .. frame_count - 1``."""
        frame = math.floor(self.position_at(x + 0.5))
        return min(max(frame, 0), frame_count - 1)

    def zoomed(self, frames_per_pixel: float, *, anchor: float) -> Viewport:
        """The viewport at another zoom, frame position ``anchor`` keeping its pixel."""
        x = self.x_of(anchor)
        return dataclasses.replace(self, first_frame=anchor - x * frames_per_pixel, frames_per_pixel=frames_per_pixel)

    def scrolled_to(self, first_frame: float) -> Viewport:
        return dataclasses.replace(self, first_frame=first_frame)

    def resized(self, width: int) -> Viewport:
        return dataclasses.replace(self, width=max(1, width))

    def clamped(self, frame_count: int) -> Viewport:
        """Zoom between one frame per ``MAX_PIXELS_PER_FRAME`` pixels and the whole clip, and
        no scrolling past either end."""
        fpp = clamp_frames_per_pixel(self.frames_per_pixel, frame_count, self.width)
        first = min(max(self.first_frame, 0.0), max(0.0, frame_count - self.width * fpp))
        if fpp == self.frames_per_pixel and first == self.first_frame:
            return self
        return Viewport(first, fpp, self.width)


def fit_frames_per_pixel(frame_count: int, width: int) -> float:
    """The zoom that shows the whole clip in ``width`` pixels."""
    return frame_count / max(1, width)


def clamp_frames_per_pixel(frames_per_pixel: float, frame_count: int, width: int) -> float:
    """The zoom limited to between ``MAX_PIXELS_PER_FRAME`` px per frame and the whole clip."""
    fit = fit_frames_per_pixel(frame_count, width)
    return min(max(frames_per_pixel, min(1.0 / MAX_PIXELS_PER_FRAME, fit)), fit)


# --------------------------------------------------------------------------- presence


class PresenceSummary:
    """Prefix counts of a track's face counts, so any pixel's level is O(1).

    ``levels`` answers "what is the strongest presence among the frames this pixel
    touches" for a whole row of pixels with four array lookups, whatever the zoom: a
    100,000-frame clip costs one ``cumsum`` when the track is set and O(width) per zoom.
    """

    def __init__(self, face_counts: np.ndarray, frame_count: int) -> None:
        counts = np.asarray(face_counts).reshape(-1)
        self.frame_count = int(frame_count)
        self.analysed = counts.size > 0
        if self.analysed:
            self._ge1 = np.concatenate(([0], np.cumsum(counts >= 1, dtype=np.int64)))
            self._ge2 = np.concatenate(([0], np.cumsum(counts >= 2, dtype=np.int64)))

    def levels(self, first_frame: float, frames_per_pixel: float, width: int) -> np.ndarray:
        """Level (``OUTSIDE``, ``UNKNOWN``, ``NONE``, ``ONE``, ``SEVERAL``) of each of ``width``
        pixels, pixel ``x`` covering frame positions ``[first + x*fpp, first + (x+1)*fpp)``.

        A frame counts for every pixel it overlaps, so a one-frame face is never lost at
        fit zoom.
        """
        x = np.arange(width + 1, dtype=np.float64)
        edges = first_frame + x * frames_per_pixel
        start = np.floor(edges[:-1]).astype(np.int64)
        stop = np.ceil(edges[1:]).astype(np.int64)
        stop = np.maximum(stop, start + 1)  # a pixel narrower than a frame still shows it
        n = self.frame_count
        inside = (stop > 0) & (start < n)
        start = np.clip(start, 0, n)
        stop = np.clip(stop, 0, n)
        out = np.full(width, OUTSIDE, dtype=np.int8)
        if not self.analysed:
            out[inside] = UNKNOWN
            return out
        ge1 = (self._ge1[stop] - self._ge1[start]) > 0
        ge2 = (self._ge2[stop] - self._ge2[start]) > 0
        level = np.where(ge2, SEVERAL, np.where(ge1, ONE, NONE)).astype(np.int8)
        out[inside] = level[inside]
        return out


def downsample_presence(
    face_counts: np.ndarray, *, first_frame: float, frames_per_pixel: float, width: int
) -> np.ndarray:
    """The presence level per pixel of ``width`` pixels (see :meth:`PresenceSummary.levels`)."""
    counts = np.asarray(face_counts)
    return PresenceSummary(counts, counts.size).levels(first_frame, frames_per_pixel, width)


# --------------------------------------------------------------------------- keyframes


def next_keyframe(keyframes: np.ndarray, frame: int) -> int | None:
    """The first keyframe after ``frame``, or None."""
    i = int(np.searchsorted(keyframes, frame, side="right"))
    return int(keyframes[i]) if i < len(keyframes) else None


def prev_keyframe(keyframes: np.ndarray, frame: int) -> int | None:
    """The last keyframe before ``frame``, or None."""
    i = int(np.searchsorted(keyframes, frame, side="left"))
    return int(keyframes[i - 1]) if i > 0 else None


def keyframe_pixels(keyframes: np.ndarray, vp: Viewport, *, margin: int = 0, min_spacing: int = 1) -> np.ndarray:
    """Pixel columns (from the area's left edge) of the keyframes a viewport shows, one per
    column, at each frame's centre. When so many show that they would average closer
    than ``min_spacing`` pixels, they are binned to one per ``min_spacing`` columns (a
    marker is wider than a pixel; at fit zoom a denser row would be one smear)."""
    lo = int(np.searchsorted(keyframes, math.floor(vp.first_frame - margin * vp.frames_per_pixel) - 1))
    hi = int(np.searchsorted(keyframes, math.ceil(vp.last_position + margin * vp.frames_per_pixel) + 1))
    xs = np.floor((keyframes[lo:hi] + 0.5 - vp.first_frame) / vp.frames_per_pixel).astype(np.int64)
    xs = xs[(xs >= -margin) & (xs < vp.width + margin)]
    xs = np.unique(xs)
    if min_spacing > 1 and xs.size * min_spacing > vp.width:
        xs = np.unique(np.floor_divide(xs, min_spacing) * min_spacing + min_spacing // 2)
    return xs


def mark_range(range_: tuple[int, int], frame: int, last_frame: int, *, in_point: bool) -> tuple[int, int]:
    """The in/out range after marking in (I) or out (O) at ``frame``. A mark past the
    other end resets that end to the clip's first or last frame, as editors do."""
    lo, hi = range_
    if in_point:
        return frame, (hi if hi >= frame else last_frame)
    return (lo if lo <= frame else 0), frame


# --------------------------------------------------------------------------- timecode


def nominal_rate(fps: Fraction) -> int:
    """Frames per timecode second: the rate rounded (29.97 counts as 30, 23.976 as 24)."""
    return max(1, int(math.floor(Fraction(fps) + Fraction(1, 2))))


def is_drop_frame_rate(fps: Fraction) -> bool:
    """Whether SMPTE drop-frame timecode applies (29.97 and 59.94 fps)."""
    return Fraction(fps) in _NTSC_DROP_RATES


def format_timecode(frame: int, fps: Fraction, *, drop_frame: bool | None = None) -> str:
    """``HH:MM:SS:FF`` of a 0-based frame at ``fps``.

    ``drop_frame=None`` picks SMPTE drop-frame for 30000/1001 and 60000/1001 fps, the
    convention editors follow so that timecode keeps to the wall clock (an hour of 29.97
    fps footage ends at 01:00:00;00, not 00:59:56:12). Drop-frame timecode skips frame
    numbers 0 and 1 (0-3 at 59.94) at the start of each minute except every tenth, and
    is written with ``;`` before the frames. Other rates, and ``drop_frame=False``, count
    ``nominal_rate(fps)`` frames per timecode second.
    """
    if frame < 0:
        raise ValueError(f"frame must be >= 0, not {frame}")
    fps = Fraction(fps)
    rate = nominal_rate(fps)
    drop = is_drop_frame_rate(fps) if drop_frame is None else drop_frame
    n = int(frame)
    sep = ":"
    if drop:
        dropped = round(rate / 15)  # 2 at 30, 4 at 60
        per_10min = rate * 600 - dropped * 9
        per_min = rate * 60 - dropped
        tens, rest = divmod(n, per_10min)
        n += dropped * 9 * tens
        if rest > dropped:
            n += dropped * ((rest - dropped) // per_min)
        sep = ";"
    ff = n % rate
    seconds = n // rate
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{sep}{ff:02d}"


# --------------------------------------------------------------------------- ruler


def tick_steps(
    frames_per_pixel: float, fps: Fraction, *, min_label_px: float = 80.0, min_tick_px: float = 7.0
) -> tuple[int, int]:
    """``(major, minor)`` ruler steps in frames for a zoom of ``frames_per_pixel``.

    Majors carry a timecode label and are the smallest "round" step (a divisor of the
    nominal rate in frames, then 1, 2, 5, 10, 15, 30 timecode seconds, the same in
    minutes, then hours) at least ``min_label_px`` apart. Minors are the smallest round
    step dividing the major at least ``min_tick_px`` apart, or 0 when none fits. At 8 px
    per frame that is a label every 10 frames at 30 fps (every second at 25) and a tick
    on every frame.
    """
    candidates = _round_steps(nominal_rate(fps))
    px = 1.0 / frames_per_pixel
    major = next((s for s in candidates if s * px >= min_label_px), None)
    if major is None:  # beyond 48 hours per label: scale the last step
        last = candidates[-1]
        major = last * math.ceil(min_label_px / (last * px))
    minor = next((s for s in candidates if s < major and major % s == 0 and s * px >= min_tick_px), 0)
    return major, minor


def ruler_ticks(vp: Viewport, fps: Fraction, frame_count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(minor_xs, major_xs, major_frames)`` of the ticks a viewport shows: pixel columns
    (from the area's left edge) of frame boundaries, up to the clip's end."""
    major, minor = tick_steps(vp.frames_per_pixel, fps)
    step = minor or major
    first = max(0, math.floor(vp.first_frame / step) * step)
    last = min(frame_count, math.ceil(vp.last_position))
    frames = np.arange(first, last + 1, step, dtype=np.int64)
    xs = np.floor((frames - vp.first_frame) / vp.frames_per_pixel).astype(np.int64)
    keep = (xs >= 0) & (xs < vp.width)
    frames, xs = frames[keep], xs[keep]
    is_major = frames % major == 0
    return xs[~is_major], xs[is_major], frames[is_major]


_SECOND_MULTIPLES: Final = (1, 2, 5, 10, 15, 30)  # also for minutes
_HOUR_MULTIPLES: Final = (1, 2, 5, 10, 24, 48)


def _round_steps(rate: int) -> list[int]:
    # below a second only divisors of the rate, so labels keep landing on whole seconds
    # (at 25 fps a step of 10 would label :00, :10, :20, then :05)
    steps = [d for d in range(1, rate) if rate % d == 0]
    for unit, multiples in ((rate, _SECOND_MULTIPLES), (rate * 60, _SECOND_MULTIPLES), (rate * 3600, _HOUR_MULTIPLES)):
        steps += [unit * k for k in multiples]
    return sorted(set(steps))


# --------------------------------------------------------------------------- shuttle

#: Fastest J/L shuttle speed, in multiples of the clip's frame rate.
MAX_SHUTTLE: Final = 16


def shuttle_speed(speed: int, key: str) -> int:
    """The J/K/L transport rule: the speed after pressing ``key`` at ``speed``.

    ``l`` plays forward, and each further press doubles the speed (up to ``MAX_SHUTTLE``);
    ``j`` does the same backwards; pressing the other direction restarts at 1x that way;
    ``k`` stops. Speeds are signed multiples of the clip's frame rate, 0 meaning paused.
    """
    if key == "k":
        return 0
    if key == "l":
        return 1 if speed <= 0 else min(speed * 2, MAX_SHUTTLE)
    if key == "j":
        return -1 if speed >= 0 else max(speed * 2, -MAX_SHUTTLE)
    raise ValueError(f"not a shuttle key: {key!r}")
