"""Noticing the person's own keyboard and mouse use during a run (see :class:`XUserActivity`)."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from omnidesk.agent.errors import NoDisplayError

if TYPE_CHECKING:
    from omnidesk.runtime.input import PyAutoGuiInput

__all__ = ["XUserActivity"]

logger = logging.getLogger(__name__)


class XUserActivity:
    """Notices the person using the keyboard or mouse during a run, by polling the X server's input state.

    Every ``interval`` s a private X connection reads the pointer position, the pressed buttons and the
    keymap; a change while Omnidesk is not acting (nor ``slack`` s after one of ``own_input``'s actions)
    is the person's. Polling, not X RECORD: it needs no listener thread inside pynput and cannot race on
    shared connections. A key tapped for less than ``interval`` can be missed; people hold keys longer.
    """

    def __init__(self, own_input: PyAutoGuiInput, *, interval: float = 0.02, slack: float = 0.4) -> None:
        self._own = own_input
        self._interval = interval
        self._slack = slack
        self._lock = threading.Lock()
        self._events: list[float] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> XUserActivity:
        """Raises: NoDisplayError when there is no X display to watch."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="user-activity", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise NoDisplayError(f"cannot watch for the person's input: {self._error}") from self._error
        return self

    def _run(self) -> None:
        from Xlib import X
        from Xlib import error as xerror
        from Xlib.display import Display

        try:
            display = Display()
        except (xerror.DisplayError, xerror.ConnectionClosedError, OSError) as exc:
            self._error = exc
            self._ready.set()
            return
        buttons = X.Button1Mask | X.Button2Mask | X.Button3Mask | X.Button4Mask | X.Button5Mask
        try:
            root = display.screen().root
            previous: tuple[object, ...] | None = None
            self._ready.set()
            while not self._stop.wait(self._interval):
                pointer = root.query_pointer()
                state = (pointer.root_x, pointer.root_y, pointer.mask & buttons, bytes(display.query_keymap()))
                now = time.monotonic()
                if previous is not None and state != previous and not self._own.own_input_at(now, self._slack):
                    with self._lock:
                        self._events.append(now)
                        del self._events[:-256]
                previous = state
        except (xerror.XError, xerror.ConnectionClosedError, OSError) as exc:
            logger.warning("stopped watching for the person's input: %s", exc)
        finally:
            self._ready.set()
            display.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def active_since(self, timestamp: float) -> bool:
        """Whether the person pressed, clicked, scrolled or moved since ``timestamp`` (monotonic)."""
        with self._lock:
            return any(t > timestamp for t in self._events)
