"""The checkpoint folder's layout and completeness test, without torch.

:mod:`engine.swap.checkpoint` (which needs torch to save and load) and the editor's
checkpoint list (:mod:`engine.swap.restore`, polled every few seconds, where importing
torch would cost a second of the editor's start) share these definitions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

WEIGHTS: Final = "model.safetensors"
STATE: Final = "state.json"
OPTIMIZER: Final = "optimizer.pt"
LATEST: Final = "latest"
BACKUPS: Final = "backups"
FORMAT: Final = "facesmith-checkpoint"


def module_file(name: str) -> str:
    """The file of an extra named part's weights."""
    return f"{name}.safetensors"


def optimizer_file(name: str) -> str:
    """The file of an extra named part's optimizer state."""
    return f"optimizer-{name}.pt"


def read_complete_state(d: Path) -> dict[str, Any] | None:
    """The state of a *complete* checkpoint folder, else None.

    Complete means: ``state.json`` (written last) parses, carries our format mark, and the
    weights file has the size the state recorded.
    """
    try:
        state = json.loads((d / STATE).read_text(encoding="utf-8"))
        if state.get("format") != FORMAT:
            return None
        if (d / WEIGHTS).stat().st_size != state["files"][WEIGHTS]:
            return None
        return state
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
