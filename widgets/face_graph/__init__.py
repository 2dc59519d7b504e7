"""The face graph: faces by pose or expression, with src/dst coverage and its gaps."""

from widgets.face_graph.face_graph_widget import FaceGraphWidget
from widgets.face_graph.model import GraphPoints

__all__ = ["FaceGraphWidget", "GraphPoints"]
