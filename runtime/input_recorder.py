"""The person's own mouse and keyboard, recorded through the X RECORD extension (teach mode).

Why not pynput's listeners: pynput 1.8 reads a key event's character from the keyboard map it loaded at
start, so every character typed through a keycode remapped on the fly — how ``xdotool type``, on-screen
keyboards and Omnidesk's own input type ü, ß or 東 — comes out as ``<0>``. Here one RECORD context takes,
in the server's own order, the device events (keys, buttons), the core ``ChangeKeyboardMapping`` requests
of every client and the ``MappingNotify`` events, so each key is read with the map in force when it was
pressed (a map changed another way — XKB, ``setxkbmap`` — is read again from the server at the next key).
A ``MappingNotify`` for keycodes a recorded request already changed is not read again: the server has
often remapped them back by then (xdotool restores its spare keycode right after each character), and the
live map would turn the recorded press into nothing.

Each event is timed by the X server's own timestamp, which on Linux is ``CLOCK_MONOTONIC`` in
milliseconds — the clock capture and the recorder stamp frames with (Python's ``time.monotonic``); when the
server runs elsewhere (a remote display) and its time does not fit, the time the event arrived is used.

Before an event is kept, the window it goes to — under the pointer for a button, with keyboard focus for a
key — is checked with the deny-list's own matcher (``agent/window_rules.py``): events in a deny-listed
window or in Omnidesk's own windows are dropped and only counted, the release of a dropped press too; when
the window cannot be told, the event is dropped (fail closed). The key combination that stops teaching is
noticed wherever it is pressed. Nothing typed is logged.
"""

from __future__ import annotations

import logging
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omnidesk.agent.demonstration import InputEvent, KeyInput, PointerButton, PointerInput
from omnidesk.agent.errors import InputRecordingError, OmnideskError
from omnidesk.agent.keys import normalize_combo
from omnidesk.agent.ports import WindowInfo, WindowInspector
from omnidesk.agent.window_rules import WindowMatcher
from omnidesk.runtime.keysyms import LEVEL3_KEYSYMS, MODE_SWITCH, keysym_char, keysym_name, modifier_name

__all__ = ["InputStats", "XInputRecorder"]

log = logging.getLogger(__name__)

_KEY_PRESS, _KEY_RELEASE, _BUTTON_PRESS, _BUTTON_RELEASE, _MAPPING_NOTIFY = 2, 3, 4, 5, 34
_CHANGE_KEYBOARD_MAPPING = 100
_BUTTONS: dict[int, PointerButton] = {
    1: "left",
    2: "middle",
    3: "right",
    4: "scroll_up",
    5: "scroll_down",
    6: "scroll_left",
    7: "scroll_right",
}
_SHIFT, _LOCK, _CONTROL = 1, 2, 4
_OWN = "Omnidesk's own window"
_WRAP = 1 << 32
_STARTUP_TIMEOUT = 5.0


@dataclass
class InputStats:
    """What happened to the person's input events: kept, or dropped because they went to a deny-listed
    window, to Omnidesk's own, or to a window that could not be told."""

    kept: int = 0
    denied: int = 0
    own: int = 0
    unknown: int = 0


