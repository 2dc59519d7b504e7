"""Image clips: folders of stills, image sequences and single stills, read as frames.

An image clip (docs/CONTEXT.md) is a list of image files, one frame each, each with its
own size. Import must stay quick for thousands of camera photos (1-12 MP), so nothing
here decodes pixels at import: :func:`probe_image` reads the header (size, format, EXIF
orientation) and checks the file's end the cheap way (a JPEG ends with its EOI marker, a
PNG with its IEND chunk: a cut file fails that), and :func:`image_fingerprint` hashes the
size plus the first and last 64 KiB, which hold the EXIF block and the end of the entropy
coded data: any re-encode or edit changes one of them.

Frames come out like video frames: C-contiguous ``uint8`` ``(H, W, 3)`` RGB arrays, turned
upright by the stored EXIF orientation (so the face boxes found on frame *i* are drawn on
the same pixels every time, whatever reads the file).
"""

from __future__ import annotations

import hashlib
import operator
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Final

import cv2
import numpy as np

from engine.errors import MediaError
from engine.media.decode import read_ahead

if TYPE_CHECKING:
    from types import TracebackType

    from engine.media.decode import DecodeStats

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageFrameReader",
    "ImageInfo",
    "apply_orientation",
    "expand_pattern",
    "image_fingerprint",
    "images_fingerprint",
    "is_image_path",
    "iter_image_frames",
    "list_folder",
    "natural_key",
    "probe_image",
    "read_image",
]

#: File name endings taken as images (case-insensitive).
IMAGE_SUFFIXES: Final = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".ppm", ".pgm"})

#: The frame rate image clips are shown at on the timeline (one image a frame).
IMAGE_FPS: Final = Fraction(1, 1)

_EXIF_ORIENTATION: Final = 0x0112
_SAMPLE: Final = 64 * 1024
IMAGE_FINGERPRINT_VERSION: Final = "img1"


@dataclass(frozen=True)
class ImageInfo:
    """One image's facts, read from its header. ``width``/``height`` are upright (after the
    EXIF orientation), ``orientation`` the EXIF tag (1 = as stored)."""

    path: Path
    width: int
    height: int
    size_bytes: int
    orientation: int
    format: str


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def natural_key(name: str) -> tuple[object, ...]:
    """Sort key putting ``img2`` before ``img10`` (digits compare as numbers)."""
    parts = re.split(r"(\d+)", name.casefold())
    return tuple((0, int(p), p) if p.isdigit() else (1, 0, p) for p in parts)


def _check_end(path: Path, fmt: str, size: int) -> None:
    """Refuse a JPEG or PNG whose data stops early (the cheap test: its end marker)."""
    if fmt not in ("JPEG", "PNG"):
        return
    with path.open("rb") as file:
        file.seek(max(0, size - 4096))
        tail = file.read()
    if fmt == "JPEG":
        # Cameras and editors sometimes append data after the EOI marker; look for it
        # near the end rather than in the last two bytes only.
        if b"\xff\xd9" not in tail:
            raise MediaError(path, "truncated or damaged: the JPEG data has no end marker")
    elif b"IEND" not in tail[-64:]:
        raise MediaError(path, "truncated or damaged: the PNG has no IEND chunk")


