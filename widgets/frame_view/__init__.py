"""The central frame view: the current frame with its faces, zoom and pan, selection,
and the landmark editor (see :class:`FrameView`)."""

from __future__ import annotations

from widgets.frame_view.frame_view import FrameView
from widgets.frame_view.landmark_editor import LandmarkEdit, LandmarkEditor
from widgets.frame_view.model import (
    GROUP_NAMES,
    LANDMARK_GROUPS,
    FaceOverlay,
    GroupName,
    face_at,
    group_of,
    landmark_at,
)
from widgets.frame_view.transform import ViewTransform

__all__ = [
    "GROUP_NAMES",
    "LANDMARK_GROUPS",
    "FaceOverlay",
    "FrameView",
    "GroupName",
    "LandmarkEdit",
    "LandmarkEditor",
    "ViewTransform",
    "face_at",
    "group_of",
    "landmark_at",
]
