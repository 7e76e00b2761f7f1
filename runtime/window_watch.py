"""The window list kept fresh from X events, so the privacy mask costs nothing per frame while nothing moves.

Reading the EWMH window list takes several X round trips per window; done for every frame under a window
manager it cut the capture rate to a third. A :class:`WindowWatcher` reads the list once and then listens:
on the root window for the client list (``_NET_CLIENT_LIST[_STACKING]``) and for
every top-level window created, mapped, unmapped, moved, resized or restacked (SubstructureNotify); on
each listed window for its title, class, state and frame extents (PropertyNotify) and its size
(StructureNotify). The list is read again only after such an event.

No race with a grab: events, like the pixels, travel on a connection, and the X server sends a client its
events and replies in the order it made them. So each grabbing thread has its own watch, whose events are
selected on the very connection mss grabs on (:class:`~omnidesk.runtime.xcb_events.XcbEvents`): when the
grab's reply is in, every event the server generated before it read those pixels is queued already, and
:meth:`WindowWatcher.view` takes them with no request at all. Where mss does not grab over XCB the watch
listens on its own connection and round-trips to the X server (XSync) after each grab instead. No event
since the list was read: that list is exact for the grab (it was read before the grab, with the events
already selected). Events: the list is read again, and since the grab may
show the windows as they were before, in between or after, the view also carries the previous list and
every top-level geometry the events reported (``WindowView.passed``), plus the rectangles of top-level
windows shown that cannot be identified (``WindowView.unknown``); :class:`~omnidesk.runtime.windows.WindowMask`
masks all of that for this one frame. A window whose title changed twice between two grabs had a title
nobody read: it is masked whole too. A lost connection raises :class:`CaptureError`, and the mask then
blacks out the whole frame.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from omnidesk.agent.errors import CaptureError
from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import WindowInfo
from omnidesk.runtime.windows import WindowView, X11WindowInspector
from omnidesk.runtime.xcb_events import XcbEvents

__all__ = ["WindowWatcher"]

log = logging.getLogger(__name__)

_LIST_ATOMS = ("_NET_CLIENT_LIST", "_NET_CLIENT_LIST_STACKING", "_NET_SUPPORTING_WM_CHECK")
_WINDOW_ATOMS = ("WM_NAME", "_NET_WM_NAME", "WM_CLASS", "_NET_WM_STATE", "_NET_FRAME_EXTENTS", "_NET_WM_PID")
_TITLE_ATOMS = ("WM_NAME", "_NET_WM_NAME")


@dataclass(slots=True)
class _Changes:
    """What the events since the last read said."""

    dirty: bool = False
    moves: list[tuple[int, Rect]] = field(default_factory=list)  # (top-level id, outer rectangle)
    mapped: set[int] = field(default_factory=set)  # top-level ids mapped (not override-redirect)
    retitled: dict[int, int] = field(default_factory=dict)  # window id -> title changes


def _ignore_error(*_args: object) -> bool:
    """``onerror`` for requests without a reply: a window that went away before the request is fine
    (true: python-xlib then does not print it)."""
    return True


class _Watch(X11WindowInspector):
    """One watch: the list read on its own X connection, kept fresh from the events of the connection the
    frames are grabbed on (``events``) or, without one, of its own connection after a round trip per frame."""

    def __init__(self, display: str | None, events: XcbEvents | None) -> None:
        super().__init__(display)
        self._events = events
        self._list: tuple[WindowInfo, ...] | None = None
        self._view: WindowView | None = None
        self._settled: WindowView | None = None  # the last list with nothing in between (no change since)
        self._tops: dict[int, int] = {}  # listed window id -> its top-level window (the frame, or itself)
        self._geometry: dict[int, Rect] = {}  # top-level id -> outer rectangle, as last read or reported
        self._mapped: dict[int, bool] = {}  # mapped top-level id -> override-redirect
        self._watched: set[int] = set()
        self._managed = False
        self._changes = _Changes()
        self._structure: frozenset[int] = frozenset()
        self._ids: tuple[int, frozenset[int], frozenset[int], frozenset[int]] = (
            0,
            frozenset(),
            frozenset(),
            frozenset(),
        )
        self.reads = 0
        self.round_trips = 0
        self.closed = False

    # --- WindowViews --------------------------------------------------------------------------------

    def prepare(self) -> None:
        with self._lock:
            if self._list is None:
                self._guarded(self._refresh_view)

    def view(self) -> WindowView:
        with self._lock:
            fresh = self._list is None  # no list from before the grab: what the grab showed is unknown
            view = self._guarded(self._refresh_view)
            return replace(view, whole=True) if fresh else view

    def windows(self) -> list[WindowInfo]:
        return list(self.view().windows)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._forget()
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # --- events -------------------------------------------------------------------------------------

    def _guarded(self, work: Any) -> WindowView:
        from Xlib import error as xerror

        try:
            result: WindowView = work()
            return result
        except CaptureError:  # the grabbing connection broke
            self._forget()
            raise
        except (xerror.ConnectionClosedError, xerror.XError, OSError) as exc:
            self._forget()
            self._conn = None
            raise CaptureError(f"lost the X connection that watches the windows: {exc}") from exc

    def _forget(self) -> None:
        self._list = self._view = self._settled = None
        self._tops, self._geometry, self._mapped, self._watched = {}, {}, {}, set()
        self._changes = _Changes()

    def _connection(self) -> Any:
        if self._conn is None:
            from Xlib import X

            conn = super()._connection()
            self._structure = _structure_events()
            self._ids = (
                int(conn.screen().root.id),
                frozenset(self._atom(n) for n in _LIST_ATOMS),
                frozenset(self._atom(n) for n in _WINDOW_ATOMS),
                frozenset(self._atom(n) for n in _TITLE_ATOMS),
            )
            root = conn.screen().root
            self._select(root, X.SubstructureNotifyMask | X.PropertyChangeMask)
            self._sync()  # selected before anything is read: no change can fall between the two
            for child in root.query_tree().children:
                try:
                    attrs = child.get_attributes()
                    if attrs.map_state != 0 and attrs.win_class == X.InputOutput:
                        self._mapped[int(child.id)] = bool(attrs.override_redirect)
                        self._geometry[int(child.id)] = self._outer(child.get_geometry())
                except Exception:  # noqa: BLE001 - the child went away while we looked at it
                    continue
            self._changes.dirty = True
        return self._conn

    @staticmethod
    def _outer(geom: Any) -> Rect:
        border = int(getattr(geom, "border_width", 0))
        return Rect(int(geom.x), int(geom.y), int(geom.width) + 2 * border, int(geom.height) + 2 * border)

    def _select(self, window: Any, mask: int) -> None:
        """Ask for ``mask``'s events of ``window`` where the events are read (a window gone is fine)."""
        if self._events is not None:
            self._events.select(int(window.id), mask)
        else:
            window.change_attributes(event_mask=mask, onerror=_ignore_error)

    def _sync(self) -> None:
        """One round trip on the connection the events come on."""
        self.round_trips += 1
        if self._events is not None:
            self._events.sync()
        else:
            self._connection().sync()

    def _pending(self, conn: Any) -> Iterator[Any]:
        """Every event the server generated before the last grab: on the grabbing connection those came
        before the grab's reply and are queued already; on our own, a round trip fetches them."""
        if self._events is None:
            self._sync()
            while conn.pending_events():
                yield conn.next_event()
            return
        classes = conn.display.event_classes
        for raw in self._events.pending():
            kind = classes.get(raw[0] & 0x7F)
            if kind is not None and not isinstance(kind, dict):  # core events only: nothing else is selected
                yield kind(display=conn.display, binarydata=raw)

    def _drain(self) -> None:
        """Handle every event the server sent before the grab."""
        from Xlib import X

        conn = self._connection()
        root_id, list_atoms, window_atoms, title_atoms = self._ids
        changes = self._changes
        for event in self._pending(conn):
            kind = event.type
            if kind == X.PropertyNotify:
                window, atom = int(event.window.id), int(event.atom)
                if (window == root_id and atom in list_atoms) or (window != root_id and atom in window_atoms):
                    changes.dirty = True
                if atom in title_atoms:
                    changes.retitled[window] = changes.retitled.get(window, 0) + 1
                continue
            if kind not in self._structure:
                continue
            changes.dirty = True
            parent = event.parent if kind == X.CreateNotify else event.event
            on_root = int(parent.id) == root_id
            window = int(event.window.id)
            if not on_root:
                continue
            if kind in (X.ConfigureNotify, X.CreateNotify):
                rect = self._outer(event)
                self._geometry[window] = rect
                changes.moves.append((window, rect))
            elif kind == X.MapNotify:
                self._mapped[window] = bool(event.override)
                if not event.override:
                    changes.mapped.add(window)
            elif kind in (X.UnmapNotify, X.DestroyNotify):
                self._mapped.pop(window, None)
            elif kind == X.ReparentNotify and int(event.parent.id) != root_id:
                self._mapped.pop(window, None)  # a client going into its frame is no top-level any more

    def _refresh_view(self) -> WindowView:
        self._drain()
        changes = self._changes
        if not changes.dirty and self._view is not None:
            # Nothing changed since the list was read: the screen shows the list, no window in between.
            self._view = self._settled or self._view
            return self._view
        before = self._list or ()
        tops_before = dict(self._tops)
        self._changes = _Changes()
        self._read()
        after = self._list or ()
        tops = {**tops_before, **self._tops}
        passed = list(before)
        by_top: dict[int, list[WindowInfo]] = {}
        for info in (*before, *after):
            by_top.setdefault(tops.get(info.window_id, info.window_id), []).append(info)
        for top, rect in changes.moves:
            passed += [replace(info, geometry=rect) for info in by_top.get(top, ())]
        unknown = self._unidentified()
        self._settled = WindowView(after, (), tuple(unknown))
        reported = dict(changes.moves)
        whole = False
        for top in changes.mapped - set(self._tops.values()):
            if top in self._mapped:
                continue  # still shown, so it is among the unidentified above
            gone = self._geometry.get(top) or reported.get(top)
            if gone is None:
                whole = True  # shown and gone again without a word on where
            else:
                unknown.append(gone)
        for window, count in changes.retitled.items():
            if count > 1:  # a title in between was never read: mask the window wherever it was
                unknown += [w.geometry for w in (*before, *after, *passed) if w.window_id == window]
        self._view = WindowView(after, tuple(passed), tuple(unknown), whole)
        return self._view

    def _unidentified(self) -> list[Rect]:
        """Shown top-level windows that are no listed window's frame (a window manager not done managing
        them yet, say): their rectangles, masked until the list names them."""
        if not self._managed:
            return []
        frames = set(self._tops.values())
        return [
            rect
            for top, override in self._mapped.items()
            if not override and top not in frames and (rect := self._geometry.get(top)) is not None
        ]

    def _read(self) -> None:
        """Read the list (as :class:`X11WindowInspector` does), watching each window before reading it."""

        self.reads += 1
        conn = self._connection()
        root = conn.screen().root
        stacking = self._client_list(root)
        self._managed = stacking is not None
        if self._managed:
            candidates = [conn.create_resource_object("window", int(w)) for w in stacking.value]
        else:
            candidates = list(root.query_tree().children)
        self._watch(candidates)
        found: list[WindowInfo] = []
        tops: dict[int, int] = {}
        for window in candidates:
            try:
                top = self._top_level(window, int(root.id)) if self._managed else int(window.id)
                tops[int(window.id)] = top
                info = self._describe(window, root, self._managed)
            except _gone_errors():
                continue  # the window went away while we looked at it
            if info is not None:
                found.append(info)
                self._geometry[top] = info.geometry
        self._list, self._tops = tuple(found), tops
        alive = set(tops.values()) | set(self._mapped)
        self._geometry = {top: rect for top, rect in self._geometry.items() if top in alive}
        log.debug("window list read (%d visible of %d)", len(found), len(candidates))

    def _watch(self, windows: Iterable[Any]) -> None:
        from Xlib import X

        for window in windows:
            if int(window.id) not in self._watched:
                self._select(window, X.StructureNotifyMask | X.PropertyChangeMask)
                self._watched.add(int(window.id))
        self._sync()  # watched before read: a change can only come after, as an event

    @staticmethod
    def _top_level(window: Any, root_id: int) -> int:
        """The child of the root that holds ``window`` (its frame under a reparenting window manager)."""
        current = window
        while True:
            parent = current.query_tree().parent
            if parent is None or int(parent.id) == root_id or int(parent.id) == 0:
                return int(current.id)
            current = parent


