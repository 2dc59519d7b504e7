"""``python -m engine ...``: the same commands as ``facesmith`` (the editor starts
``python -m engine worker --project P``)."""

import sys

from engine.cli import main

sys.exit(main())
