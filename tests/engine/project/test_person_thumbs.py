"""person_thumbnail: the crop of a person's best face (sharp, near frontal, in the training set)."""

from __future__ import annotations

from pathlib import Path

from engine.project.person_thumbs import best_faces, load_thumbnail, person_thumbnail, person_thumbnails
from engine.project.store import ProjectStore


def test_every_person_gets_the_crop_of_their_best_face(extracted_copy: Path) -> None:
    with ProjectStore.open(extracted_copy) as store:
        persons = store.persons()
        assert persons
        thumbs = person_thumbnails(store)
        assert set(thumbs) == {p.id for p in persons}
        for p in persons:
            path = person_thumbnail(store, p.id)
            assert path == thumbs[p.id] and path.is_file() and path.parent.parent.name == "faces"
            best_id = best_faces(store, p.id, 1)[0][0]
            best = store.face(best_id)
            others = [f for f in store.faces() if f.person_id == p.id and not f.excluded
                      and f.yaw is not None and abs(f.yaw) < 25]
            assert best.sharpness == max(f.sharpness for f in others)
            assert load_thumbnail(path, 48).shape == (48, 48, 3)
        # the best crop deleted: the next best stands in; no faces at all: None
        pid = persons[0].id
        first = person_thumbnail(store, pid)
        first.unlink()
        second = person_thumbnail(store, pid)
        assert second is not None and second != first
        store.connection.execute("UPDATE faces SET person_id = NULL WHERE person_id = ?", (pid,))
        assert person_thumbnail(store, pid) is None
