"""Masks in the project database: label masks, predicted masks, XSeg model rows.

Qt-free functions over a :class:`~engine.project.store.ProjectStore` (the ``masks`` and
``models`` tables of ``projects_schema/0001_initial.sql``):

- **label masks** are user edits: :func:`set_labels` returns an undoable
  :class:`~engine.project.changes.ChangeSet` (rows before and after), so the editor's undo
  is ``store.apply(cs.inverse())``. A face with a label is a keyframe.
- **predicted masks** are job output: PNG bytes in crop coordinates of the model's face
  type and resolution, one per (face, model), replaced when a model is applied again.
  Their change sets list touched ids only (jobs are not undoable).

Where a face's crop lies is defined in one place, :func:`crop_matrix`: predictions are
stored in the crop it gives for the model's face type and size, and read back through it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from engine.faces.align import alignment_matrix, as_face_type, resize_alignment
from engine.masks.raster import Mask
from engine.masks.shapes import LabelMask, MaskError
from engine.project.changes import ChangeSet, RowChange
from engine.project.models import Face, Model
from engine.project.store import ProjectStore

#: Faces per ``IN (...)`` query: well under SQLite's variable limit.
_CHUNK: Final = 500


def crop_matrix(face: Face, face_type: str | None = None, size: int | None = None) -> npt.NDArray[np.float64]:
    """The frame -> crop alignment of ``face`` for a crop of ``face_type`` and ``size``.

    The face's stored alignment is authoritative for its own face type (it may come from
    smoothed or hand-fixed landmarks); other face types are derived from its landmarks.
    """
    ftype = as_face_type(face_type or face.face_type).value
    side = int(size or face.crop_size)
    if ftype == face.face_type:
        if side == face.crop_size:
            return np.asarray(face.alignment, dtype=np.float64).copy()
        return resize_alignment(face.alignment, face.crop_size, side)
    return alignment_matrix(face.landmarks, ftype, side)


# ---------------------------------------------------------------------- PNG
def encode_png(mask: Mask) -> bytes:
    """A mask as an 8-bit grey PNG. Masks are mostly flat, so zlib's default level costs
    about 0.5 ms at 128 px and saves a tenth over the fastest level (~3 KB a mask)."""
    arr = np.ascontiguousarray(mask, dtype=np.uint8)
    ok, data = cv2.imencode(".png", arr, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise MaskError("could not encode a mask as PNG")
    return data.tobytes()


def decode_png(data: bytes) -> Mask:
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if arr is None:
        raise MaskError("a stored mask is not a readable PNG")
    return arr


# ---------------------------------------------------------------------- label masks
def get_label(store: ProjectStore, face_id: int) -> LabelMask | None:
    row = store.connection.execute(
        "SELECT shapes FROM masks WHERE face_id = ? AND kind = 'label'", (face_id,)).fetchone()
    return None if row is None else LabelMask.from_json(row[0])


def get_labels(store: ProjectStore, face_ids: Iterable[int] | None = None) -> dict[int, LabelMask]:
    """face id -> label mask, for the given faces (default: every keyframe)."""
    out: dict[int, LabelMask] = {}
    if face_ids is None:
        for r in store.connection.execute("SELECT face_id, shapes FROM masks WHERE kind = 'label'"):
            out[r[0]] = LabelMask.from_json(r[1])
        return out
    ids = list(face_ids)
    for i in range(0, len(ids), _CHUNK):
        part = ids[i:i + _CHUNK]
        sql = f"SELECT face_id, shapes FROM masks WHERE kind = 'label' AND face_id IN ({', '.join('?' * len(part))})"
        for r in store.connection.execute(sql, part):
            out[r[0]] = LabelMask.from_json(r[1])
    return out


def set_label(store: ProjectStore, face_id: int, label: LabelMask | None, *, text: str | None = None) -> ChangeSet:
    """Set (or with ``None`` remove) one face's label mask: an undoable change set."""
    return set_labels(store, {face_id: label}, text=text)


def set_labels(store: ProjectStore, labels: Mapping[int, LabelMask | None], *, text: str | None = None) -> ChangeSet:
    """Set or remove the label masks of several faces in one transaction (one undo step).

    An empty :class:`LabelMask` is a valid keyframe ("no face pixels here", e.g. a face
    fully hidden by a hand); ``None`` removes the label and the face stops being one.
    """
    rows: list[RowChange] = []
    now = time.time()
    with store.transaction() as c:
        next_id = int(c.execute("SELECT coalesce(max(id), 0) + 1 FROM masks").fetchone()[0])
        for face_id, label in labels.items():
            if c.execute("SELECT 1 FROM faces WHERE id = ?", (face_id,)).fetchone() is None:
                raise MaskError(f"no face with id {face_id}")
            old = c.execute("SELECT * FROM masks WHERE face_id = ? AND kind = 'label'", (face_id,)).fetchone()
            if label is None:
                if old is not None:
                    rows.append(RowChange("masks", old["id"], {k: old[k] for k in old.keys() if k != "id"}, None))
                continue
            shapes = label.to_json()
            if old is None:
                values: dict[str, Any] = {"face_id": face_id, "kind": "label", "shapes": shapes, "raster": None,
                                          "face_type": None, "resolution": None, "model_id": None, "updated_at": now}
                rows.append(RowChange("masks", next_id, None, values))
                next_id += 1
            elif old["shapes"] != shapes:
                rows.append(RowChange("masks", old["id"], {"shapes": old["shapes"], "updated_at": old["updated_at"]},
                                      {"shapes": shapes, "updated_at": now}))
        n = len(rows)
        plural = "s" if n != 1 else ""
        changes = ChangeSet(tuple(rows), {}, text or f"Edit mask{plural} of {n} face{plural}")
        store.apply(changes)
    return changes


