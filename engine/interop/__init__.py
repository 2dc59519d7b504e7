"""Bringing DeepFaceLab and FaceSwap work in, and taking it out (issue 15).

- :mod:`.safe_pickle`: the restricted unpickler every foreign pickle goes through;
- :mod:`.dfljpg`: DeepFaceLab's aligned-face JPEGs (metadata in the APP15 segment);
- :mod:`.faceswap`: FaceSwap's ``.fsa`` alignments files and face-PNG ``iTXt`` headers;
- :mod:`.import_dfl`, :mod:`.import_faceswap`, :mod:`.export_sets`: the jobs' work;
- :mod:`.onnx_export`: a trained swap model as ONNX and as a DeepFaceLive ``.dfm``.

Formats are implemented from their descriptions in ``REFERENCE.md`` (Parts A2, B 2.2,
C 1.8 and E 1.4); no code of either project is used.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import FacesmithError


class InteropError(FacesmithError):
    """A foreign file that cannot be read or written; the message names the file."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
