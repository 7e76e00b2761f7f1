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
import sys
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

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

    from omnidesk.runtime.xcb_events import XcbEvents

__all__ = [
    "WindowMask",
    "WindowView",
    "WindowViews",
    "X11WindowInspector",
    "visible_deny_mask",
    "visible_deny_rects",
]

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
        from Xlib import error as xerror

        conn = self._connection()
        root = conn.screen().root
        stacking = self._client_list(root)
        managed = stacking is not None
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

    def _client_list(self, root: Any) -> Any:
        """``_NET_CLIENT_LIST_STACKING`` while a window manager runs, else ``None`` (a window manager that
        exited leaves its last list on the root: EWMH's ``_NET_SUPPORTING_WM_CHECK`` window tells)."""
        from Xlib import X
        from Xlib import error as xerror

        stacking = root.get_full_property(self._atom("_NET_CLIENT_LIST_STACKING"), X.AnyPropertyType)
        if stacking is None or len(stacking.value) == 0:
            return None
        check_atom = self._atom("_NET_SUPPORTING_WM_CHECK")
        check = root.get_full_property(check_atom, X.AnyPropertyType)
        if check is None or len(check.value) == 0:
            return stacking  # a window manager that does not say so; trust its list
        child = self._connection().create_resource_object("window", int(check.value[0]))
        try:
            mine = child.get_full_property(check_atom, X.AnyPropertyType)
        except (xerror.BadWindow, xerror.BadDrawable, xerror.BadMatch):
            return None
        return stacking if mine is not None and len(mine.value) and int(mine.value[0]) == int(child.id) else None

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


@dataclass(frozen=True, slots=True)
class WindowView:
    """The window list as it stood when a frame was grabbed (what :class:`WindowMask` needs per frame).

    ``windows`` are the visible top-level windows, topmost last. When windows changed around the grab the
    frame may show them as they were before, in between or after: ``passed`` holds those other states
    (masked whole where denied, windows above not trusted), ``unknown`` the rectangles of windows that
    could not be identified (always masked), and ``whole`` says nothing certain is known (mask everything).
    """

    windows: tuple[WindowInfo, ...]
    passed: tuple[WindowInfo, ...] = ()
    unknown: tuple[Rect, ...] = ()
    whole: bool = False


@runtime_checkable
class WindowViews(Protocol):
    """A window source that can say what the screen showed at a grab (``runtime/window_watch.py``)."""

    def prepare(self) -> None:
        """Called before a grab: have a window list that is exact from now on, until events say otherwise."""
        ...

    def view(self) -> WindowView:
        """Called after a grab: the windows the grabbed pixels can show."""
        ...


def _subtract(rects: Iterable[Rect], cut: Rect) -> list[Rect]:
    """``rects`` minus ``cut``, as disjoint rectangles (each split into at most four bands)."""
    out: list[Rect] = []
    for rect in rects:
        hit = rect.intersect(cut)
        if hit is None:
            out.append(rect)
            continue
        if hit.y > rect.y:
            out.append(Rect(rect.x, rect.y, rect.width, hit.y - rect.y))
        if hit.bottom < rect.bottom:
            out.append(Rect(rect.x, hit.bottom, rect.width, rect.bottom - hit.bottom))
        if hit.x > rect.x:
            out.append(Rect(rect.x, hit.y, hit.x - rect.x, hit.height))
        if hit.right < rect.right:
            out.append(Rect(hit.right, hit.y, rect.right - hit.right, hit.height))
    return out


def _add(region: list[Rect], rect: Rect) -> None:
    """Add ``rect`` to a region of disjoint rectangles, keeping them disjoint."""
    pieces = [rect]
    for have in region:
        pieces = _subtract(pieces, have)
        if not pieces:
            return
    region.extend(pieces)


def visible_deny_rects(
    windows: Sequence[WindowInfo],
    area: Rect,
    denied: Iterable[bool],
    redacted: Mapping[int, Sequence[Rect]] | None = None,
) -> list[Rect]:
    """The parts of ``area`` that show a denied window or a redacted part of a window, as disjoint
    rectangles, painting windows bottom to top (a window above keeps its pixels).

    ``redacted`` maps a window id to rectangles (virtual-desktop pixels) to black out within that window.
    Rectangles, not a per-pixel mask, because blacking out a few slices of a frame costs almost nothing.
    """
    redacted = redacted or {}
    region: list[Rect] = []
    for info, deny in zip(windows, denied, strict=True):
        part = info.geometry.intersect(area)
        if part is None:
            continue
        region = _subtract(region, part)  # this window paints over whatever was below it
        if deny:
            region.append(part)
            continue
        for rect in redacted.get(info.window_id, ()):
            hidden = rect.intersect(part)
            if hidden is not None:
                _add(region, hidden)
    return region


def visible_deny_mask(
    windows: Sequence[WindowInfo],
    area: Rect,
    denied: Iterable[bool],
    redacted: Mapping[int, Sequence[Rect]] | None = None,
) -> npt.NDArray[np.bool_] | None:
    """:func:`visible_deny_rects` as an ``area.height × area.width`` bool array, or ``None`` when nothing
    needs blacking out there."""
    rects = visible_deny_rects(windows, area, denied, redacted)
    if not rects:
        return None
    mask = np.zeros((area.height, area.width), dtype=np.bool_)
    for rect in rects:
        mask[rect.y - area.y : rect.bottom - area.y, rect.x - area.x : rect.right - area.x] = True
    return mask