def probe_image(path: str | Path) -> ImageInfo:
    """Read ``path``'s header: size, format and EXIF orientation; no pixels are decoded."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        size = path.stat().st_size
        if size == 0:
            raise MediaError(path, "is empty (0 bytes)")
        with Image.open(path) as image:
            fmt = str(image.format or "")
            width, height = image.size
            try:
                orientation = int(image.getexif().get(_EXIF_ORIENTATION, 1) or 1)
            except Exception:  # a damaged EXIF block: the picture itself may be fine
                orientation = 1
    except FileNotFoundError:
        raise MediaError(path, "file not found") from None
    except IsADirectoryError:
        raise MediaError(path, "is a directory, not an image") from None
    except PermissionError:
        raise MediaError(path, "cannot be read (permission denied)") from None
    except UnidentifiedImageError:
        raise MediaError(path, "not an image (its data is not jpg, png, webp, tiff or bmp)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(path, f"cannot be read as an image ({exc})") from None
    if not 1 <= orientation <= 8:
        orientation = 1
    if width < 1 or height < 1:
        raise MediaError(path, f"has no pixels ({width}x{height})")
    _check_end(path, fmt, size)
    if orientation >= 5:  # rotated by 90 degrees: the upright picture is transposed
        width, height = height, width
    return ImageInfo(path, int(width), int(height), size, orientation, fmt)


def image_fingerprint(path: Path, size: int | None = None) -> bytes:
    """Digest of one image file: its size, first and last 64 KiB (see the module doc)."""
    try:
        size = path.stat().st_size if size is None else size
        digest = hashlib.sha256(f"{IMAGE_FINGERPRINT_VERSION}:{size}\n".encode("ascii"))
        with path.open("rb") as file:
            if size <= 2 * _SAMPLE:
                digest.update(file.read())
            else:
                digest.update(file.read(_SAMPLE))
                file.seek(size - _SAMPLE)
                digest.update(file.read(_SAMPLE))
    except FileNotFoundError:
        raise MediaError(path, "file not found") from None
    except OSError as exc:
        raise MediaError(path, f"cannot be read ({exc.strerror or exc})") from None
    return digest.digest()


def images_fingerprint(digests: Sequence[bytes], total_bytes: int) -> str:
    """A clip's fingerprint from its images' digests, in frame order."""
    h = hashlib.sha256()
    for d in digests:
        h.update(d)
    return f"{IMAGE_FINGERPRINT_VERSION}:{len(digests)}:{total_bytes}:{h.hexdigest()}"


def list_folder(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, in natural name order.

    Raises when the folder is empty or holds no file with an image name ending (the
    message names what it does hold).
    """
    try:
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    except OSError as exc:
        raise MediaError(folder, f"cannot be listed ({exc.strerror or exc})") from None
    files = [p for p in entries if p.is_file()]
    if not files:
        raise MediaError(folder, "is an empty folder: it holds no images")
    images = [p for p in files if is_image_path(p)]
    if not images:
        kinds = sorted({p.suffix.lower() or "(no ending)" for p in files})
        raise MediaError(folder, f"holds no images (jpg, png, webp, tiff, bmp); found {len(files)} "
                                 f"other file(s): {', '.join(kinds[:6])}")
    return sorted(images, key=lambda p: natural_key(p.name))


_PATTERN = re.compile(r"%(0?)(\d*)d")


def expand_pattern(pattern: Path) -> list[Path]:
    """Files matching an image sequence pattern like ``shot_%04d.png``, by number.

    ``%04d`` matches exactly four digits (zero padded), ``%d`` any number of digits.
    """
    name = pattern.name
    found = list(_PATTERN.finditer(name))
    if len(found) != 1:
        raise MediaError(pattern, "a sequence pattern needs exactly one %d or %0Nd (e.g. shot_%04d.png)")
    m = found[0]
    digits = r"\d+" if not m.group(2) else (r"\d{%s}" % m.group(2) if m.group(1) else r"\s*\d+")
    regex = re.compile(re.escape(name[: m.start()]) + f"({digits})" + re.escape(name[m.end():]) + r"\Z")
    folder = pattern.parent
    if not folder.is_dir():
        raise MediaError(pattern, f"the folder {folder} does not exist")
    hits: list[tuple[int, Path]] = []
    for p in folder.iterdir():
        hit = regex.match(p.name)
        if hit and p.is_file():
            hits.append((int(hit.group(1)), p))
    if not hits:
        raise MediaError(pattern, "the pattern matches no file")
    return [p for _, p in sorted(hits)]


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn a decoded picture upright per its EXIF orientation tag (1-8)."""
    if orientation == 2:
        image = image[:, ::-1]
    elif orientation == 3:
        image = image[::-1, ::-1]
    elif orientation == 4:
        image = image[::-1]
    elif orientation == 5:
        image = image.transpose(1, 0, 2)
    elif orientation == 6:
        image = np.rot90(image, -1)
    elif orientation == 7:
        image = image[::-1, ::-1].transpose(1, 0, 2)
    elif orientation == 8:
        image = np.rot90(image, 1)
    return np.ascontiguousarray(image)


def read_image(path: Path, orientation: int = 1) -> np.ndarray:
    """Decode ``path`` as upright RGB ``uint8`` (alpha dropped, 16 bits scaled to 8)."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise MediaError(path, "file not found") from None
    except OSError as exc:
        raise MediaError(path, f"cannot be read ({exc.strerror or exc})") from None
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION) if data.size else None
    if bgr is None:
        raise MediaError(path, "cannot be decoded as an image (damaged or unsupported data)")
    return apply_orientation(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), orientation)


