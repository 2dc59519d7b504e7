"""Process-level settings that make CPU training fast, applied only while it runs.

glibc serves allocations above its mmap threshold (at most 32 MB, dynamically) with
fresh ``mmap`` pages and returns freed heap tops to the system past its trim threshold.
A swap model's activations at 128 px are 32 MB tensors allocated and freed dozens of
times per step, so every step page-faults and zeroes gigabytes: measured here, a df-ud
128 px step went from 4.1 s to 2.1 s (liae-ud 64 px: 1.34 s to 0.81 s) once both
thresholds are raised so freed blocks are reused. The price is that the process keeps its
peak heap while training; :func:`tuned_cpu_allocator` restores glibc's defaults and
trims the heap when training ends, so a long-lived worker gives the memory back.

Nothing happens on non-glibc systems (the context manager is then a no-op).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys
from collections.abc import Iterator
from typing import Final

_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3
_TUNED: Final = 1 << 30
_DEFAULT: Final = 128 * 1024


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt  # noqa: B018 - glibc only
        libc.malloc_trim  # noqa: B018
        return libc
    except (OSError, AttributeError):
        return None


@contextlib.contextmanager
def tuned_cpu_allocator(enabled: bool = True) -> Iterator[bool]:
    """Keep freed memory for reuse while the block runs; yields whether it applied."""
    libc = _libc() if enabled else None
    if libc is None:
        yield False
        return
    ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, _TUNED)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _TUNED))
    try:
        yield ok
    finally:
        libc.mallopt(_M_MMAP_THRESHOLD, _DEFAULT)
        libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT)
        libc.malloc_trim(0)
