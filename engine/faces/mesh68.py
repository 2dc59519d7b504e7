"""The 468-point face mesh as the 68 iBUG points.

``MESH_TO_68[k]`` is the mesh vertex that stands for iBUG point ``k``. The table was
derived, not copied: on the annotated and frontal stills of ``tests/data/stills`` we ran
dlib's 68-point predictor (trained on iBUG) and the mesh, and took for each iBUG point
the vertex nearest on average (``benchmarks/mesh68_mapping.py`` re-derives it and prints
the residual: 4.4 % of the eye-corner distance). Because the vertices are fixed on a 3D face surface, the points keep
their meaning as the head turns: on a profile the far jaw points lie where that part of
the face is, hidden behind the nose, and their visibility says so.

The mesh's edges (for the per-point surface normals behind the visibility) are read from
the ``mediapipe`` wheel's ``face_mesh_connections.py`` by file path, without importing
the package.
"""

from __future__ import annotations

import ast
import functools
from typing import Final

import numpy as np
import numpy.typing as npt

from engine.faces.errors import BackendUnavailable

MESH_TO_68: Final[npt.NDArray[np.int64]] = np.array([
    127, 234, 132, 58, 172, 150, 149, 148, 152, 377, 378, 365, 397, 435, 401, 454, 356,
    156, 63, 105, 66, 107, 285, 296, 334, 293, 276, 168, 197, 5, 4, 240, 99, 2,
    326, 305, 7, 160, 158, 155, 153, 144, 382, 385, 387, 249, 373, 380, 61, 74, 37,
    11, 302, 310, 306, 405, 315, 17, 84, 91, 62, 38, 13, 312, 308, 317, 14, 87
], dtype=np.int64)


@functools.cache
def mesh_neighbours() -> tuple[npt.NDArray[np.int64], ...]:
    """For each of the 468 vertices, its neighbours along the mesh tessellation."""
    from engine.faces.tflite_torch import mediapipe_dir

    root = mediapipe_dir()
    path = root / "python" / "solutions" / "face_mesh_connections.py" if root else None
    if path is None or not path.is_file():
        raise BackendUnavailable("mediapipe", "the face mesh description mediapipe/python/solutions/"
                                 "face_mesh_connections.py is missing; install mediapipe==0.10.14 --no-deps")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    edges: list[tuple[int, int]] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "FACEMESH_TESSELATION" for t in node.targets):
            call = node.value
            assert isinstance(call, ast.Call)
            edges = [tuple(pair) for pair in ast.literal_eval(call.args[0])]  # type: ignore[misc]
    if not edges:
        raise BackendUnavailable("mediapipe", f"{path} has no FACEMESH_TESSELATION; reinstall mediapipe==0.10.14")
    near: list[set[int]] = [set() for _ in range(468)]
    for a, b in edges:
        near[a].add(b)
        near[b].add(a)
    return tuple(np.array(sorted(n), dtype=np.int64) for n in near)
