"""The one-line summary of a failed job: the exception's own words, not a traceback line.

The jobs dock and the status bar show one line per failed job; the traceback stays in the
job's details (``error_text``). Taking the traceback's last line used to show the *last*
line of a multi-line message, which for "FAN weights missing ... the dlib backend works
without it" read like success. The summary is the first non-empty line of the message;
errors Facesmith raises on purpose (:class:`~engine.errors.FacesmithError`) read as they
are, anything else (a bug) keeps its type name in front so it is recognisable as one.
"""

from __future__ import annotations

from typing import Final

from engine.errors import FacesmithError

MAX_SUMMARY: Final = 200


def failure_summary(exc: BaseException) -> str:
    """One line for the jobs list: ``"no face found in the reference image"``."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if not isinstance(exc, FacesmithError):
        first = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    elif not first:
        first = type(exc).__name__
    if len(lines) > 1 and len(first) < MAX_SUMMARY - 2:
        first += " …"  # more in the details
    return first if len(first) <= MAX_SUMMARY else first[:MAX_SUMMARY - 1] + "…"
