"""The test-side handle to the Qt target app (`target_app.py`) running in its own process.

A reader thread parses the app's JSON lines into a list guarded by a condition variable, so tests
wait on the event they expect instead of sleeping.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["TargetApp", "launch_target"]

APP_SCRIPT = Path(__file__).with_name("target_app.py")
READY_TIMEOUT = 60.0
_launches = itertools.count(1)
Event = dict[str, Any]
Matcher = Callable[[Event], bool] | Mapping[str, Any]


def _matches(event: Event, match: Matcher) -> bool:
    if callable(match):
        return bool(match(event))
    for key, expected in match.items():
        if key not in event:
            return False
        actual = event[key]
        if callable(expected):
            if not expected(actual):
                return False
        elif isinstance(expected, tuple):
            if list(actual) != list(expected):
                return False
        elif actual != expected:
            return False
    return True


class TargetApp:
    """A running target app: its reports, its geometry, and commands to it.

    `events` holds every report since the last `clear()`; `wait_for` returns the first one that
    matches. Rects are `(x, y, w, h)` in device pixels of the X virtual desktop.
    """

    def __init__(self, process: subprocess.Popen[str], stderr_path: Path, display: str) -> None:
        self.process = process
        self.display = display
        self._stderr_path = stderr_path
        self._events: list[Event] = []
        self._all: list[Event] = []
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._closed = False
        self.ready: Event = {}
        self._geometry: Event = {}
        self._reader = threading.Thread(target=self._read, name=f"target-app-{process.pid}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = {"type": "stdout", "text": line.rstrip("\n")}
            with self._cond:
                if "widgets" in event and event["type"] in ("ready", "reply", "dialog_shown"):
                    self._geometry = event
                self._events.append(event)
                self._all.append(event)
                self._cond.notify_all()
        with self._cond:
            self._events.append({"type": "eof"})
            self._cond.notify_all()

    @property
    def events(self) -> list[Event]:
        """A snapshot of the reports since the last `clear()`."""
        with self._cond:
            return list(self._events)

    def clear(self) -> None:
        """Forget the reports seen so far (geometry is kept)."""
        with self._cond:
            self._events.clear()

    def stderr_tail(self, lines: int = 20) -> str:
        """The last lines the app wrote to stderr."""
        try:
            return "\n".join(self._stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_for(self, match: Matcher, timeout: float = 5.0) -> Event:
        """Return the first report since `clear()` that matches, waiting up to `timeout` seconds.

        `match` is a predicate on the event or a dict whose items must all be in the event (values
        may themselves be predicates). Raises AssertionError listing what was seen.
        """
        with self._cond:
            found = self._cond.wait_for(
                lambda: (
                    next((e for e in self._events if _matches(e, match)), None)
                    or (self._events and self._events[-1]["type"] == "eof")
                ),
                timeout,
            )
            events = list(self._events)
        if isinstance(found, dict) and found.get("type") != "eof":
            return found
        for event in events:
            if _matches(event, match):
                return event
        shown = "\n  ".join(json.dumps(e)[:300] for e in events[-40:]) or "(none)"
        state = "running" if self.process.poll() is None else f"exited with {self.process.returncode}"
        raise AssertionError(
            f"target app ({state}) reported nothing matching {match!r} within {timeout} s; "
            f"{len(events)} events since clear():\n  {shown}\nstderr:\n{self.stderr_tail()}"
        )

    def send(self, command: Mapping[str, Any]) -> None:
        """Write one JSON command to the app's stdin."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(dict(command)) + "\n")
        self.process.stdin.flush()

    def request(self, command: Mapping[str, Any], timeout: float = 15.0) -> Event:
        """Send a command and wait for its reply, which carries fresh geometry."""
        reply_id = next(self._ids)
        self.send({**command, "id": reply_id})
        with self._cond:
            ok = self._cond.wait_for(
                lambda: any(e.get("id") == reply_id for e in self._all) or self.process.poll() is not None,
                timeout,
            )
            reply = next((e for e in self._all if e.get("id") == reply_id), None)
        if not ok or reply is None:
            raise AssertionError(f"no reply to {command!r} within {timeout} s\n{self.stderr_tail()}")
        if reply["type"] == "error":
            raise AssertionError(f"target app rejected {command!r}: {reply['message']}")
        return reply

    def refresh(self) -> Event:
        """Re-read every widget's geometry from the app."""
        return self.request({"cmd": "widgets"})

    def move(self, x: int, y: int) -> Event:
        """Move the window's top-left to device pixel (x, y) and return the new geometry."""
        return self.request({"cmd": "move", "x": x, "y": y})

    def set_title(self, title: str) -> Event:
        """Change the window title."""
        return self.request({"cmd": "set_title", "title": title})

    @property
    def geometry(self) -> Event:
        """The latest geometry report (the `ready` line or a command's reply)."""
        with self._cond:
            return self._geometry

    def widget_rect(self, name: str) -> tuple[int, int, int, int]:
        """A widget's rect in device pixels; the window's own rect under the name "window"."""
        geometry = self.geometry
        if name == "window":
            rect = geometry["window"]
        elif name in geometry["widgets"]:
            rect = geometry["widgets"][name]
        elif name in geometry.get("items", {}):
            rect = geometry["items"][name]
        else:
            raise KeyError(f"no widget {name!r}; known: {sorted(geometry['widgets'])}")
        x, y, w, h = rect
        return int(x), int(y), int(w), int(h)

    def widget_center(self, name: str) -> tuple[int, int]:
        """The centre pixel of a widget (or list item) in device pixels."""
        x, y, w, h = self.widget_rect(name)
        return x + w // 2, y + h // 2

    def save_png(self, path: Path | str) -> Path:
        """Grab the window's pixels from the X server with mss and save them as PNG."""
        import mss
        import mss.tools

        x, y, w, h = self.widget_rect("window")
        with mss.MSS(display=self.display) as grabber:
            shot = grabber.grab({"left": x, "top": y, "width": w, "height": h})
        mss.tools.to_png(shot.rgb, shot.size, output=str(path))
        return Path(path)

    def close(self, timeout: float = 10.0) -> int:
        """Ask the app to quit, kill it if it does not, and reap it; returns its exit status."""
        if not self._closed:
            self._closed = True
            if self.process.poll() is None:
                with contextlib.suppress(BrokenPipeError, OSError, ValueError):
                    self.send({"cmd": "quit"})
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
            self.process.wait()
            self._reader.join(timeout)
            for stream in (self.process.stdin, self.process.stdout):
                if stream is not None:
                    with contextlib.suppress(BrokenPipeError, OSError):
                        stream.close()
        return int(self.process.returncode)


