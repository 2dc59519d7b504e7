"""Why the editor cannot start, in words a user can act on.

Qt's xcb platform plugin needs a handful of X11 libraries that minimal Linux installs
lack; without them Qt aborts with a cryptic "could not load the Qt platform plugin".
We look for them first and name the Debian packages to install.
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from typing import Final

#: library soname stem -> Debian package that provides it
XCB_LIBS: Final = {
    "xcb-cursor": "libxcb-cursor0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-image": "libxcb-image0",
    "xcb-keysyms": "libxcb-keysyms1",
    "xcb-randr": "libxcb-randr0",
    "xcb-render-util": "libxcb-render-util0",
    "xcb-shape": "libxcb-shape0",
    "xcb-xinerama": "libxcb-xinerama0",
    "xcb-xkb": "libxcb-xkb1",
    "xkbcommon-x11": "libxkbcommon-x11-0",
    "EGL": "libegl1",
    "GL": "libgl1",
}


def missing_packages() -> list[str]:
    """Debian packages whose libraries the xcb platform needs and cannot be found."""
    return [pkg for lib, pkg in XCB_LIBS.items() if ctypes.util.find_library(lib) is None]


def check_display() -> str | None:
    """A message saying what is missing for a window on screen, or None when all is there."""
    if not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return None  # offscreen, wayland, ...: Qt knows what it is doing
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return ("no display: DISPLAY is not set. Run the editor on a desktop, under Xvfb "
                "(xvfb-run make run), or build the demo without a window: facesmith demo --headless")
    missing = missing_packages()
    if missing:
        return ("Qt's X11 platform needs libraries that are missing: "
                + ", ".join(missing) + ".\nInstall them with:\n  sudo apt-get install " + " ".join(missing))
    return None
