"""Global hotkeys (pynput over the X RECORD extension): kill switch, pause/resume, show/hide.

pynput calls back on its own listener thread and the signals are emitted there. The kill switch must
work while the GUI thread is busy and while the window is hidden, so the main window connects
``kill_switch`` to the run controller's ``stop`` with a *direct* connection: it runs on the listener
thread and only cancels a :class:`CancelToken` (thread-safe). Other connections are queued as usual.
pynput is imported inside :meth:`GlobalHotkeys.start`, so nothing here needs a display at import time.

Two combinations are held rather than pressed: push-to-talk, and what-just-happened (held, it records a
spoken question; tapped, it asks the default one — the window tells the two apart by the clip's length).
Both ignore X key autorepeat: while a key is held, the server repeats it as extra presses (or, on Xorg
without detectable autorepeat, as release + press pairs). A release of a held combination's key only
counts once no press of it follows within :data:`AUTOREPEAT_GAP` seconds.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from omnidesk.app.settings import HotkeyConfig

__all__ = ["AUTOREPEAT_GAP", "GlobalHotkeys", "to_pynput"]

log = logging.getLogger(__name__)

_SPECIAL = {"ctrl", "alt", "shift", "cmd", "super", "space", "enter", "esc", "tab", "backspace", "delete"}
AUTOREPEAT_GAP = 0.06
"""Seconds a push-to-talk release waits for the press that would make it an autorepeat."""
_META_TO_ALT = {0xFFE7: "alt", 0xFFE8: "alt_r"}  # X reports Alt released after Shift as Meta_L / Meta_R
_ALIASES = {"super": "cmd", "win": "cmd", "meta": "cmd", "escape": "esc", "return": "enter", "del": "delete"}


def to_pynput(combo: str) -> str:
    """``ctrl+alt+shift+k`` → ``<ctrl>+<alt>+<shift>+k`` (pynput's HotKey syntax); ``f5`` → ``<f5>``."""
    parts = []
    for raw in combo.lower().split("+"):
        key = _ALIASES.get(raw.strip(), raw.strip())
        if not key:
            raise ValueError(f"hotkey {combo!r} has an empty key")
        special = key in _SPECIAL or (key.startswith("f") and key[1:].isdigit())
        parts.append(f"<{key}>" if special else key)
    return "+".join(parts)


class GlobalHotkeys(QObject):
    """Listens for the configured combinations anywhere on the X display.

    Signals (emitted on pynput's listener thread):
        kill_switch(): the kill switch was pressed.
        pause_resume(): pause or resume the run.
        show_hide(): show or hide the window.
        teach_toggled(): start teaching by showing ("Show me"), or stop it.
        what_happened_pressed() / what_happened_released(): the what-just-happened combination (ask about the
            last minutes of the newest recording) is held / let go.
        automation_requested(str): run the saved automation with this name.
        push_to_talk_pressed() / push_to_talk_released(): the push-to-talk combination is held / let go.
    """

    kill_switch = pyqtSignal()
    pause_resume = pyqtSignal()
    show_hide = pyqtSignal()
    teach_toggled = pyqtSignal()
    what_happened_pressed = pyqtSignal()
    what_happened_released = pyqtSignal()
    automation_requested = pyqtSignal(str)
    push_to_talk_pressed = pyqtSignal()
    push_to_talk_released = pyqtSignal()

    def __init__(self, config: HotkeyConfig, parent: QObject | None = None) -> None:
        super().__init__(parent)
        config.bindings()  # raises ValueError on a conflict
        self._config = config
        self._listener: Any = None
        self._hotkeys: list[Any] = []
        self._holds: list[_Hold] = []
        self._held: set[Any] = set()
        self._lock = threading.Lock()
        self._key_type: Any = None

    @property
    def running(self) -> bool:
        return self._listener is not None

    def start(self) -> str | None:
        """Start listening; returns why global hotkeys are unavailable, or None when they work."""
        if self._listener is not None:
            return None
        try:
            from pynput import keyboard
        except ImportError as exc:
            reason = f"global hotkeys need an X11 session with the RECORD extension ({exc})"
            log.warning("%s", reason)
            return reason
        bindings: dict[str, Callable[[], object]] = {
            to_pynput(self._config.kill_switch): self._on_kill,
            to_pynput(self._config.pause_resume): self.pause_resume.emit,
            to_pynput(self._config.show_hide): self.show_hide.emit,
            to_pynput(self._config.teach): self.teach_toggled.emit,
        }
        for combo, name in self._config.automations.items():
            bindings[to_pynput(combo)] = functools.partial(self.automation_requested.emit, name)
        # One listener for everything: GlobalHotKeys only reports presses, push-to-talk needs the release.
        self._hotkeys = [keyboard.HotKey(keyboard.HotKey.parse(c), callback) for c, callback in bindings.items()]
        self._holds = [
            _Hold(set(keyboard.HotKey.parse(to_pynput(combo))), pressed.emit, released.emit)
            for combo, pressed, released in (
                (self._config.push_to_talk, self.push_to_talk_pressed, self.push_to_talk_released),
                (self._config.what_happened, self.what_happened_pressed, self.what_happened_released),
            )
        ]
        self._held.clear()
        self._key_type = keyboard.Key
        listener = keyboard.Listener(on_press=self._on_press, on_release=self._on_release)
        listener.daemon = True
        self._listener = listener
        listener.start()
        listener.wait()  # returns once the X RECORD context is live, so no key is missed after start()
        log.info("global hotkeys on: kill switch %s", self._config.kill_switch)
        return None

    def reconfigure(self, config: HotkeyConfig) -> str | None:
        """Listen for ``config``'s combinations instead (a settings change; no restart).

        Returns why global hotkeys are unavailable, or None when they work. Raises ValueError on a conflict.
        """
        config.bindings()
        self.stop()
        self._config = config
        problem = self.start()
        log.info("hotkeys registered again")
        return problem

    def stop(self) -> None:
        with self._lock:
            timers = [hold.timer for hold in self._holds if hold.timer is not None]
            for hold in self._holds:
                hold.timer = None
        for timer in timers:
            timer.cancel()
        listener, self._listener = self._listener, None
        if listener is None:
            return
        _disable_record_context(listener)
        listener.join(1.0)
        if listener.is_alive():
            try:
                listener.stop()
            except Exception as exc:  # noqa: BLE001 - its X connection may already be closed
                log.debug("hotkey listener stop: %s", exc)
            listener.join(1.0)
        if listener.is_alive():
            log.warning("the hotkey listener did not stop; it ends with the next key press")

    # --- pynput's listener thread --------------------------------------------------------------------

    def _on_press(self, key: Any) -> None:
        listener = self._listener
        if listener is None:
            return
        key = self._canonical(listener, key)
        for hotkey in self._hotkeys:
            hotkey.press(key)
        self._held.add(key)
        for hold in self._holds:
            self._press_hold(hold, key)

    def _press_hold(self, hold: _Hold, key: Any) -> None:
        with self._lock:
            timer, hold.timer = hold.timer, None
            if timer is not None and key in hold.keys:
                timer.cancel()  # the release just before was X autorepeat: still held
                return
            start = not hold.active and hold.keys <= self._held
            hold.active = hold.active or start
        if timer is not None:  # a press of another key: the release was real, let it fire
            timer.cancel()
            self._end_hold(hold)
        if start:
            hold.pressed()

    def _on_release(self, key: Any) -> None:
        listener = self._listener
        if listener is None:
            return
        key = self._canonical(listener, key)
        for hotkey in self._hotkeys:
            hotkey.release(key)
        self._held.discard(key)
        for hold in self._holds:
            with self._lock:
                if not hold.active or key not in hold.keys or hold.timer is not None:
                    continue
                timer = threading.Timer(AUTOREPEAT_GAP, self._end_hold, (hold,))
                timer.daemon = True
                hold.timer = timer
            timer.start()

    def _end_hold(self, hold: _Hold) -> None:
        """A held combination's keys were really let go (no autorepeat press followed)."""
        with self._lock:
            if not hold.active:
                return
            hold.active = False
            hold.timer = None
        hold.released()

    def _canonical(self, listener: Any, key: Any) -> Any:
        key = listener.canonical(key)
        alt = _META_TO_ALT.get(getattr(key, "vk", None) or 0)
        return getattr(self._key_type, alt) if alt and self._key_type is not None else key

    def _on_kill(self) -> None:
        log.warning("kill switch pressed")
        self.kill_switch.emit()


@dataclass(eq=False)
class _Hold:
    """A combination reported when held down and when let go (``pressed`` / ``released`` on pynput's thread)."""

    keys: set[Any]
    pressed: Callable[[], None]
    released: Callable[[], None]
    active: bool = False
    timer: threading.Timer | None = field(default=None, repr=False)


def _disable_record_context(listener: Any) -> None:
    """Work around pynput 1.8 on Xorg: ``stop()`` queues the XRecord disable on the listener's own,
    blocked connection, so the thread only ends at the next input event — and then raises
    ``ConnectionClosedError`` in its thread (moses-palmer/pynput PR #583). Disabling the context through
    the listener's control connection and flushing it ends the thread at once."""
    display, context = getattr(listener, "_display_stop", None), getattr(listener, "_context", None)
    if display is None or context is None:
        return
    try:
        display.record_disable_context(context)
        display.flush()
    except Exception as exc:  # noqa: BLE001 - best effort; stop() still runs
        log.debug("could not disable the XRecord context early: %s", exc)
