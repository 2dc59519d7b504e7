"""Re-deriving a face after a landmark edit; undo; re-creating crops from rows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from engine.errors import FacesmithError
from engine.extract.rederive import rederive_face, restore_crops
from engine.faces.align import alignment_matrix
from engine.media import FrameReader
from engine.project.store import ProjectStore

if TYPE_CHECKING:
    from conftest import ExtractedProject


def test_same_landmarks_give_back_the_extracted_row(extracted_copy: Path, extracted_project: ExtractedProject) -> None:
    with ProjectStore.open(extracted_copy) as store:
        face = store.faces(clip_id=extracted_project.clips["sbwe5n"])[33]
        crop = (store.root / face.crop_path).read_bytes()
        changes = rederive_face(store, face.id, face.landmarks)
        assert changes.empty  # extraction and re-derivation measure a face identically
        assert (store.root / face.crop_path).read_bytes() == crop


def test_edit_rederives_and_undo_restores(extracted_copy: Path, extracted_project: ExtractedProject) -> None:
    with ProjectStore.open(extracted_copy) as store:
        face = store.faces(clip_id=extracted_project.clips["bbaf2n"])[12]
        before = store.row("faces", face.id)
        crop = (store.root / face.crop_path).read_bytes()
        moved = face.landmarks.copy()
        moved[[55, 56, 57, 58, 59, 65, 66, 67]] += (0.0, 6.0)  # the lower lip dragged down
        moved[:, 0] += 3.0
        clip = store.clip(face.clip_id)
        with FrameReader(clip.path) as reader:
            changes = rederive_face(store, face.id, moved, reader=reader)
        assert changes.undoable and changes.label == f"Edit landmarks of face {face.id}"
        after = store.face(face.id)
        assert np.allclose(after.landmarks, moved)
        assert np.allclose(after.alignment, alignment_matrix(moved, "whole", 256))
        assert after.mouth_open > face.mouth_open and after.sharpness != face.sharpness
        assert after.box == face.box and after.score == face.score  # the detection stays
        assert (store.root / face.crop_path).read_bytes() != crop

        store.apply(changes.inverse())
        assert store.row("faces", face.id) == before
        assert restore_crops(store, [face.id]) == 1
        assert (store.root / face.crop_path).read_bytes() == crop  # the cache re-created exactly


def test_rederive_needs_the_clip_file(extracted_copy: Path, extracted_project: ExtractedProject, tmp_path: Path) -> None:
    with ProjectStore.open(extracted_copy) as store:
        clip = store.clip(extracted_project.clips["lbax4n"])
        store.update_rows("clips", {clip.id: {"path": str(tmp_path / "moved.mpg")}})
        face = store.faces(clip_id=clip.id)[0]
        with pytest.raises(FacesmithError, match="clip 'lbax4n': its file is missing.*relink"):
            rederive_face(store, face.id, face.landmarks)
        assert store.face(face.id).landmarks.tobytes() == face.landmarks.tobytes()
