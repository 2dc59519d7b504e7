"""Merge and render: swapped faces composited back into the dst frames.

Modules
-------
``settings``    MergeSettings: typed, versioned JSON; per-clip settings in the project
``masks``       mask sources multiplied; sub-pixel erode/dilate (signed distance) and
                feathering in a supersampled crop; motion-compensated temporal smoothing
``color``       rct (Lab), lct, mkl, idt, sot with statistics inside the mask only
``composite``   the per-face pipeline (mask, colour, sharpen) and the paste (scale,
                offset, seamless clone, opacity), several faces in order
``stability``   track-smoothed placements; the jitter measure
``predict``     FacePredictor: which faces, where, batched model calls, mask sources
``preview``     MergeEngine: one frame with given settings, cached for sliders
``patches``     16-bit RGBA face patches and their frame matrices (compositing apps)
``provenance``  the "made by Facesmith with a swap model" mark in every output
``encode``      H.264/H.265 in resumable parts, remux with the clip's audio, PNG writing
``sinks``       video, PNG sequence, RGBA patches + sidecar, each resumable from disk
``render``      the ``render`` job's body (decode -> predict -> merge -> write)
``cli``         ``facesmith render``

Importing this package is cheap; the model (torch) is loaded only when a merge runs.
"""

from engine.merge.settings import MergeSettings, MergeSettingsError, load_clip_settings, save_clip_settings

__all__ = ["MergeSettings", "MergeSettingsError", "load_clip_settings", "save_clip_settings"]
