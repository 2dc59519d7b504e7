"""The errors the engine raises for bad input.

Every error that reaches a user names the file (or project) it is about and the problem,
in one line, so the CLI can print ``str(error)`` and the editor can show it as is.
"""

from __future__ import annotations

from pathlib import Path


class FacesmithError(Exception):
    """Base of every error meant for the user: ``str()`` is the whole message."""


class MediaError(FacesmithError):
    """A media file cannot be used: not a video, empty, truncated, unsupported, missing."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ProjectError(FacesmithError):
    """A project cannot be opened or changed as asked."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ClipError(FacesmithError):
    """A clip cannot be added, found or relinked."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class JobError(FacesmithError):
    """A job cannot be queued, found or changed (bad kind, bad parameters, wrong state)."""
