"""Face extraction: a project's clips turned into faces, tracks and persons in its database.

Modules
-------
``params``    :class:`ExtractParams`, checked when a job is queued (light to import)
``pool``      the analysis worker processes and the per-face measurement
``scan``      decode -> analyze -> store, batch by batch, resumable
``tracks``    linking, landmark smoothing and embedding samples per track
``persons``   track means -> persons across the project; the reference filter
``pipeline``  :func:`run_extraction`, the phases in order
``rederive``  :func:`rederive_face` after a landmark edit; :func:`restore_crops`
``cli``       ``facesmith extract``

The package ``__init__`` imports nothing heavy: worker processes import
``engine.extract.pool`` and should not pay for the rest.
"""
