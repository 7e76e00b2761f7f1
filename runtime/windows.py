"""Top-level windows of the X11 desktop (python-xlib + EWMH), and the privacy mask built on them.

:class:`X11WindowInspector` lists the windows a person sees, bottom to top. With a window manager it reads
``_NET_CLIENT_LIST_STACKING`` and measures each client with its frame (``_NET_FRAME_EXTENTS``), because
the title bar shows the title too; without one it falls back to the root window's mapped children.

:class:`WindowMask` blacks out, in a captured frame, every window whose title or class matches a deny-list
regex (``SafetyConfig.deny_windows``) and every window of Omnidesk itself (by ``_NET_WM_PID``), where that
window is visible: windows painted above a denied window, in stacking order, keep their pixels.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from omnidesk.agent.errors import CaptureError
from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import WindowInfo, WindowInspector
from omnidesk.runtime.display import open_x_display

if TYPE_CHECKING:
    from Xlib.display import Display

__all__ = ["WindowMask", "X11WindowInspector", "visible_deny_mask"]

log = logging.getLogger(__name__)

_IS_VIEWABLE = 2  # Xlib.X.IsViewable


class X11WindowInspector:
    """The WindowInspector port over one private X connection (guarded by a lock: Xlib is not thread-safe).

    ``geometry`` of a :class:`WindowInfo` is the window's outer rectangle in the virtual desktop, frame
    decorations included.
    """

    def __init__(self, display: str | None = None) -> None:
        self._display_name = display
        self._conn: Display | None = None
        self._lock = threading.Lock()
        self._atoms: dict[str, int] = {}

    def _connection(self) -> Display:
        if self._conn is None:
            self._conn = open_x_display(self._display_name)
        return self._conn

    def _atom(self, name: str) -> int:
        if name not in self._atoms:
            self._atoms[name] = int(self._connection().intern_atom(name))
        return self._atoms[name]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def windows(self) -> list[WindowInfo]:
        """Visible top-level windows, topmost last."""
        from Xlib import error as xerror

        with self._lock:
            try:
                return self._windows()
            except (xerror.ConnectionClosedError, OSError) as exc:
                self._conn = None
                raise CaptureError(
                    f"lost the connection to the X server while listing windows: {exc}; is it still running?"
                ) from exc

    def window_at(self, x: int, y: int) -> WindowInfo | None:
        """The topmost window under a virtual-desktop point."""
        for info in reversed(self.windows()):
            if info.geometry.contains(x, y):
                return info
        return None

    def _windows(self) -> list[WindowInfo]:
        from Xlib import X
        from Xlib import error as xerror

        conn = self._connection()
        root = conn.screen().root
        stacking = root.get_full_property(self._atom("_NET_CLIENT_LIST_STACKING"), X.AnyPropertyType)
        managed = stacking is not None and len(stacking.value) > 0
        if managed:
            candidates = [conn.create_resource_object("window", int(w)) for w in stacking.value]
        else:
            candidates = list(root.query_tree().children)
        found: list[WindowInfo] = []
        for window in candidates:
            try:
                info = self._describe(window, root, managed)
            except (xerror.BadWindow, xerror.BadDrawable, xerror.BadMatch):
                continue  # the window went away while we looked at it
            if info is not None:
                found.append(info)
        return found

    def _describe(self, window: Any, root: Any, managed: bool) -> WindowInfo | None:
        from Xlib import X

        if managed:
            if self._is_hidden(window):
                return None
        elif window.get_attributes().map_state != _IS_VIEWABLE:
            return None
        geom = window.get_geometry()
        origin = window.translate_coords(root, 0, 0)
        x, y = -int(origin.x), -int(origin.y)
        width, height = int(geom.width), int(geom.height)
        extents = window.get_full_property(self._atom("_NET_FRAME_EXTENTS"), X.AnyPropertyType)
        if extents is not None and len(extents.value) == 4:
            left, right, top, bottom = (int(v) for v in extents.value)
            x, y, width, height = x - left, y - top, width + left + right, height + top + bottom
        return WindowInfo(
            window_id=int(window.id),
            title=self._title(window),
            wm_class=" ".join(window.get_wm_class() or ()),
            geometry=Rect(x, y, max(width, 0), max(height, 0)),
            pid=self._pid(window),
        )

    def _is_hidden(self, window: Any) -> bool:
        from Xlib import X

        state = window.get_full_property(self._atom("_NET_WM_STATE"), X.AnyPropertyType)
        if state is not None and self._atom("_NET_WM_STATE_HIDDEN") in state.value:
            return True
        return bool(window.get_attributes().map_state != _IS_VIEWABLE)

    def _title(self, window: Any) -> str:
        prop = window.get_full_property(self._atom("_NET_WM_NAME"), self._atom("UTF8_STRING"))
        if prop is not None and prop.value:
            value = prop.value
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        name = window.get_wm_name()
        if isinstance(name, bytes):
            return name.decode("latin-1", "replace")
        return str(name or "")

    def _pid(self, window: Any) -> int | None:
        from Xlib import X

        prop = window.get_full_property(self._atom("_NET_WM_PID"), X.AnyPropertyType)
        if prop is None or len(prop.value) == 0:
            return None
        return int(prop.value[0])


def visible_deny_mask(
    windows: Sequence[WindowInfo],
    area: Rect,
    denied: Iterable[bool],
) -> npt.NDArray[np.bool_] | None:
    """Which pixels of ``area`` show a denied window, painting windows bottom to top.

    Returns an ``area.height × area.width`` bool array, or ``None`` when no denied window is visible there.
    """
    mask: npt.NDArray[np.bool_] | None = None
    for info, deny in zip(windows, denied, strict=True):
        part = info.geometry.intersect(area)
        if part is None:
            continue
        if mask is None:
            if not deny:
                continue
            mask = np.zeros((area.height, area.width), dtype=np.bool_)
        y0, x0 = part.y - area.y, part.x - area.x
        mask[y0 : y0 + part.height, x0 : x0 + part.width] = deny
    if mask is None or not mask.any():
        return None
    return mask


class WindowMask:
    """Blacks out denied and own windows in captured pixels, before anything else sees them.

    ``patterns`` are regular expressions searched (case-insensitively) in each window's title and
    WM_CLASS; ``own_pids`` are Omnidesk's processes. If the window list cannot be read the whole frame is
    blacked out and the error logged: failing open would leak what the deny-list protects.
    """

    def __init__(
        self,
        inspector: WindowInspector,
        patterns: Iterable[str],
        own_pids: Collection[int] = (),
    ) -> None:
        self._inspector = inspector
        self._patterns = [re.compile(p, re.IGNORECASE) for p in patterns]
        self._own_pids = frozenset(own_pids)
        self._failing = False

    def close(self) -> None:
        """Close the inspector's X connection, if it has one."""
        close = getattr(self._inspector, "close", None)
        if callable(close):
            close()

    def is_denied(self, info: WindowInfo) -> bool:
        if info.pid is not None and info.pid in self._own_pids:
            return True
        return any(p.search(info.title) or p.search(info.wm_class) for p in self._patterns)

    def apply(self, pixels: npt.NDArray[np.uint8], area: Rect) -> int:
        """Black out denied windows in ``pixels`` (BGRA of ``area`` in the desktop) in place.

        Returns the number of pixels blacked out.
        """
        try:
            windows = self._inspector.windows()
        except Exception:
            if not self._failing:  # once per outage, not once per frame
                log.exception("cannot list windows; blacking out whole frames to keep denied windows private")
            self._failing = True
            pixels[:, :, :3] = 0
            return int(pixels.shape[0] * pixels.shape[1])
        if self._failing:
            log.info("the window list is back; masking only denied windows again")
            self._failing = False
        mask = visible_deny_mask(windows, area, (self.is_denied(w) for w in windows))
        if mask is None:
            return 0
        pixels[mask, :3] = 0
        return int(np.count_nonzero(mask))
