"""Connects the ProjectBrowser to the document: refresh from ChangeSets, renames as commands."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.background import TaskRunner
from app.document import ProjectDocument
from engine.project.changes import ChangeSet
from engine.project.person_thumbs import load_thumbnail, person_thumbnails
from widgets.project_browser import PersonRow, ProjectBrowser

THUMB_SIZE = 96
PERSON_THUMB = 48


class BrowserPresenter(QObject):
    """Keeps the project browser in step with the project; clip thumbnails load in the background."""

    clip_chosen = Signal(int)

    def __init__(self, document: ProjectDocument, view: ProjectBrowser, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.view = view
        self._thumbs: dict[int, np.ndarray] = {}
        self._person_thumbs: dict[int, np.ndarray] = {}
        self._person_paths: dict[int, object] = {}
        self._closed = False
        self._tasks = TaskRunner(self, threads=1)
        self._tasks.finished.connect(self._on_thumbnail)
        document.changed.connect(self.on_changed)
        view.person_renamed.connect(self.rename_person)
        view.clip_selected.connect(self.clip_chosen)
        self.refresh_all()

    def refresh_all(self) -> None:
        self.refresh_clips()
        self.refresh_persons()
        self.refresh_models()

    def refresh_clips(self) -> None:
        store = self.document.store
        clips = store.clips()
        self.view.set_clips(clips, store.face_counts(), self._thumbs)
        for clip in clips:
            if clip.id not in self._thumbs and not clip.missing:
                from engine.project.images import frame_source

                source, start, stop = frame_source(store, clip), clip.in_frame, clip.out_frame
                self._tasks.submit(clip.id, lambda s=source, a=start, b=stop: _thumbnail(s, a, b))

    def refresh_persons(self) -> None:
        store = self.document.store
        counts = store.person_face_counts()
        persons = store.persons()
        self.view.set_persons([PersonRow(p, *counts.get(p.id, (0, 0))) for p in persons], self._person_thumbs)
        for pid, path in person_thumbnails(store).items():
            if self._person_paths.get(pid) != path:
                self._person_paths[pid] = path
                self._tasks.submit(("person", pid, path), lambda p=path: load_thumbnail(p, PERSON_THUMB))

    def refresh_models(self) -> None:
        self.view.set_models(self.document.store.models())
        self.view.set_renders(self.document.store.renders())

    def on_changed(self, changes: ChangeSet) -> None:
        if changes.touches("clips", "faces"):
            self.refresh_clips()
        if changes.touches("persons", "faces"):
            self.refresh_persons()
        if changes.touches("models", "renders"):
            self.refresh_models()

    def rename_person(self, person_id: int, name: str) -> None:
        self.document.execute("Rename person", lambda store: store.rename_person(person_id, name))

    def _on_thumbnail(self, key: object, image: np.ndarray) -> None:
        if isinstance(key, tuple):  # ("person", id, path)
            self._person_thumbs[key[1]] = image
            if not self._closed:
                self.refresh_persons()
            return
        self._thumbs[key] = image
        if not self._closed:
            self.refresh_clips()

    def close(self) -> None:
        """Stop before the document closes: late thumbnails are dropped."""
        self._closed = True
        self._tasks.wait(5000)


def _thumbnail(source, start: int, stop: int | None) -> np.ndarray:  # noqa: ANN001 - runs in a worker thread
    """A representative frame of the clip's range (not its first one, which may be black)."""
    from engine.media.representative import representative_thumbnail

    with source.open(cache_frames=0) as reader:
        return representative_thumbnail(reader, start, stop, max_size=THUMB_SIZE)
