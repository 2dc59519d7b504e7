"""Shot cuts drawn on the timeline (qtbot, offscreen)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PySide6.QtGui import QColor

from widgets.timeline import TimelineTrack, TimelineView
from widgets.timeline.cuts_painting import CUT_COLOUR, cut_pixels
from widgets.timeline import painting


def test_cuts_are_drawn_where_the_new_shots_start(qtbot, artifacts_dir: Path) -> None:
    view = TimelineView()
    qtbot.addWidget(view)
    view.resize(painting.HEADER_WIDTH + 300, painting.content_height(1) + 20)
    counts = np.ones(150, np.int32)
    view.set_tracks([TimelineTrack(1, "dst · two_shots", 150, Fraction(25), counts, cuts=[75, 75, 120])])
    view.show()
    qtbot.waitExposed(view)
    track = view.current_track()
    assert track is not None and track.cuts.tolist() == [75, 120]
    image = view.grab().toImage()
    assert image.save(str(artifacts_dir / "timeline_cuts.png"))
    area = view.track_area()
    xs = cut_pixels(track.cuts, view.viewport(), area.width())
    assert len(xs) == 2
    y = painting.row_top(0) + painting.TRACK_HEIGHT // 2
    for x in xs:
        colour = QColor(image.pixel(area.left() + x, y))
        assert abs(colour.red() - CUT_COLOUR.red()) < 40 and colour.green() < 170, colour.name()
    # Between the cuts the row shows no cut colour.
    mid = QColor(image.pixel(area.left() + (xs[0] + xs[1]) // 2, y))
    assert not (abs(mid.red() - CUT_COLOUR.red()) < 40 and abs(mid.green() - CUT_COLOUR.green()) < 40)