class WindowMask:
    """Blacks out denied and own windows, and where secrets were typed, in captured pixels, before anything
    else sees them.

    ``inspector`` is a plain window list (read at every frame) or, better, a :class:`WindowViews` source
    (``WindowWatcher``: the list kept fresh from X events, so an unchanged desktop costs nothing per
    frame). ``patterns`` name windows as :class:`~omnidesk.agent.window_rules.WindowMatcher` does (the same
    matcher as the keyboard deny-list); ``own_pids`` are Omnidesk's processes; ``redactions`` are the
    secret areas (the agent adds to them). If the window list cannot be read the whole frame is blacked
    out and the error logged: failing open would leak what the deny-list protects.

    Raises:
        ConfigError: a pattern is not a valid regular expression.
    """

    def __init__(
        self,
        inspector: WindowInspector | WindowViews,
        patterns: Iterable[str],
        own_pids: Collection[int] = (),
        *,
        redactions: SecretRedactions | None = None,
    ) -> None:
        self._inspector = inspector
        self._views = inspector if isinstance(inspector, WindowViews) else None  # checked once: it is slow
        self._matcher = WindowMatcher(patterns, own_pids=own_pids, what="window deny-list")
        self.redactions = redactions if redactions is not None else SecretRedactions()
        self._failing = False
        self._cached: tuple[WindowView, Rect, int, list[Rect]] | None = None

    def close(self) -> None:
        """Close the inspector's X connection, if it has one."""
        close = getattr(self._inspector, "close", None)
        if callable(close):
            close()

    def grabbing_on(self, events: XcbEvents | None) -> None:
        """The calling thread grabs its frames on the connection ``events`` reads (``None``: it stopped);
        a window source that can read its events there (``WindowWatcher``) then needs no round trip."""
        grabbing_on = getattr(self._views, "grabbing_on", None)
        if callable(grabbing_on):
            grabbing_on(events)

    def is_denied(self, info: WindowInfo) -> bool:
        return self._matcher.matches(info)

    def prepare(self) -> None:
        """Call right before grabbing pixels (see :meth:`WindowViews.prepare`); errors surface in :meth:`apply`."""
        if self._views is not None:
            try:
                self._views.prepare()
            except Exception:  # apply() reads the list again and fails closed
                log.debug("preparing the window list failed; the frame's mask will tell", exc_info=True)

    def apply(self, pixels: npt.NDArray[np.uint8], area: Rect) -> int:
        """Black out denied windows and secret areas in ``pixels`` (BGRA of ``area`` in the desktop) in place.

        Returns the number of pixels blacked out.
        """
        try:
            views = self._views
            view = views.view() if views is not None else WindowView(tuple(self._inspector.windows()))  # type: ignore[union-attr]
        except Exception:
            if not self._failing:  # once per outage, not once per frame
                log.exception("cannot list windows; blacking out whole frames to keep denied windows private")
            self._failing = True
            return _black_all(pixels)
        if self._failing:
            log.info("the window list is back; masking only denied windows again")
            self._failing = False
        if view.whole:
            log.debug("a window came and went unidentified around this grab; the frame is blacked out")
            return _black_all(pixels)
        rects = self._rects(view, area)
        words = _words(pixels)
        for rect in rects:
            rows, cols = slice(rect.y - area.y, rect.bottom - area.y), slice(rect.x - area.x, rect.right - area.x)
            if words is None:
                pixels[rows, cols, :3] = 0
            else:
                _black_out(words[rows, cols])
        return sum(rect.area for rect in rects)

    def _rects(self, view: WindowView, area: Rect) -> list[Rect]:
        """The rectangles to black out; the same view, area and secrets give the same answer (cached)."""
        version = len(self.redactions)
        cached = self._cached
        if cached is not None and cached[0] is view and cached[1] == area and cached[2] == version:
            return cached[3]
        windows = view.windows
        rects = visible_deny_rects(windows, area, (self.is_denied(w) for w in windows), self.redactions.areas(windows))
        extra = [w.geometry for w in view.passed if self.is_denied(w)]
        extra += [r for rects_ in self.redactions.areas(view.passed).values() for r in rects_]
        for rect in (*extra, *view.unknown):
            part = rect.intersect(area)
            if part is not None:
                _add(rects, part)
        self._cached = (view, area, version, rects)
        return rects


def _words(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint32] | None:
    """BGRA pixels as one little-endian word each, so blacking out keeps alpha with one AND per pixel (about
    ten times faster than writing three bytes of every four); ``None`` where the layout does not allow it."""
    if pixels.ndim != 3 or pixels.shape[2] != 4 or not pixels.flags.c_contiguous or sys.byteorder != "little":
        return None
    return pixels.view(np.uint32).reshape(pixels.shape[:2])


_ALPHA = np.uint32(0xFF000000)
_ALPHA_SIGNED = -0x1000000  # the same bits as a signed 32-bit word


def _black_out(part: npt.NDArray[np.uint32]) -> None:
    """Keep only the alpha byte of every word of ``part``, a rectangle cut out of a frame (rows apart).

    OpenCV ANDs such a cut-out about three times faster than numpy, whose loop over a strided 2-D view
    is not the vectorised one it uses for contiguous data; the words are read as signed (OpenCV has no
    unsigned 32-bit type), which leaves the bits as they are. Should OpenCV ever answer with a new array
    instead of writing into ``part``, numpy does it: the pixels are blacked out either way."""
    import cv2

    signed = part.view(np.int32)
    if cv2.bitwise_and(signed, _ALPHA_SIGNED, dst=signed) is not signed:  # type: ignore[call-overload]  # a scalar, as OpenCV takes it
        np.bitwise_and(part, _ALPHA, out=part)


def _black_all(pixels: npt.NDArray[np.uint8]) -> int:
    words = _words(pixels)
    if words is None:
        pixels[:, :, :3] = 0
    else:
        np.bitwise_and(words, _ALPHA, out=words)
    return int(pixels.shape[0] * pixels.shape[1])