class _Keymap:
    """The server's keyboard map, kept in step with the recorded mapping changes (record thread only)."""

    def __init__(self, display: Any) -> None:
        self._display = display
        self._map: dict[int, list[int]] = {}
        self._core_changed: set[int] = set()  # keycodes changed by recorded requests since the last read
        self.stale = True
        self.alt = self.super = self.numlock = self.level3 = self.mode_switch = 0

    def refresh(self) -> None:
        info = self._display.display.info
        first = info.min_keycode
        rows = self._display.get_keyboard_mapping(first, info.max_keycode - first + 1)
        self._map = {first + n: list(row) for n, row in enumerate(rows)}
        self._core_changed.clear()
        self.refresh_modifiers()
        self.stale = False

    def refresh_modifiers(self) -> None:
        masks: dict[str, int] = {}
        for bit, keycodes in enumerate(self._display.get_modifier_mapping()):
            for keycode in keycodes:
                for keysym in self._map.get(int(keycode), [])[:2]:
                    role = _mask_role(keysym)
                    if role is not None:
                        masks[role] = masks.get(role, 0) | (1 << bit)
        self.alt, self.super = masks.get("alt", 0), masks.get("super", 0)
        self.numlock, self.level3 = masks.get("numlock", 0), masks.get("level3", 0)
        self.mode_switch = masks.get("mode_switch", 0)

    def change(self, first: int, per_keycode: int, keysyms: tuple[int, ...]) -> None:
        for n in range(len(keysyms) // per_keycode if per_keycode else 0):
            self._map[first + n] = list(keysyms[n * per_keycode : (n + 1) * per_keycode])
            self._core_changed.add(first + n)

    def notified(self, request: int, first: int, count: int) -> None:
        """A ``MappingNotify``: modifiers are read again now; keys at the next press, unless a recorded
        request changed exactly them (every client gets its own notify of one change)."""
        if request == 0:  # MappingModifier
            self.refresh_modifiers()
        elif request == 1 and not set(range(first, first + count)) <= self._core_changed:  # MappingKeyboard
            self.stale = True

    def modifiers(self, state: int) -> tuple[str, ...]:
        held = [("ctrl", _CONTROL), ("alt", self.alt), ("shift", _SHIFT), ("super", self.super)]
        return tuple(name for name, mask in held if mask and state & mask)

    def lookup(self, keycode: int, state: int) -> tuple[str, str]:
        """(canonical key name, the character typed) of a key press; ("", "") when the key means nothing."""
        if self.stale:
            self.refresh()
        syms = [*self._map.get(keycode, []), 0, 0, 0, 0, 0, 0][:6]
        if self.level3 and state & self.level3 and (syms[4] or syms[5]):
            lower, upper = syms[4], syms[5]
        elif self.mode_switch and state & self.mode_switch and (syms[2] or syms[3]):
            lower, upper = syms[2], syms[3]
        else:
            lower, upper = syms[0], syms[1]
        lower = lower or upper
        shifted = bool(state & _SHIFT)
        if self.numlock and state & self.numlock and _is_keypad(upper):
            shifted = not shifted
        keysym = upper if shifted and upper else lower
        base = syms[0] or syms[1]
        modifier = modifier_name(base)
        if modifier is not None:
            return modifier, ""
        name = keysym_name(keysym)
        if name is not None:
            return name, ""
        text = keysym_char(keysym)
        if text and (not upper or upper == lower) and text.lower() != text.upper():
            text = text.upper() if shifted != bool(state & _LOCK) else text.lower()  # one keysym: case from Shift/Lock
        elif text and state & _LOCK and not shifted and text.isalpha():
            text = text.upper()
        key = keysym_char(base).lower() or text.lower()
        return key, text


def _mask_role(keysym: int) -> str | None:
    if keysym in (0xFFE7, 0xFFE8, 0xFFE9, 0xFFEA):
        return "alt"
    if keysym in (0xFFEB, 0xFFEC, 0xFFED, 0xFFEE):
        return "super"
    if keysym == 0xFF7F:
        return "numlock"
    if keysym in LEVEL3_KEYSYMS:
        return "level3"
    if keysym == MODE_SWITCH:
        return "mode_switch"
    return None


def _is_keypad(keysym: int) -> bool:
    return 0xFF80 <= keysym <= 0xFFBD


class XInputRecorder:
    """Records the person's input on the X display until :meth:`stop` (see the module doc).

    Args:
        windows: the window list (window under a point, focused window) for the deny-list checks.
        matcher: the deny-list's matcher, Omnidesk's own processes included.
        stop_combo: the canonical key combination that ends teaching; ``on_stop`` is called (on the
            recorder's thread) when it is pressed.
        display: the X display (default: ``$DISPLAY``).

    :meth:`stop` also closes ``windows`` when it can be closed (the recorder owns the window list it is given).
    """

    def __init__(
        self,
        windows: WindowInspector,
        matcher: WindowMatcher,
        *,
        stop_combo: tuple[str, ...] = (),
        on_stop: Callable[[], None] | None = None,
        display: str | None = None,
    ) -> None:
        self._windows = windows
        self._matcher = matcher
        self._stop_combo = normalize_combo(stop_combo) if stop_combo else ()
        self._on_stop = on_stop
        self._display_name = display
        self._events: list[InputEvent] = []
        self._lock = threading.Lock()
        self._dropped_buttons: set[int] = set()
        self._pressed: dict[int, tuple[int, int, WindowInfo | None]] = {}
        self.stats = InputStats()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._control: Any = None
        self._record: Any = None
        self._context: Any = None
        self._keymap: _Keymap | None = None
        self._failure: BaseException | None = None

    def events(self) -> list[InputEvent]:
        """The events kept so far, in order, timed on the monotonic clock."""
        with self._lock:
            return list(self._events)

    def start(self) -> XInputRecorder:
        """Start recording; returns once the server delivers events.

        Raises:
            InputRecordingError: no X display, or it has no RECORD extension.
        """
        from Xlib import display as xdisplay
        from Xlib import error as xerror
        from Xlib.ext import record

        try:
            self._control = xdisplay.Display(self._display_name)
            self._record = xdisplay.Display(self._display_name)
            if not self._control.has_extension("RECORD"):
                raise InputRecordingError(
                    "this X server has no RECORD extension, so your own clicks and keys cannot be recorded; "
                    "teach mode needs an X11 session with it (Xorg and Xvfb have it)"
                )
            self._keymap = _Keymap(xdisplay.Display(self._display_name))
            self._context = self._control.record_create_context(
                0,
                [record.AllClients],
                [
                    {
                        "core_requests": (_CHANGE_KEYBOARD_MAPPING, _CHANGE_KEYBOARD_MAPPING),
                        "core_replies": (0, 0),
                        "ext_requests": (0, 0, 0, 0),
                        "ext_replies": (0, 0, 0, 0),
                        "delivered_events": (_MAPPING_NOTIFY, _MAPPING_NOTIFY),
                        "device_events": (_KEY_PRESS, _BUTTON_RELEASE),
                        "errors": (0, 0),
                        "client_started": False,
                        "client_died": False,
                    }
                ],
            )
            self._control.sync()
        except (xerror.DisplayError, xerror.XError, OSError) as exc:
            self._close_connections()
            raise InputRecordingError(
                f"cannot record your own clicks and keys on the X display ({exc}); teach mode needs an X11 session"
            ) from exc
        except BaseException:
            self._close_connections()
            raise
        self._thread = threading.Thread(target=self._run, name="teach-input", daemon=True)
        self._thread.start()
        if not self._ready.wait(_STARTUP_TIMEOUT):
            self.stop()
            raise InputRecordingError(
                f"the X server did not start delivering input events ({self._failure or 'no answer'}); try again"
            )
        return self

    def stop(self) -> InputStats:
        """Stop recording (idempotent) and close the X connections; returns the counts."""
        thread, self._thread = self._thread, None
        if thread is not None and self._control is not None:
            try:
                self._control.record_disable_context(self._context)
                self._control.flush()
            except Exception as exc:  # noqa: BLE001 - the server may be gone; the thread ends with it
                log.debug("could not disable the RECORD context: %s", exc)
            thread.join(2.0)
            if thread.is_alive():
                log.warning("the input recorder thread did not stop; it ends with the X connection")
        self._close_connections()
        close = getattr(self._windows, "close", None)  # the window list's own X connection, if it has one
        if callable(close):
            close()
        stats = self.stats
        log.info(
            "input recording: %d events kept, %d dropped in deny-listed windows, %d in Omnidesk's own, %d unknown",
            stats.kept,
            stats.denied,
            stats.own,
            stats.unknown,
        )
        return stats

    def _close_connections(self) -> None:
        control, self._control = self._control, None
        if control is not None and self._context is not None:
            try:
                control.record_free_context(self._context)
                control.sync()
            except Exception as exc:  # noqa: BLE001 - best effort
                log.debug("could not free the RECORD context: %s", exc)
        self._context = None
        keymap, self._keymap = self._keymap, None
        for connection in (control, self._record, keymap._display if keymap is not None else None):
            if connection is not None:
                try:
                    connection.close()
                except Exception as exc:  # noqa: BLE001 - already closed by the server
                    log.debug("closing an X connection: %s", exc)
        self._record = None

    # --- the recorder thread -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._record.record_enable_context(self._context, self._on_data)
        except Exception as exc:  # noqa: BLE001 - reported by start(), or logged when recording ends
            self._failure = exc
            if self._ready.is_set():
                log.warning("input recording stopped early: %s", exc)

    def _on_data(self, reply: Any) -> None:
        from Xlib.ext import record

        if reply.category == record.StartOfData:
            self._ready.set()
            return
        try:
            if reply.category == record.FromClient:
                self._on_request(bytes(reply.data), bool(reply.client_swapped))
            elif reply.category == record.FromServer:
                self._on_events(bytes(reply.data))
        except Exception:
            log.exception("an input event could not be read; it was left out")

    def _on_request(self, data: bytes, swapped: bool) -> None:
        """A client's ChangeKeyboardMapping: the map changes *now*, between the events around it."""
        if len(data) < 8 or data[0] != _CHANGE_KEYBOARD_MAPPING or self._keymap is None:
            return
        little = (sys.byteorder == "little") != swapped
        order = "<" if little else ">"
        count, first, per = data[1], data[4], data[5]
        keysyms = struct.unpack_from(f"{order}{count * per}I", data, 8) if len(data) >= 8 + 4 * count * per else ()
        if self._keymap.stale:
            self._keymap.refresh()
        self._keymap.change(first, per, keysyms)

    def _on_events(self, data: bytes) -> None:
        from Xlib.protocol import rq

        parser = rq.EventField(None)
        while len(data) >= 32:
            event, data = parser.parse_binary_value(data, self._record.display, None, None)
            kind = event.type & 0x7F
            if kind == _MAPPING_NOTIFY:
                if self._keymap is not None:
                    self._keymap.notified(int(event.request), int(event.first_keycode), int(event.count))
            elif kind == _KEY_PRESS:
                self._on_key(event)
            elif kind in (_BUTTON_PRESS, _BUTTON_RELEASE):
                self._on_button(event, pressed=kind == _BUTTON_PRESS)

    def _on_key(self, event: Any) -> None:
        assert self._keymap is not None
        key, text = self._keymap.lookup(int(event.detail), int(event.state))
        if not key:
            return
        modifiers = self._keymap.modifiers(int(event.state))
        at = _when(int(event.time))
        stop = self._on_stop
        if stop is not None and self._stop_combo and _combo(modifiers, key) == self._stop_combo:
            stop()
        kept, window = self._checked(self._focused)
        if kept:
            self._keep(KeyInput(at, True, key, text, modifiers, window))

    def _on_button(self, event: Any, *, pressed: bool) -> None:
        number = int(event.detail)
        button = _BUTTONS.get(number)
        if button is None:
            return
        x, y = int(event.root_x), int(event.root_y)
        at = _when(int(event.time))
        if not pressed:
            if number in self._dropped_buttons:
                self._dropped_buttons.discard(number)
                return
            if button.startswith("scroll"):
                return
            self._keep(PointerInput(at, False, button, x, y))
            return
        kept, window = self._checked(lambda: self._windows.window_at(x, y))
        if not kept:
            self._dropped_buttons.add(number)
            return
        assert self._keymap is not None
        self._keep(PointerInput(at, True, button, x, y, window, self._keymap.modifiers(int(event.state))))

    def _focused(self) -> WindowInfo | None:
        return self._windows.focused_window()

    def _checked(self, find: Callable[[], WindowInfo | None]) -> tuple[bool, WindowInfo | None]:
        """(whether the event is kept, the window it goes to); a dropped event is counted."""
        try:
            window = find()
        except OmnideskError as exc:
            self.stats.unknown += 1
            log.warning("cannot tell which window an input event went to (%s); it was left out", exc)
            return False, None
        reason = None if window is None else self._matcher.match(window)
        if reason is None:
            return True, window
        if reason == _OWN:
            self.stats.own += 1
        else:
            self.stats.denied += 1
        return False, window

    def _keep(self, event: InputEvent) -> None:
        with self._lock:
            self._events.append(event)
        self.stats.kept += 1


def _combo(modifiers: tuple[str, ...], key: str) -> tuple[str, ...]:
    try:
        return normalize_combo([*modifiers, key])
    except ValueError:
        return ()


def _when(server_ms: int) -> float:
    """The X server's 32-bit millisecond time as monotonic seconds (see the module doc)."""
    now = time.monotonic()
    now_ms = int(now * 1000)
    stamp = now_ms - ((now_ms - server_ms) % _WRAP)
    at = stamp / 1000
    return at if 0.0 <= now - at < 2.0 else now
