"""Merge targets in the editor: whom the merge swaps in the shown dst clip, and where not.

Fills the merge workspace's person check list for the clip the frame view shows (persons
with faces in it, each with the crop of its sharpest face as thumbnail) and turns ticks
into one undoable "merge targets" edit (:mod:`engine.project.targets`). Ticking every
person clears the targets (every face is swapped again, faces with no person included).
Also the timeline's "don't swap here": the in/out range becomes a swap range.

Person thumbnails: a simple best-face crop read here; when the project gets real person
thumbnails (issue 20), :meth:`TargetsPresenter.thumbnail` is the one place to use them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject

from app.document import ProjectDocument
from engine.project import targets
from engine.project.changes import ChangeSet
from engine.project.models import Clip
from widgets.person_checklist import PersonChecklist, PersonRow


class TargetsPresenter(QObject):
    def __init__(self, document: ProjectDocument, checklist: PersonChecklist, clip_getter, timeline=None,  # noqa: ANN001
                 frame_getter=None, parent: QObject | None = None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.document = document
        self.checklist = checklist
        self._clip = clip_getter
        self._frame = frame_getter
        self.timeline = timeline
        self._thumbs: dict[int, np.ndarray | None] = {}
        checklist.checked_changed.connect(self._on_checked)
        document.changed.connect(self._on_changed)

    # ------------------------------------------------------------------ list
    def thumbnail(self, person_id: int) -> np.ndarray | None:
        """The crop of the person's sharpest face (RGB), or None when there is none."""
        if person_id not in self._thumbs:
            rows = self.document.store.query(
                "SELECT crop_path FROM faces WHERE person_id = ? AND crop_path IS NOT NULL "
                "ORDER BY coalesce(sharpness, -1) DESC, id LIMIT 1", (person_id,))
            image = None
            if rows:
                path = Path(self.document.root) / rows[0][0]
                data = np.fromfile(path, dtype=np.uint8) if path.is_file() else np.zeros(0, np.uint8)
                bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
                image = None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            self._thumbs[person_id] = image
        return self._thumbs[person_id]

    def clip(self) -> Clip | None:
        clip = self._clip()
        return clip if clip is not None and clip.role == "dst" else None

    def refresh(self) -> None:
        clip = self.clip()
        if clip is None:
            self.checklist.set_rows([], None)
            return
        store = self.document.store
        names = {p.id: p.name for p in store.persons()}
        counts = store.query("SELECT person_id, count(*) FROM faces WHERE clip_id = ? AND person_id IS NOT NULL "
                             "GROUP BY person_id ORDER BY person_id", (clip.id,))
        rows = [PersonRow(int(pid), names.get(int(pid), f"person {pid}"), int(n), self.thumbnail(int(pid)))
                for pid, n in counts]
        self.checklist.set_rows(rows, targets.target_persons(store, clip.id), clip_name=clip.name)

    def _on_checked(self, ids: list[int]) -> None:
        clip = self.clip()
        if clip is None:
            return
        chosen = [] if set(ids) == set(self.checklist.all_ids()) else ids
        self.set_targets(clip, chosen)

    def set_targets(self, clip: Clip, person_ids: list[int]) -> ChangeSet:
        return self.document.execute("Merge targets", lambda store: targets.set_targets(store, clip, person_ids))

    # ------------------------------------------------------------------ don't swap here
    def dont_swap_range(self) -> ChangeSet | None:
        """The timeline's in/out range (inclusive) of the shown clip becomes "don't swap here"."""
        clip = self._clip()
        if clip is None or self.timeline is None:
            return None
        a, b = self.timeline.range()
        return self.document.execute("Don't swap here",
                                     lambda store: targets.add_swap_range(store, clip, int(a), int(b) + 1))

    def swap_here_again(self) -> ChangeSet | None:
        """Remove the "don't swap here" ranges under the current frame."""
        clip = self._clip()
        if clip is None or self._frame is None:
            return None
        frame = int(self._frame())
        return self.document.execute("Swap here again",
                                     lambda store: targets.remove_swap_ranges(store, clip, frame))

    def _on_changed(self, changes: ChangeSet) -> None:
        if changes.touches("persons", "faces"):
            self._thumbs.clear()
        if changes.touches("merge_targets", "persons", "faces", "clips"):
            self.refresh()
