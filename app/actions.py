"""The editor's actions in one typed registry; tests trigger them instead of clicking menus."""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


class Actions(NamedTuple):
    new_project: QAction
    open_project: QAction
    add_src_clips: QAction
    add_dst_clips: QAction
    relink_clips: QAction
    preferences: QAction
    quit: QAction
    undo: QAction
    redo: QAction
    extract: QAction
    check_clips: QAction
    start_engine: QAction
    keep_person: QAction
    merge_persons: QAction
    split_faces: QAction
    keep_best: QAction
    show_landmarks: QAction
    edit_landmarks: QAction


def build_actions(parent: QWidget, undo: QAction, redo: QAction) -> Actions:
    def act(text: str, shortcut: QKeySequence | str | None = None, tip: str = "") -> QAction:
        a = QAction(text, parent)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        return a

    undo.setShortcut(QKeySequence.StandardKey.Undo)
    redo.setShortcut(QKeySequence("Ctrl+Shift+Z"))
    return Actions(
        new_project=act("&New Project…", QKeySequence.StandardKey.New, "Create a project folder"),
        open_project=act("&Open Project…", QKeySequence.StandardKey.Open, "Open a .facesmith project folder"),
        add_src_clips=act("Add &src Clips…", "Ctrl+Shift+S", "Add videos of the face to put in"),
        add_dst_clips=act("Add &dst Clips…", "Ctrl+Shift+D", "Add the footage to change"),
        relink_clips=act("&Relink Missing Clips…", None, "Find moved clip files by content in a folder"),
        preferences=act("&Preferences…", QKeySequence.StandardKey.Preferences),
        quit=act("&Quit", QKeySequence.StandardKey.Quit),
        undo=undo,
        redo=redo,
        extract=act("&Extract Faces…", "Ctrl+E", "Queue face extraction for clips"),
        check_clips=act("&Check Clips", None, "Queue a job that checks every clip's file"),
        start_engine=act("&Start Engine", None, "Start the engine process now (it starts by itself when jobs wait)"),
        keep_person=act("&Keep Only Selected Person", None,
                        "Mark the person selected in the project browser as wanted and exclude every other face"),
        merge_persons=act("&Merge Selected Persons", None, "Merge the persons selected in the browser into the first"),
        split_faces=act("&New Person from Selected Faces…", None, "Give the faces selected in the grid a new person"),
        keep_best=act("Keep &Best Faces…", None,
                      "Keep N faces spread over all poses (sharpest per pose bin) and exclude the rest"),
        show_landmarks=checkable(act("Show &Landmarks", "Ctrl+L", "Draw the 68 landmarks on the frame")),
        edit_landmarks=checkable(act("Edit &Landmarks", "Ctrl+Shift+L",
                                     "Drag landmarks on the frame (Shift drags a group); the crop re-derives on release")),
    )


def checkable(action: QAction) -> QAction:
    action.setCheckable(True)
    return action
