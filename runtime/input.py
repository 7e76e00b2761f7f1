"""The InputDevice port on X11: pyautogui for the pointer, xdotool for exact text and key combinations.

- pyautogui is imported lazily (it needs a display at import), with ``PAUSE = 0`` and ``FAILSAFE`` kept
  on: the pointer in a screen corner raises :class:`SafetyStop` (``reason="failsafe"``), the stop path.
- Text goes through ``xdotool type --delay 12 --file -`` (pyautogui drops non-ASCII and mangles ``<`` on
  X11; a shorter delay loses characters in Qt apps), hotkeys through ``xdotool key``. The text is written
  to xdotool's standard input, never into its arguments: every local user can read a process's argv.
- :meth:`PyAutoGuiInput.release_all` asks the X server which buttons and keys are down (python-xlib) and
  releases exactly those through XTest — also the ones a crash or an interrupted drag left pressed.
  Called from another thread (the stop request's), it also ends the action in flight, which then raises
  :class:`SafetyStop` (``reason="released"``): a drag is a series of small XTest moves that waits on a
  stop event between them, so it gives up within one wake-up instead of dragging on with the button up;
  the xdotool of a long ``type_text`` is terminated before the keymap is read (the text typed so far is
  a prefix of the text).
- A stop costs a few X round trips (on a busy CPU each waits for the X server to be scheduled):
  ``release_all`` keeps its private connection open (opening one is ~18 round trips: python-xlib queries
  every extension), and a drag moves and releases with single XTest requests (pyautogui's ``moveTo``
  spends four round trips, ``mouseUp`` five), each move after one pointer query, the fail-safe check.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import shutil
import subprocess
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any, Concatenate, ParamSpec, TypeVar

from omnidesk.agent.errors import InputError, NoDisplayError, SafetyStop
from omnidesk.agent.keys import MODIFIERS, KeyNameError, normalize_combo, to_xdotool
from omnidesk.runtime.keymap import SpareKeys

__all__ = ["PyAutoGuiInput"]

logger = logging.getLogger(__name__)

_BUTTONS = {"left": 1, "middle": 2, "right": 3}
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _own_input(method: Callable[Concatenate[PyAutoGuiInput, _P], _R]) -> Callable[Concatenate[PyAutoGuiInput, _P], _R]:
    """Run an input method inside :meth:`PyAutoGuiInput._acting`."""

    def wrapper(self: PyAutoGuiInput, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._acting():
            return method(self, *args, **kwargs)

    wrapper.__doc__ = method.__doc__
    return wrapper


_DRAG_STEPS = 12
_DRAG_STEP_SECONDS = 0.02
_MOTION, _BUTTON_UP = 6, 5  # Xlib.X.MotionNotify, Xlib.X.ButtonRelease (Xlib is imported lazily)


class PyAutoGuiInput:
    """Mouse and keyboard in virtual-desktop device pixels (the InputDevice port)."""

    def __init__(self, *, type_delay_ms: int = 12, drag_seconds: float = 0.15, xdotool: str = "xdotool") -> None:
        self._type_delay_ms = type_delay_ms
        self._drag_seconds = drag_seconds
        self._xdotool_name = xdotool
        self._gui_module: ModuleType | None = None
        self._busy_lock = threading.Lock()
        self._busy: list[tuple[float, float]] = []
        self._busy_since: float | None = None
        self._action_stop: threading.Event | None = None  # set by release_all: the action in flight stops
        self._child: subprocess.Popen[bytes] | None = None  # the xdotool in flight, ended by release_all
        self._spare_keys = SpareKeys()  # characters the keymap lacks, mapped before typing (runtime/keymap.py)
        self._release_lock = threading.Lock()
        self._release_display: Any = None  # release_all's own X connection, kept open (see the module doc)
        self._release_closer: weakref.finalize[Any, Any] | None = None

    @contextlib.contextmanager
    def _interruptible(self) -> Iterator[threading.Event]:
        """The stop event of the action in flight (see the module doc)."""
        stop = threading.Event()
        with self._busy_lock:
            self._action_stop = stop
        try:
            yield stop
        finally:
            with self._busy_lock:
                self._action_stop, self._child = None, None

    @contextlib.contextmanager
    def _acting(self) -> Iterator[None]:
        """Mark the time Omnidesk's own input is in flight (so it is not taken for the person's)."""
        with self._busy_lock:
            self._busy_since = time.monotonic()
        try:
            yield
        finally:
            with self._busy_lock:
                start, self._busy_since = self._busy_since or time.monotonic(), None
                self._busy.append((start, time.monotonic()))
                del self._busy[:-64]

    def own_input_at(self, timestamp: float, slack: float) -> bool:
        """Whether ``timestamp`` (monotonic) falls in or just after one of Omnidesk's own actions."""
        with self._busy_lock:
            if self._busy_since is not None and timestamp >= self._busy_since - slack:
                return True
            return any(start - slack <= timestamp <= end + slack for start, end in self._busy)

    # --- setup ------------------------------------------------------------------------------------------

    def _gui(self) -> ModuleType:
        if self._gui_module is not None:
            return self._gui_module
        from Xlib import error as xerror

        try:
            with warnings.catch_warnings():
                # pyautogui's import chain (pyscreeze) leaves a `which scrot` pipe to the collector
                warnings.simplefilter("ignore", ResourceWarning)
                import pyautogui
                from pyautogui import _pyautogui_x11 as x11
                from Xlib.display import Display

                gc.collect()
        except (ImportError, KeyError) as exc:  # KeyError: no DISPLAY at import
            raise NoDisplayError(
                "mouse and keyboard control needs an X11 display (DISPLAY is not set or not reachable)"
            ) from exc
        except (xerror.DisplayError, xerror.ConnectionClosedError, OSError) as exc:
            raise NoDisplayError(f"cannot reach the X display for mouse and keyboard control: {exc}") from exc
        pyautogui.PAUSE = 0
        pyautogui.FAILSAFE = True
        current = Display()
        if current.get_display_name() != x11._display.get_display_name():
            # pyautogui binds the display of its first import; follow the display this process uses now.
            with contextlib.suppress(xerror.ConnectionClosedError, OSError):
                x11._display.close()
            x11._display = current
        else:
            current.close()
        screen = x11._display.screen()
        right, bottom = screen.width_in_pixels, screen.height_in_pixels
        pyautogui.FAILSAFE_POINTS[:] = [(0, 0), (0, bottom - 1), (right - 1, 0), (right - 1, bottom - 1)]
        self._gui_module = pyautogui
        with self._release_lock, contextlib.suppress(InputError):  # opened now, so a stop need not wait for it
            self._release_connection()
        return self._gui_module

    def _x(self) -> Any:
        """pyautogui's X connection (the acting thread's; never used by ``release_all``)."""
        self._gui()
        from pyautogui import _pyautogui_x11 as x11

        return x11._display

    def _call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        gui = self._gui()
        try:
            return func(*args, **kwargs)
        except gui.FailSafeException as exc:
            raise SafetyStop(
                "stopped: the pointer was moved into a screen corner (fail-safe)", reason="failsafe"
            ) from exc
        except (gui.PyAutoGUIException, OSError, ValueError) as exc:
            raise InputError(f"could not {what}: {exc}") from exc

    def _failsafe_check(self) -> None:
        gui = self._gui()
        self._call("check the fail-safe", gui.failSafeCheck)

    def _xdotool(self, *args: str, stdin: bytes | None = None, timeout: float = 30.0) -> None:
        path = shutil.which(self._xdotool_name)
        if path is None:
            raise InputError("xdotool is not installed; install it (apt install xdotool) to type text and keys")
        with self._interruptible() as stop:
            try:
                child = subprocess.Popen(
                    [path, *args],
                    stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            except OSError as exc:
                raise InputError(f"could not start xdotool: {exc}") from exc
            with self._busy_lock:
                self._child = child
            if stop.is_set():  # the stop came while it started
                child.terminate()
            try:
                _, err = child.communicate(stdin, timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                child.kill()
                child.communicate()
                raise InputError(f"xdotool {args[0]} did not finish in {timeout:.0f} s") from exc
        if stop.is_set():
            raise SafetyStop(f"stopped: xdotool {args[0]} was interrupted (keys released)", reason="released")
        if child.returncode != 0:
            message = err.decode(errors="replace").strip()
            raise InputError(f"xdotool {args[0]} failed: {message or child.returncode}")

    # --- the port ---------------------------------------------------------------------------------------

    def position(self) -> tuple[int, int]:
        gui = self._gui()
        x, y = self._call("read the pointer position", gui.position)
        return int(x), int(y)

    @_own_input
    def move(self, x: int, y: int) -> None:
        gui = self._gui()
        self._call("move the pointer", gui.moveTo, x, y)

    @_own_input
    def click(self, x: int, y: int, *, button: str = "left", count: int = 1, modifiers: Sequence[str] = ()) -> None:
        gui = self._gui()
        if button not in _BUTTONS:
            raise InputError(f"unknown mouse button {button!r}")
        mods = self._modifiers(modifiers)
        pressed: list[str] = []
        try:
            for mod in mods:
                self._call("hold a modifier", gui.keyDown, mod)
                pressed.append(mod)
            self._call("click", gui.click, x, y, clicks=count, interval=0.05, button=button)
        finally:

            def release_modifiers() -> None:
                for mod in reversed(pressed):
                    self._call("release a modifier", gui.keyUp, mod)

            self._release(release_modifiers)

    @_own_input
    def drag(self, x0: int, y0: int, x1: int, y1: int, *, button: str = "left") -> None:
        gui = self._gui()
        if button not in _BUTTONS:
            raise InputError(f"unknown mouse button {button!r}")
        with self._interruptible() as stop:
            self._call("move to the drag start", gui.moveTo, x0, y0)
            self._call("press for the drag", gui.mouseDown, button=button)
            try:
                self._drag_moves((x0, y0, x1, y1), stop)
            finally:  # also after release_all: a release of a button that is already up changes nothing
                self._release(lambda: self._fake("release the drag", _BUTTON_UP, _BUTTONS[button]))

    def _drag_moves(self, line: tuple[int, int, int, int], stop: threading.Event) -> None:
        """Small moves along ``line`` (toolkits need intermediate motion to start a drag), ``drag_seconds``
        in all, waiting on ``stop`` between them; before each move the fail-safe corners are checked."""
        x0, y0, x1, y1 = line
        steps = max(_DRAG_STEPS, math.ceil(self._drag_seconds / _DRAG_STEP_SECONDS))
        pause = self._drag_seconds / steps
        for i in range(steps + 1):
            if stop.wait(pause if i else 0):
                raise SafetyStop(
                    f"stopped: the drag was interrupted after {i} of {steps} moves (buttons released)",
                    reason="released",
                )
            if i:
                point = round(x0 + (x1 - x0) * i / steps), round(y0 + (y1 - y0) * i / steps)
                self._fake("drag", _MOTION, at=point)

    def _fake(self, what: str, kind: int, detail: int = 0, *, at: tuple[int, int] | None = None) -> None:
        """One XTest event on pyautogui's connection and one round trip: for a move (``at``), a pointer
        query first, the fail-safe check (as pyautogui's: a corner the pointer was not sent to); then a
        sync, so the X server has handled the event before the next."""
        from Xlib import error as xerror
        from Xlib.ext import xtest

        display, corners = self._x(), self._gui().FAILSAFE_POINTS
        try:
            if at is not None:
                pointer = display.screen().root.query_pointer()
                if (pointer.root_x, pointer.root_y) in corners:
                    raise SafetyStop(
                        "stopped: the pointer was moved into a screen corner (fail-safe)", reason="failsafe"
                    )
                xtest.fake_input(display, kind, x=at[0], y=at[1])
            else:
                xtest.fake_input(display, kind, detail)
            display.sync()
        except (xerror.XError, xerror.ConnectionClosedError, OSError) as exc:
            raise InputError(f"could not {what}: {exc}") from exc

    def _release(self, release: Callable[[], object]) -> None:
        """Release what an action pressed; if pyautogui refuses (the fail-safe trips again), release
        everything through the X server directly so nothing stays pressed."""
        try:
            release()
        except (SafetyStop, InputError):
            self.release_all()
            raise

    @_own_input
    def scroll(self, x: int | None, y: int | None, *, dx: int = 0, dy: int = 0) -> None:
        gui = self._gui()
        if x is not None and y is not None:
            self._call("move to the scroll point", gui.moveTo, x, y)
        if dy:
            self._call("scroll", gui.scroll, dy)
        if dx:
            self._call("scroll sideways", gui.hscroll, dx)

    @_own_input
    def type_text(self, text: str) -> None:
        """Type exactly ``text`` (unicode, ``<``, newlines) with xdotool, the text on its standard input.

        A line break is pressed as the Return key, as a person ends a line: typed by xdotool it never reached
        GTK's or Qt's text views as Enter (the lines of a multi-line text ran together in mousepad and
        featherpad).
        """
        if not text:
            return
        self._failsafe_check()
        lines = text.replace("\r\n", "\n").split("\n")
        self._spare_keys.ensure("".join(lines))
        try:
            for n, line in enumerate(lines):
                if n:
                    self._xdotool("key", "--clearmodifiers", "Return")
                if line:
                    timeout = 30.0 + len(line) * (self._type_delay_ms / 1000) * 4
                    stdin = line.encode("utf-8")
                    self._xdotool(
                        "type", "--delay", str(self._type_delay_ms), "--file", "-", stdin=stdin, timeout=timeout
                    )
        finally:
            self._spare_keys.release_later()

    @_own_input
    def hotkey(self, keys: Sequence[str]) -> None:
        try:
            combo = normalize_combo(list(keys))
        except KeyNameError as exc:
            raise InputError(str(exc)) from exc
        self._failsafe_check()
        self._xdotool("key", "--clearmodifiers", "--", "+".join(to_xdotool(k) for k in combo))

    def close(self) -> None:
        """Give back the spare keycodes the last typing mapped (they are given back soon anyway) and close
        ``release_all``'s connection (a later call opens a new one)."""
        self._spare_keys.release()
        with self._release_lock:
            self._drop_release_connection()

    @_own_input
    def release_all(self) -> None:
        """Release every mouse button and key the X server reports as held.

        Uses a private X connection, kept open: a stop request calls this from another thread while the
        loop's thread may be inside pyautogui, and Xlib connections are not thread-safe. A drag in flight
        stops at its next move (see the module doc).
        """
        with self._busy_lock:
            if self._action_stop is not None:
                self._action_stop.set()
            child = self._child
        if child is not None:  # end the typing first, so the keymap read below is final
            child.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(2)
        self._gui()
        from Xlib import error as xerror

        with self._release_lock:
            for attempt in range(2):
                try:
                    self._release_held(self._release_connection())
                    return
                except (xerror.ConnectionClosedError, OSError) as exc:  # the server went away: reconnect once
                    self._drop_release_connection()
                    if attempt:
                        raise InputError(f"could not release held keys and buttons: {exc}") from exc
                except xerror.XError as exc:
                    raise InputError(f"could not release held keys and buttons: {exc}") from exc

    @staticmethod
    def _release_held(display: Any) -> None:
        from Xlib import X
        from Xlib.ext import xtest

        mask = display.screen().root.query_pointer().mask
        for number, flag in ((1, X.Button1Mask), (2, X.Button2Mask), (3, X.Button3Mask)):
            if mask & flag:
                xtest.fake_input(display, X.ButtonRelease, number)
        keymap = display.query_keymap()
        for byte_index, byte in enumerate(keymap):
            for bit in range(8):
                if byte & (1 << bit):
                    xtest.fake_input(display, X.KeyRelease, byte_index * 8 + bit)
        display.sync()

    def _release_connection(self) -> Any:
        """``release_all``'s X connection to pyautogui's display, opened on first use (hold the lock)."""
        if self._release_display is not None:
            return self._release_display
        from pyautogui import _pyautogui_x11 as x11
        from Xlib import error as xerror
        from Xlib.display import Display

        try:
            display = Display(x11._display.get_display_name())
        except (xerror.DisplayError, xerror.ConnectionClosedError, OSError) as exc:
            raise InputError(f"could not reach the X display to release held keys and buttons: {exc}") from exc
        self._release_display = display
        self._release_closer = weakref.finalize(self, _close_quietly, display)  # closed with this object
        return display

    def _drop_release_connection(self) -> None:
        if self._release_closer is not None:
            self._release_closer()  # closes it, once
        self._release_display, self._release_closer = None, None

    @staticmethod
    def _modifiers(modifiers: Sequence[str]) -> list[str]:
        if not modifiers:
            return []
        try:
            combo = normalize_combo(list(modifiers))
        except KeyNameError as exc:
            raise InputError(str(exc)) from exc
        if any(k not in MODIFIERS for k in combo):
            raise InputError(f"click modifiers must be ctrl/alt/shift/super, got {list(modifiers)}")
        return ["win" if k == "super" else k for k in combo]


def _close_quietly(display: Any) -> None:
    from Xlib import error as xerror

    with contextlib.suppress(xerror.ConnectionClosedError, OSError):
        display.close()
