"""A private session D-Bus with an accessibility bus, for desktop tests that read the AT-SPI tree.

`start_a11y_bus` runs `dbus-daemon` (session configuration, on a socket in the work directory) and
`at-spi-bus-launcher --launch-immediately --a11y=1`, and returns once `org.a11y.Bus` hands out the
accessibility bus — so applications started afterwards find it (Qt decides at start-up and never looks
again). Nothing leaks into the rest of the test session: the launcher runs without DISPLAY, so it does not
publish the bus on the X root window (`AT_SPI_BUS`), and only processes given this bus's environment see
it. Applications get `A11yBus.app_env` (with `AT_SPI_BUS_ADDRESS`, which GTK and Qt 6 read); Omnidesk's
adapter gets `A11yBus.env` and finds the bus itself, through the session bus.

Qt 5.15 (Debian 12's featherpad) does not get there reliably through the session bus: in about half the
starts on a loaded machine it connected to the accessibility bus and never served its tree, even with the
variable set. On a desktop the launcher also publishes the address on the X root window, which Qt 5 reads
at start-up, and that worked every time; `A11yBus.published(display)` does the same for as long as a Qt 5
application starts.

`--a11y=1` turns accessibility on for this bus alone; it never writes the `toolkit-accessibility` setting
that a D-Bus call to `org.a11y.Status.IsEnabled` would.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.rig import wait_until

__all__ = ["A11yBus", "find_launcher", "start_a11y_bus"]

_START_TIMEOUT = 20.0
_LAUNCHERS = (
    "/usr/libexec/at-spi-bus-launcher",  # Debian, Ubuntu, Fedora
    "/usr/lib/at-spi2-core/at-spi-bus-launcher",  # older Debian and Ubuntu
    "/usr/lib/at-spi-bus-launcher",  # Arch
)


def find_launcher() -> str:
    """The at-spi bus launcher's path; RuntimeError naming the package when it is not installed."""
    for path in _LAUNCHERS:
        if os.access(path, os.X_OK):
            return path
    raise RuntimeError("at-spi-bus-launcher not found: install at-spi2-core (installer/install.sh --dev)")


def _base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {name: os.environ[name] for name in keep if name in os.environ}


@dataclass
class A11yBus:
    """A running session bus (`address`) whose `org.a11y.Bus` hands out a private accessibility bus."""

    address: str
    a11y_address: str
    runtime_dir: Path
    daemon: subprocess.Popen[bytes]
    launcher: subprocess.Popen[bytes]
    stopped: bool = False

    def env(self, display: str) -> dict[str, str]:
        """A desktop session on `display` with this bus: the session bus, whose `org.a11y.Bus` leads on."""
        return {"DISPLAY": display, "DBUS_SESSION_BUS_ADDRESS": self.address}

    def app_env(self, display: str) -> dict[str, str]:
        """What an application on `display` needs to join the accessibility bus (Qt: also turned on)."""
        return {
            **self.env(display),
            "AT_SPI_BUS_ADDRESS": self.a11y_address,
            "QT_LINUX_ACCESSIBILITY_ALWAYS_ON": "1",
        }

    @contextlib.contextmanager
    def published(self, display: str) -> Iterator[None]:
        """The bus's address on `display`'s root window (`AT_SPI_BUS`), as a desktop's launcher sets it."""
        from Xlib import Xatom
        from Xlib import display as xdisplay

        conn = xdisplay.Display(display)
        root, atom = conn.screen().root, conn.intern_atom("AT_SPI_BUS")
        try:
            root.change_property(atom, Xatom.STRING, 8, self.a11y_address.encode())
            conn.sync()
            yield
        finally:
            root.delete_property(atom)
            conn.sync()
            conn.close()

    def stop(self) -> None:
        """Stop the launcher (with its accessibility bus and registry) and the session bus; once."""
        if self.stopped:
            return
        self.stopped = True
        for process in (self.launcher, self.daemon):
            _stop_group(process)
        if self.daemon.stdout is not None:
            self.daemon.stdout.close()


def _stop_group(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Terminate a process this rig started in its own session, and what it started (same group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _read_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(process.stdout.fileno(), 256) if ready else b""
        if not chunk:
            raise RuntimeError(f"dbus-daemon printed no address (exit status {process.poll()})")
        data += chunk
    return data.decode().strip()


def _a11y_address(address: str) -> str | None:
    """`org.a11y.Bus.GetAddress` once the launcher owns the name (asking earlier would start another)."""
    from jeepney import DBusAddress, MessageType, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    driver = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus")
    launcher = DBusAddress("/org/a11y/bus", bus_name="org.a11y.Bus", interface="org.a11y.Bus")
    with open_dbus_connection(address) as conn:
        owned = conn.send_and_get_reply(new_method_call(driver, "NameHasOwner", "s", ("org.a11y.Bus",)), timeout=5)
        if not (owned.body and owned.body[0]):
            return None
        reply = conn.send_and_get_reply(new_method_call(launcher, "GetAddress"), timeout=5)
    if reply.header.message_type != MessageType.method_return:
        return None
    return str(reply.body[0])


def start_a11y_bus(workdir: Path) -> A11yBus:
    """Start the session bus and the accessibility bus launcher; return once `org.a11y.Bus` answers."""
    if shutil.which("dbus-daemon") is None:
        raise RuntimeError("dbus-daemon not found: install dbus (installer/install.sh --dev)")
    launcher_path = find_launcher()
    runtime_dir = workdir / "runtime"
    runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Services the bus starts inherit its environment: XDG_RUNTIME_DIR keeps the accessibility socket in
    # the work directory, and no DISPLAY keeps the bus off the X root window.
    env = {**_base_env(), "XDG_RUNTIME_DIR": str(runtime_dir)}
    socket = workdir / "session_bus"
    with (workdir / "dbus-daemon.log").open("wb") as log:
        daemon = subprocess.Popen(
            ["dbus-daemon", "--session", f"--address=unix:path={socket}", "--nofork", "--print-address=1"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
    try:
        address = _read_line(daemon, _START_TIMEOUT)
        with (workdir / "at-spi-bus-launcher.log").open("wb") as log:
            launcher = subprocess.Popen(
                [launcher_path, "--launch-immediately", "--a11y=1"],
                env={**env, "DBUS_SESSION_BUS_ADDRESS": address},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except BaseException:
        _stop_group(daemon)
        if daemon.stdout is not None:
            daemon.stdout.close()
        raise
    bus = A11yBus(address, "", runtime_dir, daemon, launcher)

    def _ready() -> str | None:
        if launcher.poll() is not None:
            raise RuntimeError(f"at-spi-bus-launcher exited with {launcher.returncode}; see {workdir}")
        return _a11y_address(address)

    try:
        bus.a11y_address = wait_until(_ready, _START_TIMEOUT, "at-spi-bus-launcher to own org.a11y.Bus", 0.05)
    except BaseException:
        bus.stop()
        raise
    return bus
