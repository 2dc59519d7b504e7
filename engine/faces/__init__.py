"""Face analysis: detection, landmarks, alignment, pose, quality, expression, identity,
tracks. Qt-free and database-free: functions take numpy arrays and return frozen
dataclasses or arrays; the extraction job wires them to the project store.

Modules
-------
``backends``      the detector/landmarker interface and registry (``get_backend``)
``dlib_backend``  HOG detector, 68-point shape predictor, 128-d identity descriptor
``fan_backend``   face_alignment's FAN landmarks from local weights (never downloads)
``mediapipe_backend`` the default: full-range BlazeFace + face mesh -> 68 points with
                  per-point visibility, any pose; dlib's points on upright frontal faces
``tflite_torch``  runs the mediapipe wheel's .tflite models in torch (CPU, or GPU batches)
``mesh68``        the 468-point mesh -> 68 iBUG points table, the mesh's neighbours
``shape68``       the 68-point layout: index groups, mirroring, our mean face
``align``         Umeyama alignment, face types, crops and their inverse
``pose``          yaw/pitch/roll by solvePnP on a generic 3D face
``quality``       sharpness, colour histograms
``expression``    mouth/eye openness, smile, brow raise
``identity``      embeddings, same-person test, clustering into persons
``tracks``        linking faces across frames, temporal landmark smoothing
``analyze``       ``FaceAnalyzer`` (the per-frame pipeline) and ``rederive``

Conventions: images uint8 ``(H, W, 3)`` RGB; landmarks float32 ``(68, 2)`` iBUG order in
frame pixels (pixel centres on integers); boxes ``(x0, y0, x1, y1)`` floats.
"""

from __future__ import annotations

from engine.faces.align import (
    FaceType,
    alignment_matrix,
    crop_face,
    invert_alignment,
    transform_points,
    umeyama,
)
from engine.faces.analyze import AnalyzedFace, DerivedFace, FaceAnalyzer, link_faces, rederive
from engine.faces.backends import Detection, FaceBackend, backend_names, get_backend
from engine.faces.errors import BackendUnavailable, FaceAnalysisError
from engine.faces.expression import Expression, expression
from engine.faces.identity import cluster_embeddings, embed, same_person
from engine.faces.pose import Pose, estimate_pose
from engine.faces.quality import color_histogram, hist_similarity, sharpness
from engine.faces.tracks import link_tracks, smooth_landmarks

__all__ = [
    "AnalyzedFace",
    "BackendUnavailable",
    "DerivedFace",
    "Detection",
    "Expression",
    "FaceAnalysisError",
    "FaceAnalyzer",
    "FaceBackend",
    "FaceType",
    "Pose",
    "alignment_matrix",
    "backend_names",
    "cluster_embeddings",
    "color_histogram",
    "crop_face",
    "embed",
    "estimate_pose",
    "expression",
    "get_backend",
    "hist_similarity",
    "invert_alignment",
    "link_faces",
    "link_tracks",
    "rederive",
    "same_person",
    "sharpness",
    "smooth_landmarks",
    "transform_points",
    "umeyama",
]
