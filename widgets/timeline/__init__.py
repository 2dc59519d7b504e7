"""The clip timeline: one track per clip, a timecode ruler, face presence, keyframes,
the in/out range and the playhead (see :class:`TimelineView`)."""

from __future__ import annotations

from widgets.timeline.model import TimelineTrack, Viewport, downsample_presence, format_timecode, tick_steps
from widgets.timeline.timeline_view import TimelineView

__all__ = ["TimelineTrack", "TimelineView", "Viewport", "downsample_presence", "format_timecode", "tick_steps"]