def keyframes(store: ProjectStore, face_ids: Iterable[int] | None = None) -> list[int]:
    """Ids of the faces that have a label mask (of ``face_ids``, default all), by id."""
    rows = [r[0] for r in store.connection.execute("SELECT face_id FROM masks WHERE kind = 'label' ORDER BY face_id")]
    if face_ids is None:
        return rows
    wanted = set(face_ids)
    return [i for i in rows if i in wanted]


# ---------------------------------------------------------------------- predictions
@dataclass(frozen=True, eq=False)
class PredictedMask:
    """A model's mask of one face, in the crop :func:`crop_matrix` gives for
    ``(face_type, resolution)``."""

    face_id: int
    model_id: int
    face_type: str
    resolution: int
    mask: Mask
    updated_at: float


def put_predictions(
    store: ProjectStore,
    model_id: int,
    masks: Iterable[tuple[int, bytes]],
    *,
    face_type: str,
    resolution: int,
) -> ChangeSet:
    """Store ``(face_id, png)`` predictions of a model, replacing its older ones (bulk)."""
    now = time.time()
    items = [(fid, png) for fid, png in masks]
    if not items:
        return ChangeSet()
    with store.transaction() as c:
        c.executemany(
            "INSERT INTO masks (face_id, kind, raster, face_type, resolution, model_id, updated_at) "
            "VALUES (?, 'predicted', ?, ?, ?, ?, ?) "
            "ON CONFLICT (face_id, model_id) WHERE kind = 'predicted' DO UPDATE SET "
            "raster = excluded.raster, face_type = excluded.face_type, resolution = excluded.resolution, "
            "updated_at = excluded.updated_at",
            [(fid, png, face_type, resolution, model_id, now) for fid, png in items],
        )
        ids = _prediction_ids(store, model_id, [fid for fid, _ in items])
    return ChangeSet.bulk("masks", ids, label="Apply XSeg")


def _prediction_ids(store: ProjectStore, model_id: int, face_ids: Sequence[int]) -> list[int]:
    out: list[int] = []
    for i in range(0, len(face_ids), _CHUNK):
        part = list(face_ids[i:i + _CHUNK])
        out += [r[0] for r in store.connection.execute(
            "SELECT id FROM masks WHERE kind = 'predicted' AND model_id = ? "
            f"AND face_id IN ({', '.join('?' * len(part))})",
            [model_id, *part])]
    return out


def get_prediction(store: ProjectStore, face_id: int, model_id: int | None = None) -> PredictedMask | None:
    """A face's predicted mask by ``model_id``, or the most recent one of any model."""
    sql = "SELECT * FROM masks WHERE face_id = ? AND kind = 'predicted'"
    params: list[Any] = [face_id]
    if model_id is not None:
        sql += " AND model_id = ?"
        params.append(model_id)
    row = store.connection.execute(sql + " ORDER BY updated_at DESC, id DESC LIMIT 1", params).fetchone()
    if row is None:
        return None
    return PredictedMask(row["face_id"], row["model_id"], row["face_type"], row["resolution"],
                         decode_png(row["raster"]), row["updated_at"])


def prediction_counts(store: ProjectStore) -> dict[int, int]:
    """model id -> number of faces it has a predicted mask for."""
    rows = store.query("SELECT model_id, count(*) FROM masks WHERE kind = 'predicted' GROUP BY model_id")
    return {r[0]: r[1] for r in rows}


def delete_predictions(store: ProjectStore, model_id: int, face_ids: Iterable[int] | None = None) -> ChangeSet:
    """Remove a model's predictions (all, or of some faces); a bulk change set."""
    with store.transaction() as c:
        if face_ids is None:
            ids = [r[0] for r in c.execute(
                "SELECT id FROM masks WHERE kind = 'predicted' AND model_id = ?", (model_id,))]
        else:
            ids = _prediction_ids(store, model_id, list(face_ids))
        c.executemany("DELETE FROM masks WHERE id = ?", [(i,) for i in ids])
    return ChangeSet.bulk("masks", ids, label="Remove XSeg masks")


# ---------------------------------------------------------------------- models
def create_model(store: ProjectStore, *, name: str, arch: str, face_type: str, resolution: int,
                 config: Mapping[str, Any]) -> tuple[Model, ChangeSet]:
    """Add an XSeg model row; its files live in ``models/<id>/``."""
    import json

    now = time.time()
    with store.transaction() as c:
        model_id = int(c.execute("SELECT coalesce(max(id), 0) + 1 FROM models").fetchone()[0])
        c.execute("INSERT INTO models (id, kind, name, arch, face_type, resolution, config, iteration, path, "
                  "created_at, updated_at) VALUES (?, 'xseg', ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                  (model_id, name, arch, face_type, resolution, json.dumps(dict(config)), f"models/{model_id}",
                   now, now))
    return store.model(model_id), ChangeSet.bulk("models", [model_id], label=f"New XSeg model {name}")


def set_model_iteration(store: ProjectStore, model_id: int, iteration: int) -> None:
    with store.transaction() as c:
        c.execute("UPDATE models SET iteration = ?, updated_at = ? WHERE id = ?", (iteration, time.time(), model_id))


def xseg_model(store: ProjectStore, model_id: int | None = None) -> Model:
    """An XSeg model by id, or the most recently trained one."""
    if model_id is not None:
        model = store.model(model_id)
        if model.kind != "xseg":
            raise MaskError(f"model {model_id} is a {model.kind} model, not an XSeg model")
        return model
    models = store.models("xseg")
    if not models:
        raise MaskError(f"{store.root}: the project has no XSeg model yet; train one with 'facesmith xseg train'")
    return max(models, key=lambda m: (m.updated_at, m.id))
