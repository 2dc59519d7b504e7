"""The face grid: every face of the project as a thumbnail, sortable, filterable and culled
with Delete / Shift+Delete; stays smooth with 100,000 faces.

``FaceGridPanel`` (toolbar + grid) wraps ``FaceGridView`` (the grid). Data goes in as a
Qt-free ``FaceTable`` of numpy columns; thumbnails come from a ``ThumbnailSource`` the
presenter provides and load lazily in two worker threads. Run ``python -m widgets.face_grid``
for a demo with 100,000 synthetic faces.
"""

from widgets.face_grid.face_grid_panel import FaceGridPanel
from widgets.face_grid.face_grid_view import FaceGridView
from widgets.face_grid.model import (
    SORT_KEYS,
    FaceFilter,
    FaceTable,
    SortKey,
    filter_mask,
    similarity_distance,
    sort_order,
)
from widgets.face_grid.thumbnails import ThumbnailLoader, ThumbnailSource

__all__ = [
    "SORT_KEYS",
    "FaceFilter",
    "FaceGridPanel",
    "FaceGridView",
    "FaceTable",
    "SortKey",
    "ThumbnailLoader",
    "ThumbnailSource",
    "filter_mask",
    "similarity_distance",
    "sort_order",
]
