"""Is there an X11 display Omnidesk can capture and drive? One check, used by capture and ``doctor``.

Capture (mss) and input injection (XTest) need an X11 session. Under Wayland, even with ``DISPLAY`` set
by XWayland, they see only X clients, never the native Wayland windows, so a Wayland session is refused
outright rather than producing black or partial screenshots.
"""

from __future__ import annotations

import gc
import logging
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

from omnidesk.agent.errors import NoDisplayError, WaylandSessionError

if TYPE_CHECKING:
    from Xlib.display import Display

__all__ = ["open_x_display", "require_x11"]

log = logging.getLogger(__name__)


def require_x11(environ: Mapping[str, str]) -> str:
    """Return the X11 display name from ``environ``, or raise why Omnidesk cannot use the screen.

    Raises:
        WaylandSessionError: ``XDG_SESSION_TYPE`` is ``wayland`` or ``WAYLAND_DISPLAY`` is set (checked
            first: XWayland sets ``DISPLAY`` too, but cannot see Wayland windows).
        NoDisplayError: ``DISPLAY`` is unset or empty.
    """
    session = environ.get("XDG_SESSION_TYPE", "").strip().lower()
    if session == "wayland" or environ.get("WAYLAND_DISPLAY", "").strip():
        raise WaylandSessionError(
            "this is a Wayland session; Omnidesk captures the screen and sends input through X11. "
            'Log in with an X11 session ("GNOME on Xorg" / "Plasma (X11)" on the login screen) '
            "and start Omnidesk again"
        )
    display = environ.get("DISPLAY", "").strip()
    if not display:
        raise NoDisplayError(
            "no X11 display: DISPLAY is not set. Run Omnidesk inside your desktop session, or point "
            "DISPLAY at a running X server (e.g. DISPLAY=:0)"
        )
    return display


def open_x_display(display: str | None = None) -> Display:
    """Open a python-xlib connection to ``display``, translating failures into :class:`NoDisplayError`."""
    from Xlib import display as xdisplay
    from Xlib import error as xerror

    try:
        return xdisplay.Display(display)
    except (xerror.DisplayError, xerror.XauthError, xerror.ConnectionClosedError, OSError) as exc:
        error = NoDisplayError(
            f"cannot connect to the X display {display or '(from DISPLAY)'}: {exc}. Check that the X "
            "server is running and that this user may connect to it (xhost / XAUTHORITY)"
        )
        # python-xlib leaves the sockets of a failed connection open in its frames: drop them quietly
        # here rather than as ResourceWarnings wherever they would be collected later.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            link: BaseException | None = exc
            while link is not None:
                link.__traceback__ = None
                link = link.__context__
            gc.collect()
        cause = exc
    raise error from cause
