"""Spare keys for characters the keyboard map lacks, mapped before typing and left in place while typed.

``xdotool type`` types a character missing from the keymap (ü, ß, 東…) by remapping a spare keycode to it
just before pressing it and back just after. An application reads a key event's character from the keymap
when it *handles* the event, so a busy application that handles the press after the next remap types the
wrong character or none (measured on the rig under load: "Grüße <ok> 東京" arrived as "Gre <ok> ").
:class:`SpareKeys` maps every missing character of a text onto unused keycodes first, once, so xdotool
finds them on the keyboard and never remaps while typing. :meth:`SpareKeys.release_later` gives the
keycodes back a while after the typing ended (the application has long handled the keys by then); no
physical key sends them meanwhile. A few unused keycodes are always left free for xdotool's own remapping
of anything that did not fit.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

__all__ = ["SpareKeys", "keysym_for"]

log = logging.getLogger(__name__)

_NO_SYMBOL = 0
_LEAVE_FREE = 4  # unused keycodes left for xdotool's own remapping
RELEASE_AFTER = 2.0
"""Seconds after typing before the spare keycodes are unmapped (a loaded application handles keys late)."""


class _Typing:
    """Typing in this process, whichever :class:`SpareKeys` maps for it: a character another instance
    already mapped is typed on that instance's keycode, so no instance gives its keycodes back while
    another is typing or has just typed (two input devices in one process, one after the other)."""

    lock = threading.Lock()
    active = 0
    ended = 0.0  # monotonic time the last typing ended

    @classmethod
    def begin(cls) -> None:
        with cls.lock:
            cls.active += 1

    @classmethod
    def end(cls) -> None:
        with cls.lock:
            cls.active = max(0, cls.active - 1)
            cls.ended = time.monotonic()

    @classmethod
    def wait_left(cls, delay: float) -> float:
        """Seconds to wait before keycodes may be given back (0: now)."""
        with cls.lock:
            if cls.active:
                return max(delay, 0.05)
            return max(0.0, cls.ended + delay - time.monotonic())


def keysym_for(char: str) -> int | None:
    """The X keysym that types ``char`` (Latin-1 keysyms are the code point, others 0x01000000 + it);
    None for control characters, which xdotool types as named keys (Return, Tab)."""
    code = ord(char)
    if code < 0x20 or 0x7F <= code < 0xA0:
        return None
    return code if code <= 0xFF else 0x01000000 + code


class SpareKeys:
    """Keeps the characters about to be typed on the keyboard map (see the module doc)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mapped: dict[int, int] = {}  # keysym -> the keycode this mapped it to
        self._timer: threading.Timer | None = None
        self._typing = False  # between ensure() and release_later()

    def ensure(self, text: str) -> None:
        """Map each character of ``text`` that the keymap lacks onto an unused keycode (best effort: X
        errors are logged and xdotool then remaps as before). Typing is under way until
        :meth:`release_later`."""
        wanted = {k for k in (keysym_for(c) for c in set(text)) if k is not None and k > 0x7E}
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if not self._typing:
                self._typing = True
                _Typing.begin()
            if wanted:
                self._with_display(lambda display: self._map(display, wanted))

    def release_later(self, delay: float = RELEASE_AFTER) -> None:
        """Typing ended: unmap the spare keycodes ``delay`` seconds from now, unless typing (by any instance
        in this process) starts again before."""
        with self._lock:
            if self._typing:
                self._typing = False
                _Typing.end()
            if self._mapped:
                self._schedule(delay)

    def _schedule(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(delay, self._release_when_idle, args=(delay,))
        self._timer.daemon = True
        self._timer.start()

    def _release_when_idle(self, delay: float) -> None:
        with self._lock:
            self._timer = None
            if self._typing or not self._mapped:
                return
            left = _Typing.wait_left(delay)
            if left > 0:  # another instance is typing, or just typed, maybe on these keycodes
                self._schedule(left)
                return
            self._with_display(self._unmap)

    def release(self) -> None:
        """Give back every keycode this mapped that still holds its character: now, or once another
        instance's typing has ended."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._typing:
                self._typing = False
                _Typing.end()
            if not self._mapped:
                return
            if _Typing.wait_left(0.0) > 0:  # another instance types (maybe on these keycodes)
                self._schedule(RELEASE_AFTER)
                return
            self._with_display(self._unmap)

    def _with_display(self, work: Any) -> None:
        from Xlib import error as xerror
        from Xlib.display import Display

        try:
            display = Display()
        except (xerror.DisplayError, OSError) as exc:
            log.info("no spare keys (cannot open the display: %s)", exc)
            return
        try:
            work(display)
        except (xerror.XError, OSError) as exc:
            log.info("no spare keys (the X server refused the keymap change: %s)", exc)
        finally:
            display.close()

    def _unmap(self, display: Any) -> None:
        first = int(display.display.info.min_keycode)
        count = int(display.display.info.max_keycode) - first + 1
        keymap = display.get_keyboard_mapping(first, count)
        width = len(keymap[0]) if keymap else 2
        for keysym, code in self._mapped.items():
            if 0 <= code - first < count and keysym in keymap[code - first]:
                display.change_keyboard_mapping(code, [[_NO_SYMBOL] * width])
        self._mapped = {}
        display.sync()

    def _map(self, display: Any, wanted: set[int]) -> None:
        first = int(display.display.info.min_keycode)
        count = int(display.display.info.max_keycode) - first + 1
        keymap = display.get_keyboard_mapping(first, count)
        on_keyboard = {ks for syms in keymap for ks in list(syms)[:2] if ks != _NO_SYMBOL}
        mine = {code: ks for ks, code in self._mapped.items() if code - first < count and ks in keymap[code - first]}
        self._mapped = {ks: code for code, ks in mine.items()}
        missing = [ks for ks in sorted(wanted) if ks not in on_keyboard]
        if not missing:
            return
        free = [first + i for i, syms in enumerate(keymap) if all(ks == _NO_SYMBOL for ks in syms)]
        reusable = [code for code, ks in mine.items() if ks not in wanted]  # ours, not needed now
        candidates = reusable + free[: max(0, len(free) - _LEAVE_FREE)]
        width = len(keymap[0]) if keymap else 2
        for keysym, code in zip(missing, candidates, strict=False):
            display.change_keyboard_mapping(code, [[keysym, keysym] + [_NO_SYMBOL] * max(0, width - 2)])
            self._mapped = {k: c for k, c in self._mapped.items() if c != code}
            self._mapped[keysym] = code
        display.sync()
        if len(missing) > len(candidates):
            log.info("%d characters had no spare key; xdotool remaps them while typing", len(missing) - len(candidates))
