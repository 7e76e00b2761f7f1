"""Top-level windows of the X11 desktop (python-xlib + EWMH), and the privacy mask built on them.

:class:`X11WindowInspector` lists the windows a person sees, bottom to top. With a window manager it reads
``_NET_CLIENT_LIST_STACKING`` and measures each client with its frame (``_NET_FRAME_EXTENTS``), because
the title bar shows the title too; without one it falls back to the root window's mapped children.

:meth:`X11WindowInspector.focused_window` says where keys go (the keyboard deny-list and secret bindings).

:class:`WindowMask` blacks out, in a captured frame, every window whose title or a WM_CLASS part matches a
deny-list regex (``SafetyConfig.deny_windows``, with the one matcher of ``agent/window_rules.py``), every
window of Omnidesk itself (by ``_NET_WM_PID``) and the areas where secrets were typed
(:class:`~omnidesk.agent.keyguard.SecretRedactions`), where that window is visible: windows painted above,
in stacking order, keep their pixels.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from omnidesk.agent.errors import CaptureError
from omnidesk.agent.geometry import Rect
from omnidesk.agent.keyguard import SecretRedactions
from omnidesk.agent.ports import WindowInfo, WindowInspector
from omnidesk.agent.window_rules import WindowMatcher
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

    def focused_window(self) -> WindowInfo | None:
        """The top-level window that receives keys now (see :meth:`_focused`)."""
        from Xlib import error as xerror

        with self._lock:
            try:
                return self._focused()
            except (xerror.ConnectionClosedError, OSError) as exc:
                self._conn = None
                raise CaptureError(
                    f"lost the connection to the X server while asking which window has focus: {exc}"
                ) from exc
            except (xerror.BadWindow, xerror.BadDrawable, xerror.BadMatch):
                return None  # the focused window went away while we looked at it: keys go nowhere known

    def _focused(self) -> WindowInfo | None:
        """XTest keys go where the X input focus is, so that is read first (XGetInputFocus); a focus on
        ``PointerRoot`` sends keys to the window under the pointer. The focus window is walked up to its
        ICCCM client (the window with ``WM_STATE``); when it sits on no client (a frame, the window manager's
        own window), the window manager's ``_NET_ACTIVE_WINDOW`` names it; without a window manager the
        top-level window is the client."""
        from Xlib import X

        conn = self._connection()
        root = conn.screen().root
        focus = conn.get_input_focus().focus
        if focus == X.NONE:
            return None
        if focus == X.PointerRoot:
            focus = root.query_pointer().child
            if focus == X.NONE:
                return None
        client, top = self._client_of(focus, root)
        if client is None:
            client = self._active_window(root) or top
        if client is None:
            return None
        return self._info(client, root)

    def _client_of(self, window: Any, root: Any) -> tuple[Any, Any]:
        """(the client window holding ``window``, or None; the top-level window above it)."""
        wm_state = self._atom("WM_STATE")
        top = None
        current = window
        while current is not None and int(current.id) != int(root.id):
            if current.get_full_property(wm_state, 0) is not None:
                return current, current
            top = current
            current = current.query_tree().parent
        if top is not None:  # focus on a frame: its client is a child
            for child in top.query_tree().children:
                if child.get_full_property(wm_state, 0) is not None:
                    return child, top
        return None, top

    def _active_window(self, root: Any) -> Any:
        from Xlib import X

        prop = root.get_full_property(self._atom("_NET_ACTIVE_WINDOW"), X.AnyPropertyType)
        if prop is None or len(prop.value) == 0 or int(prop.value[0]) == X.NONE:
            return None
        return self._connection().create_resource_object("window", int(prop.value[0]))

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

        if managed:
            if self._is_hidden(window):
                return None
        elif window.get_attributes().map_state != _IS_VIEWABLE:
            return None
        return self._info(window, root)

    def _info(self, window: Any, root: Any) -> WindowInfo:
        from Xlib import X

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
            wm_class=tuple(str(part) for part in window.get_wm_class() or ()),
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
    redacted: Mapping[int, Sequence[Rect]] | None = None,
) -> npt.NDArray[np.bool_] | None:
    """Which pixels of ``area`` show a denied window, or a redacted part of a window, painting windows
    bottom to top (a window above keeps its pixels).

    ``redacted`` maps a window id to rectangles (virtual-desktop pixels) to black out within that window.
    Returns an ``area.height × area.width`` bool array, or ``None`` when nothing needs blacking out there.
    """
    redacted = redacted or {}
    mask: npt.NDArray[np.bool_] | None = None
    for info, deny in zip(windows, denied, strict=True):
        part = info.geometry.intersect(area)
        if part is None:
            continue
        hidden = [r for r in (rect.intersect(part) for rect in redacted.get(info.window_id, ())) if r is not None]
        if mask is None:
            if not deny and not hidden:
                continue
            mask = np.zeros((area.height, area.width), dtype=np.bool_)
        y0, x0 = part.y - area.y, part.x - area.x
        mask[y0 : y0 + part.height, x0 : x0 + part.width] = deny
        for rect in hidden:
            y0, x0 = rect.y - area.y, rect.x - area.x
            mask[y0 : y0 + rect.height, x0 : x0 + rect.width] = True
    if mask is None or not mask.any():
        return None
    return mask


class WindowMask:
    """Blacks out denied and own windows, and where secrets were typed, in captured pixels, before anything
    else sees them.

    ``patterns`` name windows as :class:`~omnidesk.agent.window_rules.WindowMatcher` does (the same matcher
    as the keyboard deny-list); ``own_pids`` are Omnidesk's processes; ``redactions`` are the secret areas
    (the agent adds to them). If the window list cannot be read the whole frame is
    blacked out and the error logged: failing open would leak what the deny-list protects.

    Raises:
        ConfigError: a pattern is not a valid regular expression.
    """

    def __init__(
        self,
        inspector: WindowInspector,
        patterns: Iterable[str],
        own_pids: Collection[int] = (),
        *,
        redactions: SecretRedactions | None = None,
    ) -> None:
        self._inspector = inspector
        self._matcher = WindowMatcher(patterns, own_pids=own_pids, what="window deny-list")
        self.redactions = redactions if redactions is not None else SecretRedactions()
        self._failing = False

    def close(self) -> None:
        """Close the inspector's X connection, if it has one."""
        close = getattr(self._inspector, "close", None)
        if callable(close):
            close()

    def is_denied(self, info: WindowInfo) -> bool:
        return self._matcher.matches(info)

    def apply(self, pixels: npt.NDArray[np.uint8], area: Rect) -> int:
        """Black out denied windows and secret areas in ``pixels`` (BGRA of ``area`` in the desktop) in place.

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
        mask = visible_deny_mask(windows, area, (self.is_denied(w) for w in windows), self.redactions.areas(windows))
        if mask is None:
            return 0
        pixels[mask, :3] = 0
        return int(np.count_nonzero(mask))
