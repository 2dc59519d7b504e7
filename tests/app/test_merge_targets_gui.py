"""The editor's merge targets, "don't swap here", the two exclusion states, delete (qtbot)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.document import ProjectDocument
from app.main_window import MainWindow
from engine.project import targets

pytestmark = [pytest.mark.gui]


def test_person_list_ranges_states_and_delete(qtbot, extracted_copy: Path, artifacts_dir: Path) -> None:
    window = MainWindow(ProjectDocument.open(extracted_copy), start_engine=False)
    qtbot.addWidget(window)
    window.resize(1500, 950)
    window.show()
    store = window.document.store
    clip = store.find_clip("lbax4n")
    faces = store.faces(clip_id=clip.id)
    lead = faces[-1].person_id
    window.curation.split_faces([f.id for f in faces[:30]], "Stand-in")
    stand_in = next(p.id for p in store.persons() if p.name == "Stand-in")
    window.frame_presenter.show_clip(clip.id, 40)
    qtbot.waitUntil(lambda: window.frame_presenter.frame == 40, timeout=5000)

    ws = window.merge_workspace
    checklist = ws.persons
    assert sorted(checklist.all_ids()) == sorted([lead, stand_in]) and sorted(checklist.checked_ids()) == \
        sorted([lead, stand_in])
    assert "Every face is swapped" in checklist.hint.text()
    # Untick the stand-in: only the lead is a merge target; one undo step.
    checklist.set_checked(stand_in, False)
    assert targets.target_persons(store, clip.id) == [lead]
    assert checklist.checked_ids() == [lead] and "Only the ticked persons" in checklist.hint.text()
    ws.dock.raise_()
    qtbot.wait(50)
    assert ws.dock.widget().grab().save(str(artifacts_dir / "merge_person_list.png"))
    window.actions.undo.trigger()
    assert targets.target_persons(store, clip.id) == []
    window.actions.redo.trigger()
    assert targets.target_persons(store, clip.id) == [lead]

    # "Don't swap here": the timeline's in/out range; drawn on the track; undoable.
    window.timeline.set_range(5, 9)
    ws.no_swap_action.trigger()
    assert [(a, b) for _, a, b in targets.swap_ranges(store, clip.id)] == [(5, 10)]
    track = next(t for t in window.timeline.tracks() if t.clip_id == clip.id)
    assert track.no_swap == ((5, 10),)
    assert window.timeline.grab().save(str(artifacts_dir / "timeline_dont_swap_here.png"))
    window.frame_presenter.request_frame(7)
    qtbot.waitUntil(lambda: window.frame_presenter.frame == 7, timeout=5000)
    ws.swap_again_action.trigger()
    assert targets.swap_ranges(store, clip.id) == []
    window.actions.undo.trigger()
    assert len(targets.swap_ranges(store, clip.id)) == 1

    # The two states, distinct in the grid and the graph.
    ids = [f.id for f in store.faces(clip_id=clip.id)]
    window.document.execute("Exclude", lambda s: s.set_excluded(ids[:6], True))
    window.document.execute("Don't swap", lambda s: s.set_swap_excluded(ids[3:9], True))
    grid = window.faces_panel.grid
    frame = store.face(ids[5]).frame
    window.frame_presenter.request_frame(frame)
    qtbot.waitUntil(lambda: window.frame_presenter.frame == frame, timeout=5000)
    shown = {f.face_id: f for f in window.frame_view.faces()}
    assert shown[ids[5]].not_swapped and shown[ids[5]].excluded  # drawn amber and dotted in the frame view
    table = grid._table
    rows = table.rows_of(np.asarray(ids[:9]))
    assert table.excluded[rows].tolist() == [True] * 6 + [False] * 3
    assert table.swap_excluded[rows].tolist() == [False] * 3 + [True] * 6
    grid.set_filter(clip_ids=[clip.id])
    grid.set_sort("frame")
    window.faces_dock.raise_()
    qtbot.wait(300)
    assert window.faces_panel.grab().save(str(artifacts_dir / "face_grid_exclusion_states.png"))
    window.face_graph.set_colour_by("state")
    window.graph_dock.raise_()
    qtbot.wait(100)
    assert window.graph_dock.widget().grab().save(str(artifacts_dir / "face_graph_states.png"))
    assert window.face_graph.shown_role_counts()["dst"] == 150  # faces out of training are shown, grey

    # Delete for good from the grid's menu action: gone, back with undo.
    before = int(store.scalar("SELECT count(*) FROM faces"))
    window.grid_presenter.on_action("delete", np.asarray(ids[-5:]))
    assert int(store.scalar("SELECT count(*) FROM faces")) == before - 5
    window.actions.undo.trigger()
    assert int(store.scalar("SELECT count(*) FROM faces")) == before
    window.actions.redo.trigger()
    crops = [extracted_copy / f"faces/{i // 1000:04d}/{i}.jpg" for i in ids[-5:]]
    assert all(c.is_file() for c in crops)  # kept while the project is open
    window.close()  # closes the document: the deleted faces' crops go now
    assert not any(c.exists() for c in crops)