class WindowWatcher:
    """The window list kept fresh from X events, one watch per grabbing thread (a
    :class:`~omnidesk.runtime.windows.WindowViews` source for :class:`WindowMask`).

    Each thread that grabs gets its own watch, since events, like pixels, are per connection: the screen
    calls :meth:`grabbing_on` with the events of the connection it grabs on (mss's), and that thread's watch
    then reads them there, with no round trip per frame. A thread that never said gets a watch on its own
    connection with one round trip per frame. ``reads`` counts list reads and ``round_trips`` the round
    trips the watches made, over every thread (a bench and the tests check that an unchanged desktop costs
    neither).
    """

    def __init__(self, display: str | None = None) -> None:
        self._display = display
        self._local = threading.local()
        self._lock = threading.Lock()
        self._watches: list[_Watch] = []
        self._gone = (0, 0)  # reads, round trips of closed watches

    def _watch(self) -> _Watch:
        watch: _Watch | None = getattr(self._local, "watch", None)
        if watch is None or watch.closed:  # closed by close(): start again, on the same events
            watch = self._start(watch._events if watch is not None else None)
        return watch

    def _start(self, events: XcbEvents | None) -> _Watch:
        watch = _Watch(self._display, events)
        with self._lock:
            self._watches.append(watch)
        self._local.watch = watch
        return watch

    def grabbing_on(self, events: XcbEvents | None) -> None:
        """The calling thread grabs its frames on the connection ``events`` reads from now on (``None``:
        it stopped grabbing); its watch starts afresh there."""
        self._stop(getattr(self._local, "watch", None))
        self._local.watch = None
        if events is not None:
            self._start(events)

    def _stop(self, watch: _Watch | None) -> None:
        if watch is None:
            return
        watch.close()
        with self._lock:
            if watch in self._watches:
                self._watches.remove(watch)
                self._gone = (self._gone[0] + watch.reads, self._gone[1] + watch.round_trips)

    def prepare(self) -> None:
        self._watch().prepare()

    def view(self) -> WindowView:
        return self._watch().view()

    def windows(self) -> list[WindowInfo]:
        return self._watch().windows()

    @property
    def reads(self) -> int:
        with self._lock:
            return self._gone[0] + sum(w.reads for w in self._watches)

    @property
    def round_trips(self) -> int:
        with self._lock:
            return self._gone[1] + sum(w.round_trips for w in self._watches)

    def close(self) -> None:
        """Close every thread's watch (their X connections)."""
        with self._lock:
            watches = list(self._watches)
        for watch in watches:
            self._stop(watch)


def _gone_errors() -> tuple[type[Exception], ...]:
    from Xlib import error as xerror

    return (xerror.BadWindow, xerror.BadDrawable, xerror.BadMatch)


def _structure_events() -> frozenset[int]:
    from Xlib import X

    return frozenset(
        {
            X.ConfigureNotify,
            X.CreateNotify,
            X.MapNotify,
            X.UnmapNotify,
            X.DestroyNotify,
            X.ReparentNotify,
            X.GravityNotify,
            X.CirculateNotify,
        }
    )