class ImageFrameReader:
    """:class:`engine.media.FrameReader`'s interface over a list of images (one a frame).

    ``size`` is frame 0's; other frames may differ (each image keeps its own size).
    """

    def __init__(self, paths: Sequence[Path], orientations: Sequence[int] | None = None, *,
                 cache_frames: int = 16, name: str = "image clip") -> None:
        if not paths:
            raise MediaError(Path(name), "the image clip has no images")
        self.paths = [Path(p) for p in paths]
        self.path = self.paths[0].parent
        self._orient = list(orientations) if orientations is not None else [1] * len(self.paths)
        self._cache_frames = max(0, cache_frames)
        self._lru: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = False
        first = self.read(0)
        self._size = (int(first.shape[1]), int(first.shape[0]))

    @property
    def frame_count(self) -> int:
        return len(self.paths)

    @property
    def fps(self) -> Fraction:
        return IMAGE_FPS

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    def read(self, index: int) -> np.ndarray:
        i = operator.index(index)
        if not 0 <= i < len(self.paths):
            raise IndexError(f"frame {i} is out of range: the image clip has {len(self.paths)} images "
                             f"(0..{len(self.paths) - 1})")
        with self._lock:
            if self._closed:
                raise ValueError("the frame reader is closed")
            cached = self._lru.get(i)
            if cached is not None:
                self._lru.move_to_end(i)
                return cached.copy()
            image = read_image(self.paths[i], self._orient[i])
            if self._cache_frames:
                self._lru[i] = image
                while len(self._lru) > self._cache_frames:
                    self._lru.popitem(last=False)
                return image.copy()
            return image

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lru.clear()

    def __enter__(self) -> ImageFrameReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def iter_image_frames(paths: Sequence[Path], orientations: Sequence[int] | None = None, *, start: int = 0,
                      stop: int | None = None, step: int = 1, stats: DecodeStats | None = None,
                      threaded: bool = True, queue_size: int = 4) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, frame)`` like :func:`engine.media.iter_frames`; an image that cannot be
    decoded is skipped and recorded in ``stats`` (one bad photo does not end a job)."""
    if start < 0 or step < 1:
        raise ValueError(f"start must be >= 0 and step >= 1, got start={start}, step={step}")
    orient = list(orientations) if orientations is not None else [1] * len(paths)
    wanted = range(start, len(paths) if stop is None else min(stop, len(paths)), step)

    def frames() -> Iterator[tuple[int, np.ndarray]]:
        for i in wanted:
            try:
                image = read_image(Path(paths[i]), orient[i])
            except MediaError as exc:
                if stats is not None:
                    stats.skipped_indexes.append(i)
                    if len(stats.errors) < 20:
                        stats.errors.append(str(exc))
                continue
            if stats is not None:
                stats.decoded += 1
            yield i, image

    return read_ahead(frames(), queue_size) if threaded else frames()


