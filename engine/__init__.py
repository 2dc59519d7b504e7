"""Facesmith engine: the Qt-free domain (project store, media, faces, models, jobs, CLI).

Nothing in this package may import Qt, pyqtgraph, ``app`` or ``widgets``; the import-linter
contracts in ``pyproject.toml`` enforce it and the test suite runs them.
"""

__version__ = "0.1.0"
