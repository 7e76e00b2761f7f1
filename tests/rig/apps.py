"""Real Debian applications on the rig, started on the accessibility bus and waited for until they show.

    app = launch_app("galculator", bus=a11y_bus, accessibility=port, display=":5", workdir=tmp)
    tree = app.tree()                  # the AccessibleTree the port reads, boxes in device pixels
    app.close()

`APPS` lists the applications the evaluation uses (installed by `installer/install.sh --dev`): GTK 3 —
galculator (a calculator), mousepad (an editor, with its file dialogs), gtk3-demo (forms, a password entry
in its "entry_buffer" demo); Qt 5 — featherpad (an editor). The Qt 6 target app has its own launcher
(`tests/rig/target_client.py`). Each gets a private HOME and XDG directories under `workdir`, in-memory
GSettings, and this bus; a `scale` sets the toolkit's own factor (GTK 3 takes integers only — 1.5 would
silently be 1 — so it is refused; a real HiDPI desktop also sets `Xft.dpi`, which is the display's, not an
application's). The GTK applications and featherpad are single-instance per session bus: start each once.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from omnidesk.agent.errors import AccessibilityError
from omnidesk.agent.ports import AccessibilityPort, AccessibleApp, AccessibleTree
from tests.rig import wait_until
from tests.rig.a11y import A11yBus

__all__ = ["APPS", "AppSpec", "RunningApp", "activate_window", "launch_app"]

READY_TIMEOUT = 45.0
_launches = itertools.count(1)


@dataclass(frozen=True)
class AppSpec:
    """How to start one application and recognise it on the bus."""

    key: str
    argv: tuple[str, ...]
    package: str
    toolkit: Literal["gtk3", "qt5", "qt6"]
    what: str


APPS: dict[str, AppSpec] = {
    spec.key: spec
    for spec in (
        AppSpec("galculator", ("galculator",), "galculator", "gtk3", "a calculator"),
        AppSpec("mousepad", ("mousepad",), "mousepad", "gtk3", "a text editor"),
        AppSpec("gtk3-demo", ("gtk3-demo",), "gtk-3-examples", "gtk3", "GTK 3 widget demos"),
        AppSpec(
            "gtk3-demo-entry",
            ("gtk3-demo", "--run", "entry_buffer"),
            "gtk-3-examples",
            "gtk3",
            "a text entry and a password entry",
        ),
        AppSpec("featherpad", ("featherpad",), "featherpad", "qt5", "a text editor"),
    )
}


@dataclass
class RunningApp:
    """A launched application: its process, its entry on the accessibility bus, its log."""

    spec: AppSpec
    process: subprocess.Popen[bytes]
    app: AccessibleApp
    accessibility: AccessibilityPort
    log_path: Path

    def tree(self, *, showing_only: bool = True, window: str | None = None, text: bool = False) -> AccessibleTree:
        """The application's element tree as the port reads it now."""
        return self.accessibility.tree(self.app, showing_only=showing_only, window=window, text=text)

    def close(self, timeout: float = 10.0) -> int:
        """Terminate the application (and anything it started) and reap it; returns its exit status."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.wait()


def activate_window(display: str, pid: int, title: str) -> int:
    """Raise and activate the window of process `pid` titled `title` through the window manager (EWMH
    `_NET_ACTIVE_WINDOW`, what a click on it does); returns once X reports it active. Returns its id."""
    from omnidesk.runtime.windows import X11WindowInspector

    inspector = X11WindowInspector(display)
    try:
        found = [w for w in inspector.windows() if w.pid == pid and w.title == title]
    finally:
        inspector.close()
    if len(found) != 1:
        raise RuntimeError(f"{len(found)} windows of process {pid} titled {title!r}")
    env = {"DISPLAY": display, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    subprocess.run(["xdotool", "windowactivate", "--sync", str(found[0].window_id)], env=env, check=True, timeout=10)
    return found[0].window_id


def _scale_env(spec: AppSpec, scale: float) -> dict[str, str]:
    if scale == 1.0:
        return {}
    if spec.toolkit == "gtk3":
        if scale != int(scale):
            raise ValueError(f"GTK 3 on X11 scales by integers only; {scale} would be 1 (text alone: Xft.dpi)")
        return {"GDK_SCALE": str(int(scale))}
    return {"QT_SCALE_FACTOR": str(scale)}


def _showing(port: AccessibilityPort, app: AccessibleApp) -> bool:
    try:
        tree = port.tree(app, showing_only=True, max_elements=16)
    except AccessibilityError:
        return False
    return any(window.box is not None for window in tree.windows)


def launch_app(
    spec: AppSpec | str,
    *,
    bus: A11yBus,
    accessibility: AccessibilityPort,
    display: str,
    workdir: Path,
    scale: float = 1.0,
    env: Mapping[str, str] | None = None,
    timeout: float = READY_TIMEOUT,
) -> RunningApp:
    """Start an application on `display` and `bus`; return once it is on the bus with a window showing.

    Raises:
        RuntimeError: it is not installed, exited, or did not show up within `timeout` (log tail included).
    """
    spec = APPS[spec] if isinstance(spec, str) else spec
    home = workdir / f"home-{spec.key}-{next(_launches)}"
    for sub in ("config", "data", "cache"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    child_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_RUNTIME_DIR": str(bus.runtime_dir),
        "GSETTINGS_BACKEND": "memory",
        "QT_QPA_PLATFORM": "xcb",
        **bus.app_env(display),
        **_scale_env(spec, scale),
        **(env or {}),
    }
    log_path = home / f"{spec.key}.log"
    with bus.published(display) if spec.toolkit == "qt5" else contextlib.nullcontext():
        return _start(spec, child_env, home, log_path, accessibility, timeout)


def _start(
    spec: AppSpec,
    child_env: dict[str, str],
    home: Path,
    log_path: Path,
    accessibility: AccessibilityPort,
    timeout: float,
) -> RunningApp:
    try:
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                list(spec.argv),
                env=child_env,
                cwd=home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except FileNotFoundError as exc:
        raise RuntimeError(f"{spec.argv[0]} is not installed: install the Debian package {spec.package}") from exc
    started = time.monotonic()

    def _on_bus() -> AccessibleApp | None:
        if process.poll() is not None:
            raise RuntimeError(f"{spec.key} exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            apps = accessibility.applications()
        except AccessibilityError:
            return None
        mine = next((a for a in apps if a.pid == process.pid), None)
        return mine if mine is not None and _showing(accessibility, mine) else None

    try:
        app = wait_until(_on_bus, timeout, f"{spec.key} to show a window on the accessibility bus", interval=0.1)
    except TimeoutError as exc:
        RunningApp(spec, process, AccessibleApp(spec.key, None, "", "", ""), accessibility, log_path).close()
        raise RuntimeError(f"{exc} ({time.monotonic() - started:.1f} s):\n{_tail(log_path)}") from exc
    except BaseException:
        RunningApp(spec, process, AccessibleApp(spec.key, None, "", "", ""), accessibility, log_path).close()
        raise
    return RunningApp(spec, process, app, accessibility, log_path)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
