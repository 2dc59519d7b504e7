"""An image clip in the editor: the frame view shows each photo at its own size, the
timeline has one frame per photo, the browser gets a thumbnail (qtbot, offscreen)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import pytest

from app.document import ProjectDocument
from app.main_window import MainWindow
from engine.project.clips import add_sources
from engine.project.store import ProjectStore

pytestmark = [pytest.mark.gui]
STILLS = Path(__file__).resolve().parents[1] / "data" / "stills"


def test_photos_play_as_frames(qtbot, tmp_path: Path, artifacts_dir: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("obama.jpg", "takeo.ppm", "grace_hopper_512x512.jpg"):
        shutil.copyfile(STILLS / name, photos / name)
    with ProjectStore.create(tmp_path / "Stills") as store:
        (clip,) = add_sources(store, [photos], "src").clips
        root = store.root
    window = MainWindow(ProjectDocument.open(root), start_engine=False)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    track = next(t for t in window.timeline.tracks() if t.clip_id == clip.id)
    assert track.frame_count == 3
    expected = [cv2.imread(str(photos / n)).shape[:2] for n in ("grace_hopper_512x512.jpg", "obama.jpg",
                                                                 "takeo.ppm")]
    for k in range(3):
        window.frame_presenter.show_clip(clip.id, k)
        qtbot.waitUntil(lambda k=k: window.frame_presenter.frame == k and window.frame_view.frame() is not None
                        and window.frame_view.frame().shape[:2] == expected[k], timeout=5000)
    window.frame_presenter.show_clip(clip.id, 1)
    qtbot.waitUntil(lambda: window.frame_view.frame().shape[:2] == expected[1], timeout=5000)
    qtbot.waitUntil(lambda: clip.id in window.browser_presenter._thumbs, timeout=5000)
    assert window.grab().save(str(artifacts_dir / "image_clip_in_editor.png"))
    window.close()
