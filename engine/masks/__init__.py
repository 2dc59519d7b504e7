"""Masks: label masks (keyframes), landmark hulls, propagation, and the XSeg network.

Qt-free like all of ``engine``; the editor's mask painter edits :class:`LabelMask` values
and saves them through :mod:`engine.masks.repo`.

Modules
-------
``shapes``        LabelMask / Shape: include/exclude polygons and strokes in frame px, JSON
``raster``        label masks into any crop (through its alignment) or the frame; crop <-> crop
``vectorize``     raster -> editable polygons within a point budget
``hull``          landmark hull (eyebrow expansion, forehead), eyes/mouth regions
``repo``          masks and XSeg model rows in the project: undoable labels, predictions
``propagate``     masks carried between keyframes of a track, with a confidence
``resolve``       face selection, hull seeding, ``best_mask`` (label > prediction > propagated > hull)
``crops``         crops of many faces at a model's face type and size (cache files or frames)
``xseg_net``      the U-Net and its config
``xseg_data``     keyframes as uint8 tensors, augmentation on the device
``xseg_trainer``  the store-free trainer (loss, steps, IoU, previews, checkpoints)
``xseg_train``    the ``train_xseg`` job's body
``xseg_apply``    predictor and the ``apply_xseg`` job's body
``cli``           ``facesmith xseg label-hull|train|apply|models``

Masks are uint8 images (0 outside, 255 inside, soft in between); crops follow
:func:`engine.masks.repo.crop_matrix`, the one definition of where a face's crop of a
face type and size lies.
"""

from engine.masks.shapes import LabelMask, MaskError, Shape

__all__ = ["LabelMask", "MaskError", "Shape"]
