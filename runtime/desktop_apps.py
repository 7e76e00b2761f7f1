"""Real desktop applications started for an evaluation task, in a private home folder, and waited for until
their window shows on the accessibility bus.

:class:`DesktopApps` knows the applications the task suite uses (Debian packages: galculator, mousepad,
featherpad, gtk3-demo) and starts one with its own ``HOME`` and XDG folders (so nothing of the person's
configuration is read or changed), in-memory GSettings, and accessibility turned on for Qt (which joins
the bus only when asked at start-up). :meth:`LaunchedApp.close` ends it and what it started.

The GTK applications and featherpad are single-instance per desktop session: started while one already
runs, they hand their arguments to it and exit — which is reported as a set-up error saying so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from omnidesk.agent.errors import AccessibilityError, EvalError
from omnidesk.agent.ports import AccessibilityPort, AccessibleApp, AccessibleTree

__all__ = ["APPLICATIONS", "Application", "DesktopApps", "LaunchedApp"]

log = logging.getLogger(__name__)

# What an application started for a task keeps of this process's environment (the desktop session).
_SESSION_VARIABLES = (
    "PATH",
    "DISPLAY",
    "XAUTHORITY",
    "DBUS_SESSION_BUS_ADDRESS",
    "AT_SPI_BUS_ADDRESS",
    "XDG_RUNTIME_DIR",
    "XDG_SESSION_TYPE",
    "LANG",
    "LC_ALL",
)


@dataclass(frozen=True, slots=True)
class Application:
    """How to start one application (``argv`` before the task's arguments) and which package brings it."""

    key: str
    argv: tuple[str, ...]
    package: str
    toolkit: Literal["gtk3", "qt5", "qt6"]
    what: str


APPLICATIONS: dict[str, Application] = {
    app.key: app
    for app in (
        Application("galculator", ("galculator",), "galculator", "gtk3", "a calculator"),
        Application("mousepad", ("mousepad",), "mousepad", "gtk3", "a text editor with GTK file dialogs"),
        Application("featherpad", ("featherpad",), "featherpad", "qt5", "a text editor"),
        Application("gtk3-demo", ("gtk3-demo", "--run"), "gtk-3-examples", "gtk3", "GTK 3 forms: entries, spins"),
    )
}


@dataclass
class LaunchedApp:
    """A running application: its process, its entry on the accessibility bus, its log file."""

    application: Application
    process: subprocess.Popen[bytes]
    app: AccessibleApp
    accessibility: AccessibilityPort
    log_path: Path

    def tree(self, *, window: str | None = None) -> AccessibleTree:
        """Its element tree now: showing elements, with text contents.

        Raises:
            AccessibilityError: it or the bus did not answer.
        """
        return self.accessibility.tree(self.app, window=window, showing_only=True, text=True)

    def close(self, timeout: float = 10.0) -> int:
        """End it (and what it started) and reap it; returns its exit status."""
        return _stop(self.process, timeout)


def _stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    return process.wait()


def _tail(path: Path, lines: int = 12) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class DesktopApps:
    """Starts the task suite's applications on this desktop (see the module doc).

    ``environ`` is the desktop session the applications join; ``accessibility`` finds them on the bus.
    """

    def __init__(
        self,
        environ: Mapping[str, str],
        accessibility: AccessibilityPort,
        *,
        applications: Mapping[str, Application] | None = None,
        ready_timeout: float = 45.0,
    ) -> None:
        self._environ = {k: environ[k] for k in _SESSION_VARIABLES if k in environ}
        self._accessibility = accessibility
        self._applications = dict(applications if applications is not None else APPLICATIONS)
        self._ready_timeout = ready_timeout

    def application(self, key: str) -> Application:
        """The application ``key``.

        Raises:
            EvalError: no such application in the list.
        """
        try:
            return self._applications[key]
        except KeyError:
            known = ", ".join(sorted(self._applications))
            raise EvalError(f"no application {key!r} in the task suite's list ({known})") from None

    def launch(self, key: str, args: Sequence[str], home: Path) -> LaunchedApp:
        """Start ``key`` with ``args`` and ``home`` as its home folder; return once its window shows on the bus.

        Raises:
            EvalError: not installed, exited, or not on the accessibility bus in time (the reason and
                the log's tail say what to do).
        """
        application = self.application(key)
        for sub in ("config", "data", "cache"):
            (home / f".{sub}").mkdir(parents=True, exist_ok=True)
        env = {
            "LANG": "C.UTF-8",
            **self._environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".data"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "GSETTINGS_BACKEND": "memory",
            "QT_QPA_PLATFORM": "xcb",
            "QT_LINUX_ACCESSIBILITY_ALWAYS_ON": "1",
        }
        log_path = home / f".{application.key}.log"
        try:
            with log_path.open("wb") as log_file:
                process = subprocess.Popen(
                    [*application.argv, *args],
                    env=env,
                    cwd=home,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except FileNotFoundError as exc:
            raise EvalError(
                f"{application.argv[0]} is not installed: install the package {application.package} "
                "(installer/install.sh --dev installs every application of the task suite)"
            ) from exc
        try:
            app = self._wait_on_bus(application, process, log_path)
        except BaseException:
            _stop(process)
            raise
        log.info("%s (pid %d) is on the accessibility bus", application.key, process.pid)
        return LaunchedApp(application, process, app, self._accessibility, log_path)

    def _wait_on_bus(self, application: Application, process: subprocess.Popen[bytes], log_path: Path) -> AccessibleApp:
        started = time.monotonic()
        reason = "the accessibility bus did not answer"
        while time.monotonic() - started < self._ready_timeout:
            if process.poll() is not None:
                raise EvalError(
                    f"{application.key} exited with status {process.returncode} before its window showed (an "
                    f"instance already running takes over a second one: close it first):\n{_tail(log_path)}"
                )
            try:
                mine = next((a for a in self._accessibility.applications() if a.pid == process.pid), None)
                if mine is not None:
                    tree = self._accessibility.tree(mine, showing_only=True, max_elements=16)
                    if any(window.box is not None for window in tree.windows):
                        return mine
                    reason = "it is on the accessibility bus but shows no window"
                else:
                    reason = "it has not joined the accessibility bus"
            except AccessibilityError as exc:
                reason = str(exc)
            time.sleep(0.1)
        raise EvalError(
            f"{application.key} did not show a window on the accessibility bus within "
            f"{self._ready_timeout:.0f} s ({reason}); `omnidesk doctor` says how to turn accessibility on:\n"
            f"{_tail(log_path)}"
        )
