"""X events read on the very connection mss grabs pixels on, so the privacy mask needs no round trip per frame.

The X server runs one request at a time and sends each client its events, replies and errors in the order
it generated them (X Window System Protocol, section 10 "Events", and the ordering rules of section 2).
mss 10.2+ grabs with XCB (``xcb_shm_get_image`` / ``xcb_get_image``) and waits for the reply, and XCB reads
the socket in order, queueing every event that came before it. So once a grab returns, every window event
the server generated before it read those pixels is already in that connection's queue:
:meth:`XcbEvents.pending` takes them with ``xcb_poll_for_queued_event``, no request and no wait.

The connection belongs to the mss instance (``MSS._impl.conn`` of the XCB backends, read from mss's own
source); :meth:`XcbEvents.of` returns ``None`` for anything else (the Xlib backend, another mss), and the
window watcher then falls back to one round trip per frame.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from collections.abc import Iterator
from typing import Any

from omnidesk.agent.errors import CaptureError

__all__ = ["XcbEvents"]

log = logging.getLogger(__name__)

_CW_EVENT_MASK = 1 << 11  # XCB_CW_EVENT_MASK
_EVENT_SIZE = 32  # core events are 32 bytes; xcb_generic_event_t adds full_sequence after them
_GENERIC_EVENT = 35  # XGE events are longer; none is selected here, so they are skipped


class _Cookie(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint)]


class _Lib:
    """libxcb and libc through our own ctypes handles (the same loaded libraries mss uses, other function
    objects: mss's argtypes stay mss's)."""

    _lock = threading.Lock()
    _loaded: _Lib | None = None

    def __init__(self) -> None:
        name = ctypes.util.find_library("xcb")
        if name is None:
            raise OSError("libxcb not found")
        xcb = ctypes.CDLL(name)
        libc = ctypes.CDLL(None)
        conn = ctypes.c_void_p
        self.change_window_attributes = xcb.xcb_change_window_attributes
        self.change_window_attributes.argtypes = [conn, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_void_p]
        self.change_window_attributes.restype = _Cookie
        self.get_input_focus = xcb.xcb_get_input_focus
        self.get_input_focus.argtypes = [conn]
        self.get_input_focus.restype = _Cookie
        self.get_input_focus_reply = xcb.xcb_get_input_focus_reply
        self.get_input_focus_reply.argtypes = [conn, _Cookie, ctypes.POINTER(ctypes.c_void_p)]
        self.get_input_focus_reply.restype = ctypes.c_void_p
        self.poll_for_queued_event = xcb.xcb_poll_for_queued_event
        self.poll_for_queued_event.argtypes = [conn]
        self.poll_for_queued_event.restype = ctypes.POINTER(ctypes.c_uint8)
        self.has_error = xcb.xcb_connection_has_error
        self.has_error.argtypes = [conn]
        self.has_error.restype = ctypes.c_int
        self.free = libc.free
        self.free.argtypes = [ctypes.c_void_p]
        self.free.restype = None

    @classmethod
    def get(cls) -> _Lib:
        with cls._lock:
            if cls._loaded is None:
                cls._loaded = cls()
            return cls._loaded


class XcbEvents:
    """The event queue of one mss instance's XCB connection (use it only on the thread that grabs with it)."""

    def __init__(self, conn: int, lib: _Lib) -> None:
        self._conn = ctypes.c_void_p(conn)
        self._lib = lib

    @classmethod
    def of(cls, sct: Any) -> XcbEvents | None:
        """The events of ``sct``'s connection, or ``None`` where mss does not grab over XCB."""
        try:
            from mss.linux.base import MSSImplXCBBase
        except ImportError:  # mss before 10.2, or not Linux
            return None
        impl = getattr(sct, "_impl", None)
        conn = getattr(impl, "conn", None)
        if not isinstance(impl, MSSImplXCBBase) or conn is None:
            return None
        try:
            lib = _Lib.get()
        except (OSError, AttributeError) as exc:
            log.info("cannot read X events on the grabbing connection (%s); one round trip per frame", exc)
            return None
        try:
            address = ctypes.addressof(conn)  # mss keeps the xcb_connection_t itself (``conn_p.contents``)
        except TypeError:
            return None
        return cls(address, lib)

    def _check(self) -> None:
        if self._lib.has_error(self._conn):
            raise CaptureError("the X connection mss grabs on broke; is the X server still running?")

    def select(self, window: int, mask: int) -> None:
        """Ask for ``mask``'s events of ``window`` on this connection. Not waited for (see :meth:`sync`); a
        window already gone answers with an error, which :meth:`pending` skips."""
        self._check()
        value = ctypes.c_uint32(mask)
        self._lib.change_window_attributes(self._conn, window, _CW_EVENT_MASK, ctypes.byref(value))

    def sync(self) -> None:
        """One round trip: every request sent so far (event selections) has been handled by the server."""
        error = ctypes.c_void_p()
        reply = self._lib.get_input_focus_reply(self._conn, self._lib.get_input_focus(self._conn), ctypes.byref(error))
        if reply:
            self._lib.free(reply)
        if error.value:
            self._lib.free(error)
        if not reply:
            self._check()
            raise CaptureError("the X server did not answer on the grabbing connection")

    def pending(self) -> Iterator[bytes]:
        """The events already queued (32 bytes each, as on the wire); errors and XGE events are skipped."""
        lib = self._lib
        while True:
            event = lib.poll_for_queued_event(self._conn)
            if not event:
                self._check()
                return
            try:
                kind = event[0] & 0x7F
                raw = ctypes.string_at(event, _EVENT_SIZE) if kind not in (0, _GENERIC_EVENT) else None
            finally:
                lib.free(event)
            if raw is not None:
                yield raw