def launch_target(
    log_dir: Path,
    x: int = 100,
    y: int = 100,
    width: int = 800,
    height: int = 600,
    scale: float = 1.0,
    title: str = "Omnidesk Target",
    screen: str | int | None = None,
    env: Mapping[str, str] | None = None,
    ready_timeout: float = READY_TIMEOUT,
    wm_class: tuple[str, str] | None = None,
    font_px: int | None = None,
) -> TargetApp:
    """Start the target app on the current `DISPLAY` and wait for its `ready` report.

    Geometry is in device pixels of the X virtual desktop (relative to `screen`'s origin when it
    names an output such as "DUMMY1" or an index); `scale` becomes `QT_SCALE_FACTOR`; `wm_class` is the
    window's WM_CLASS (instance, class); `font_px` the application font's pixel size (logical).
    """
    child_env = dict(os.environ if env is None else env)
    if "DISPLAY" not in child_env:
        raise RuntimeError("no DISPLAY: use the x_display or dual_monitor_display fixture")
    child_env["QT_QPA_PLATFORM"] = "xcb"
    child_env["PYTHONWARNINGS"] = "error"
    for name in ("QT_SCALE_FACTOR", "QT_SCREEN_SCALE_FACTORS", "QT_AUTO_SCREEN_SCALE_FACTOR"):
        child_env.pop(name, None)
    if scale != 1.0:
        child_env["QT_SCALE_FACTOR"] = str(scale)
    argv = [sys.executable, "-u", str(APP_SCRIPT), "--x", str(x), "--y", str(y)]
    argv += ["--width", str(width), "--height", str(height), "--title", title]
    if screen is not None:
        argv += ["--screen", str(screen)]
    if wm_class is not None:
        argv += ["--wm-class", ",".join(wm_class)]
    if font_px is not None:
        argv += ["--font-px", str(font_px)]
    log_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = log_dir / f"target-app-{os.getpid()}-{next(_launches)}.stderr"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            argv,
            env=child_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
    app = TargetApp(process, stderr_path, child_env["DISPLAY"])
    try:
        app.ready = app.wait_for({"type": "ready"}, timeout=ready_timeout)
    except BaseException:
        app.close()
        raise
    return app
