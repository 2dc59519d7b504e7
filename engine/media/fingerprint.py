"""A content fingerprint of a media file that costs the same for 10 MB and 10 GB.

A clip row stores the fingerprint so that a moved file can be recognised (relink) and a
file changed in place is noticed rather than silently misused. Hashing a whole multi-GB
video would take a minute, so we hash the size plus three 1 MiB samples (start, middle,
end): containers put their headers and indexes at the start or the end, and any
re-encode or edit changes the size or those bytes. Two different files can in principle
agree on all three samples; for video files that is not a practical concern.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Final

from engine.errors import MediaError

__all__ = ["FINGERPRINT_VERSION", "fingerprint"]

#: Prefix of every fingerprint; bump it if the recipe changes so old values never match.
FINGERPRINT_VERSION: Final = "v1"

_SAMPLE: Final = 1 << 20  # 1 MiB


def _sample_offsets(size: int) -> list[int]:
    """Start offsets of the samples: the whole file when it is small, else three samples."""
    if size <= 3 * _SAMPLE:
        return [0]
    return [0, size // 2 - _SAMPLE // 2, size - _SAMPLE]


def fingerprint(path: str | Path) -> str:
    """Return ``"v1:<size>:<sha256 hex>"`` for the file at ``path``.

    Files up to 3 MiB are hashed whole; larger ones by their first, middle and last MiB.
    The size is part of both the text and the hash.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        digest = hashlib.sha256(str(size).encode("ascii") + b"\n")
        with path.open("rb") as file:
            offsets = _sample_offsets(size)
            length = size if offsets == [0] else _SAMPLE
            for offset in offsets:
                file.seek(offset)
                remaining = length
                while remaining:
                    chunk = file.read(min(remaining, _SAMPLE))
                    if not chunk:
                        raise MediaError(path, "file changed size while it was read")
                    digest.update(chunk)
                    remaining -= len(chunk)
    except FileNotFoundError as error:
        raise MediaError(path, "file not found") from error
    except IsADirectoryError as error:
        raise MediaError(path, "is a directory, not a video file") from error
    except PermissionError as error:
        raise MediaError(path, "cannot be read (permission denied)") from error
    except OSError as error:
        raise MediaError(path, f"cannot be read ({error.strerror or error})") from error
    return f"{FINGERPRINT_VERSION}:{size}:{digest.hexdigest()}"
