"""The accessibility port over AT-SPI: applications, element trees with device-pixel boxes, and the focus
(also the safety policy's ``FieldInspector``: is the focused field a password field, and where is it).

:class:`AtspiAccessibility` connects on first use and never crashes a caller: :meth:`focus` answers
:class:`UnknownFocus` with the reason whenever the bus, an application or the time budget cannot tell;
the other calls raise :class:`AccessibilityError` saying what to do. After a failed connection it waits
``retry_seconds`` before trying again, so a desktop without the bus costs nothing per action.

Focus, cheaply: a watcher on the bus (the receiver thread of :class:`AtspiLink`) remembers the last
element that reported ``focused``; a read checks that it still is focused and that its top-level window
is the active one (Qt keeps the focus flag on a widget of a window in the background). Without a usable
event it scans: the applications' active top-level window, then a walk of what shows in it.

Boxes: toolkits report logical pixels. The scale is measured per application as the width of its X
window (from the window list, frame included) over the width the toolkit reports for that window,
snapped to a quarter when within 3 % (the frame border). Qt keeps each monitor's logical origin at its
device origin and scales from there; GTK 3 divides the whole desktop by its integer scale. Limits: an
application whose windows cannot be matched to X windows is assumed at 1.0; GTK 4 (through 4.8) reports
window-relative boxes, so its boxes are left out; per-monitor Qt scale factors are not measured.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from omnidesk.agent.errors import AccessibilityError, OmnideskError
from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import (
    AccessibilityStatus,
    AccessibleApp,
    AccessibleTree,
    Focus,
    FocusedElement,
    UnknownFocus,
    WindowInspector,
)
from omnidesk.runtime.atspi import (
    ACCESSIBLE,
    APPLICATION,
    NULL_PATH,
    REGISTRY,
    ROOT_PATH,
    AtspiLink,
    Reply,
    as_int,
    as_ref,
    as_refs,
    find_bus_address,
    read_is_enabled,
)
from omnidesk.runtime.atspi_tree import (
    Node,
    Ref,
    describe,
    freeze,
    logical_to_device,
    prop_call,
    read_texts,
    refs_or_none,
    snap_scale,
    states_of,
    text_of,
    variant,
)

__all__ = ["AtspiAccessibility"]

log = logging.getLogger(__name__)

ScaleSource = Literal["window", "assumed"]
_BUS_DRIVER = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")
_FOCUS_RULE = "type='signal',interface='org.a11y.atspi.Event.Object',member='StateChanged',arg0='focused'"
_WINDOW_ROLES = frozenset({"frame", "window", "dialog", "application", "alert", "file_chooser"})
_QT_ENV_HINT = "Qt applications join only when started with QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1 or accessibility on"


class AtspiAccessibility:
    """:class:`~omnidesk.agent.ports.AccessibilityPort` over the AT-SPI bus (see the module doc).

    ``environ`` locates the bus (``AT_SPI_BUS_ADDRESS``, ``DBUS_SESSION_BUS_ADDRESS``, ``DISPLAY``);
    ``windows`` and ``monitors`` measure each application's scale; ``focus_timeout`` bounds a focus read,
    ``call_timeout`` everything else.
    """

    def __init__(
        self,
        environ: Mapping[str, str],
        *,
        windows: WindowInspector | None = None,
        monitors: Callable[[], Sequence[Rect]] | None = None,
        focus_timeout: float = 0.4,
        call_timeout: float = 3.0,
        retry_seconds: float = 10.0,
    ) -> None:
        self._environ = dict(environ)
        self._windows = windows
        self._monitors = monitors
        self._focus_timeout = focus_timeout
        self._call_timeout = call_timeout
        self._retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._link: AtspiLink | None = None
        self._failure = ""
        self._failed_at = -float("inf")
        self._focus_lock = threading.Lock()
        self._last_focus: Ref | None = None
        self._apps: dict[str, AccessibleApp] = {}
        self._tops: dict[Ref, Ref] = {}
        self._scales: dict[str, tuple[float, ScaleSource]] = {}

    # --- the connection ------------------------------------------------------------------------------

    def _connection(self, deadline: float) -> AtspiLink:
        with self._lock:
            if self._link is not None and self._link.alive:
                return self._link
            if self._link is not None:
                self._drop_link("the accessibility bus went away")
            if time.monotonic() - self._failed_at < self._retry_seconds:
                raise AccessibilityError(self._failure)
            try:
                timeout = max(0.05, deadline - time.monotonic())
                link = AtspiLink(find_bus_address(self._environ, timeout), timeout=timeout, on_signal=self._on_signal)
                try:
                    self._subscribe(link, max(deadline, time.monotonic() + 0.2))
                except AccessibilityError:
                    link.close()
                    raise
            except AccessibilityError as exc:
                self._failure, self._failed_at = str(exc), time.monotonic()
                log.info("accessibility bus unavailable: %s", exc)
                raise
            self._link = link
            return link

    def _subscribe(self, link: AtspiLink, deadline: float) -> None:
        """Ask the bus for focus events; Qt sends them only once some client has registered for them."""
        link.call((*_BUS_DRIVER, "AddMatch", "s", (_FOCUS_RULE,)), deadline)
        register = (
            REGISTRY,
            "/org/a11y/atspi/registry",
            REGISTRY,
            "RegisterEvent",
            "s",
            ("object:state-changed:focused",),
        )
        link.call(register, deadline)

    def _drop_link(self, why: str) -> None:
        log.info("%s; reconnecting on the next call", why)
        if self._link is not None:
            self._link.close()
        self._link = None
        self._apps.clear()
        self._tops.clear()
        self._scales.clear()
        with self._focus_lock:
            self._last_focus = None

    def _on_signal(self, message: Any) -> None:
        from jeepney import HeaderFields

        fields = message.header.fields
        if fields.get(HeaderFields.member) != "StateChanged" or not message.body or message.body[0] != "focused":
            return
        ref = (str(fields.get(HeaderFields.sender, "")), str(fields.get(HeaderFields.path, "")))
        with self._focus_lock:
            if message.body[1] == 1:
                self._last_focus = ref
            elif self._last_focus == ref:
                self._last_focus = None

    def close(self) -> None:
        with self._lock:
            if self._link is not None:
                self._link.close()
                self._link = None

    # --- applications --------------------------------------------------------------------------------

    def _app(self, link: AtspiLink, bus: str, deadline: float) -> AccessibleApp:
        cached = self._apps.get(bus)
        if cached is not None:
            return cached
        root = (bus, ROOT_PATH)
        name, toolkit, version, pid = link.call_many(
            [
                prop_call(root, ACCESSIBLE, "Name"),
                prop_call(root, APPLICATION, "ToolkitName"),
                prop_call(root, APPLICATION, "Version"),
                (*_BUS_DRIVER, "GetConnectionUnixProcessID", "s", (bus,)),
            ],
            deadline,
        )
        if name.body is None:
            raise AccessibilityError(f"the application {bus} on the accessibility bus does not answer: {name.error}")
        app = AccessibleApp(
            name=text_of(name),
            pid=as_int(pid.body[0]) if pid.body is not None else None,
            toolkit=text_of(toolkit),
            toolkit_version=text_of(version),
            handle=bus,
        )
        if len(self._apps) > 256:
            self._apps.clear()
        self._apps[bus] = app
        return app

    def _app_buses(self, link: AtspiLink, deadline: float) -> list[str]:
        body = link.call((REGISTRY, ROOT_PATH, ACCESSIBLE, "GetChildren", None, ()), deadline)
        return [bus for bus, _ in as_refs(body[0]) if bus != link.unique_name]

    def applications(self) -> tuple[AccessibleApp, ...]:
        deadline = time.monotonic() + self._call_timeout
        link = self._connection(deadline)
        apps = []
        for bus in self._app_buses(link, deadline):
            try:
                apps.append(self._app(link, bus, deadline))
            except AccessibilityError as exc:  # one hung or departing application hides only itself
                log.info("skipping an application: %s", exc)
        return tuple(apps)

    def status(self) -> AccessibilityStatus:
        try:
            apps = self.applications()
        except AccessibilityError as exc:
            return AccessibilityStatus(False, str(exc), _ENABLE_HINT)
        names = ", ".join(sorted({a.name for a in apps})[:6]) or "none yet"
        detail = f"AT-SPI bus answers; {len(apps)} applications on it ({names})"
        session = self._environ.get("DBUS_SESSION_BUS_ADDRESS", "")
        enabled = read_is_enabled(session, 1.0) if session else None
        if enabled is False:
            return AccessibilityStatus(True, detail + "; accessibility is off in the desktop settings", _QT_ENV_HINT)
        return AccessibilityStatus(True, detail)

    # --- trees ---------------------------------------------------------------------------------------

    def tree(
        self,
        app: AccessibleApp,
        *,
        window: str | None = None,
        showing_only: bool = False,
        text: bool = False,
        max_elements: int = 5000,
    ) -> AccessibleTree:
        deadline = time.monotonic() + self._call_timeout
        link = self._connection(deadline)
        root = (app.handle, ROOT_PATH)
        try:
            top_refs = as_refs(link.call((*root, ACCESSIBLE, "GetChildren", None, ()), deadline)[0])
        except AccessibilityError as exc:
            raise AccessibilityError(
                f"{app.name!r} is no longer on the accessibility bus or does not answer: {exc}"
            ) from exc
        tops = [n for n in describe(link, top_refs, deadline) if n is not None]
        tops = [n for n in tops if (window is None or n.name == window) and (n.showing or not showing_only)]
        complete = len(tops) <= max_elements
        tops = tops[:max_elements]
        seen, count, level = {n.ref for n in tops}, len(tops), tops
        everything = list(tops)
        while level:
            owners: list[Node] = []
            refs: list[Ref] = []
            for node in level:
                if showing_only and not node.showing:
                    continue
                fresh = [ref for ref in node.child_refs if ref not in seen]
                seen.update(fresh)
                owners += [node] * len(fresh)
                refs += fresh
            room = max_elements - count
            if len(refs) > room or (refs and time.monotonic() >= deadline):
                complete = False
                room = room if time.monotonic() < deadline else 0
                owners, refs = owners[:room], refs[:room]
            level = []
            for owner, child in zip(owners, describe(link, refs, deadline), strict=True):
                if child is None:
                    complete = False
                elif child.showing or not showing_only:
                    owner.children.append(child)
                    level.append(child)
            count += len(level)
            everything += level
        if text:
            read_texts(link, everything, deadline)
        scale, source = self._scale(app, tops)
        convert = self._converter(app, scale)
        return AccessibleTree(
            app=app,
            windows=tuple(freeze(n, convert) for n in tops),
            scale=scale,
            scale_source=source,
            showing_only=showing_only,
            complete=complete,
        )

    def _scale(self, app: AccessibleApp, tops: Sequence[Node]) -> tuple[float, ScaleSource]:
        """The application's logical→device factor, measured from its X windows once, then remembered."""
        cached = self._scales.get(app.handle)
        if cached is not None:
            return cached
        found: tuple[float, ScaleSource] = (1.0, "assumed")
        if self._windows is not None and app.pid is not None:
            try:
                mine = [w for w in self._windows.windows() if w.pid == app.pid]
            except OmnideskError as exc:  # the window list is a hint: without it the scale is assumed
                log.info("no window list to measure %s's scale: %s", app.name, exc)
                mine = []
            for top in tops:
                if top.logical is None:
                    continue
                matches = [w for w in mine if w.title == top.name] or (mine if len(mine) == 1 == len(tops) else [])
                if matches and matches[0].geometry.width > 0:
                    found = (snap_scale(matches[0].geometry.width / top.logical.width), "window")
                    break
        if found[1] != "assumed":
            self._scales[app.handle] = found
        return found

    def _converter(self, app: AccessibleApp, scale: float) -> Callable[[Rect | None], Rect | None]:
        if app.toolkit == "GTK" and app.toolkit_version.startswith("4."):
            return lambda _box: None  # GTK 4.8 reports boxes relative to the window, even for SCREEN
        monitors = list(self._monitors()) if self._monitors is not None and scale != 1.0 else []
        per_monitor = app.toolkit.lower() == "qt"

        def convert(box: Rect | None) -> Rect | None:
            return None if box is None else logical_to_device(box, scale, monitors, per_monitor=per_monitor)

        return convert

    # --- focus ---------------------------------------------------------------------------------------

    def focused_is_password(self) -> bool | None:
        """The safety policy's question (``FieldInspector``): None when the tree cannot tell."""
        focus = self.focus()
        return focus.password if isinstance(focus, FocusedElement) else None

    def focused_field_area(self) -> Rect | None:
        """Where the focused text field is (``FieldInspector``), for blacking out a typed secret."""
        focus = self.focus()
        if isinstance(focus, FocusedElement) and (focus.element.editable or focus.element.password):
            return focus.element.box
        return None

    def focus(self) -> Focus:
        deadline = time.monotonic() + self._focus_timeout
        try:
            link = self._connection(deadline)
            with self._focus_lock:
                last = self._last_focus
            if last is not None:
                known = self._confirm_focus(link, last, deadline)
                if known is not None:
                    return known
            return self._scan_focus(link, deadline)
        except AccessibilityError as exc:
            return UnknownFocus(str(exc))

    def _top_of(self, link: AtspiLink, ref: Ref, deadline: float) -> Ref:
        """The top-level window an element is in (its ancestor whose parent is the application)."""
        cached = self._tops.get(ref)
        if cached is not None:
            return cached
        current = ref
        for _ in range(64):
            parent = as_ref(variant(Reply(link.call(prop_call(current, ACCESSIBLE, "Parent"), deadline))))
            if parent[0] != ref[0] or parent[1] in (ROOT_PATH, NULL_PATH):
                break
            current = parent
        if len(self._tops) > 512:
            self._tops.clear()
        self._tops[ref] = current
        return current

    def _confirm_focus(self, link: AtspiLink, ref: Ref, deadline: float) -> FocusedElement | None:
        """The element the watcher saw take the focus — if it still has it and its window is active."""
        try:
            top = self._top_of(link, ref, deadline)
        except AccessibilityError:
            return None
        refs = [ref, top] if top != ref else [ref]
        nodes = describe(link, refs, deadline, children=False)
        element, window = nodes[0], nodes[-1]
        if element is None or window is None or not element.focused or "active" not in window.states:
            return None
        if element.role in _WINDOW_ROLES:
            return None
        app = self._app(link, ref[0], deadline)
        scale, _ = self._scale(app, [window])
        convert = self._converter(app, scale)
        return FocusedElement(app, freeze(element, convert), window.name)

    def _scan_focus(self, link: AtspiLink, deadline: float) -> Focus:
        """No usable focus event: find the active window on the bus, then the focused element in it."""
        buses = self._app_buses(link, deadline)
        lists = link.call_many([(bus, ROOT_PATH, ACCESSIBLE, "GetChildren", None, ()) for bus in buses], deadline)
        tops = [ref for reply in lists if reply.body is not None for ref in refs_or_none(reply)]
        states = link.call_many([(*ref, ACCESSIBLE, "GetState", None, ()) for ref in tops], deadline)
        active = [ref for ref, reply in zip(tops, states, strict=True) if "active" in states_of(reply)]
        if not active:
            if time.monotonic() >= deadline:
                return UnknownFocus(f"the accessibility bus did not answer within {self._focus_timeout:.1f} s")
            return UnknownFocus(
                "the active window is not on the accessibility bus (a toolkit without AT-SPI, or an application "
                f"started before the bus; {_QT_ENV_HINT})"
            )
        found = [ref for ref in (self._walk_for_focus(link, top, deadline) for top in active) if ref is not None]
        if len(found) != 1:
            why = "several windows claim to be active" if found else "no element of the active window has the focus"
            if time.monotonic() >= deadline:
                why = f"the application did not answer within {self._focus_timeout:.1f} s"
            return UnknownFocus(why)
        with self._focus_lock:
            self._last_focus = found[0]
        return self._confirm_focus(link, found[0], deadline) or UnknownFocus("the focus moved while it was read")

    def _walk_for_focus(self, link: AtspiLink, top: Ref, deadline: float) -> Ref | None:
        level, seen = [top], {top}
        while level and time.monotonic() < deadline:
            calls = [
                c
                for ref in level
                for c in ((*ref, ACCESSIBLE, "GetState", None, ()), (*ref, ACCESSIBLE, "GetChildren", None, ()))
            ]
            replies = link.call_many(calls, deadline)
            following: list[Ref] = []
            for i, ref in enumerate(level):
                names = states_of(replies[2 * i])
                if "focused" in names and ref != top:
                    return ref
                if ref == top or "showing" in names:
                    following += [r for r in refs_or_none(replies[2 * i + 1]) if r not in seen]
            seen.update(following)
            level = following
        return None


_ENABLE_HINT = (
    "install at-spi2-core and run Omnidesk in a desktop session with accessibility on (GNOME: Settings → "
    f"Accessibility; or `gsettings set org.gnome.desktop.interface toolkit-accessibility true`); {_QT_ENV_HINT}"
)
