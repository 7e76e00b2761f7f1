"""The X11 session check used by capture and `doctor`."""

from __future__ import annotations

import pytest

from omnidesk.agent.errors import NoDisplayError, WaylandSessionError
from omnidesk.runtime.display import open_x_display, require_x11


def test_x11_session_returns_the_display() -> None:
    assert require_x11({"DISPLAY": ":7", "XDG_SESSION_TYPE": "x11"}) == ":7"


def test_no_display_says_what_to_do() -> None:
    with pytest.raises(NoDisplayError, match="DISPLAY"):
        require_x11({})
    with pytest.raises(NoDisplayError):
        require_x11({"DISPLAY": "  "})


@pytest.mark.parametrize(
    "environ",
    [
        {"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"},
        {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"},
        {"XDG_SESSION_TYPE": "Wayland"},
    ],
)
def test_wayland_is_refused_even_with_xwayland_display(environ: dict[str, str]) -> None:
    with pytest.raises(WaylandSessionError, match="X11"):
        require_x11(environ)


def test_unreachable_display_is_a_no_display_error(tmp_path: object) -> None:
    # Display 999 has no socket: python-xlib fails to connect.
    with pytest.raises(NoDisplayError, match=":999"):
        open_x_display(":999")


@pytest.mark.desktop
def test_reachable_display_opens(x_display: object) -> None:
    conn = open_x_display(None)
    try:
        assert conn.screen().width_in_pixels == 1920
    finally:
        conn.close()
