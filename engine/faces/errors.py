"""Errors of the face-analysis library that reach users.

Both subclass :class:`engine.errors.FacesmithError`, so ``str(error)`` is a complete
one-line (or, for missing weights, a short multi-line) message the CLI can print and the
editor can show as is.
"""

from __future__ import annotations

from engine.errors import FacesmithError


class BackendUnavailable(FacesmithError):
    """A face-analysis backend cannot be used here: its package or its weight files are
    missing. The message says exactly what to install or which files to put where;
    nothing is ever downloaded on the user's behalf."""

    def __init__(self, backend: str, problem: str) -> None:
        self.backend = backend
        self.problem = problem
        super().__init__(f"face backend {backend!r} is unavailable: {problem}")


class FaceAnalysisError(FacesmithError):
    """A face-analysis request is invalid (bad crop size, unknown face type, malformed
    landmarks or image)."""
