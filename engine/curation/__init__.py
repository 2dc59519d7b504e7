"""Curation maths: pose and expression coverage, the best-faces picker, sort keys.

Everything here is numpy over plain arrays (no Qt, no database), so the face graph, the
face grid's presenters and the ``facesmith coverage`` command share one implementation
and the numbers a user sees are tested without a widget.
"""

from engine.curation.best_faces import pick_best
from engine.curation.coverage import Coverage, Gap, combined_score, compute_coverage, gaps_to_csv

__all__ = ["Coverage", "Gap", "combined_score", "compute_coverage", "gaps_to_csv", "pick_best"]
