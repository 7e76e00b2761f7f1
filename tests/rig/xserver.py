"""X servers for desktop tests: Xvfb, an X.Org dummy server with RandR monitors, and openbox.

Xvfb gives one 1920×1080 screen. Several monitors need X.Org's dummy driver, whose outputs
(DUMMY0…DUMMY15) are laid out with xrandr, so mss and Qt see real RandR monitors. Servers are started
with `-displayfd`, which picks a free display number and reports it once the server accepts
connections, so two test sessions never collide and nothing sleeps.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from tests.rig import wait_until

__all__ = [
    "Monitor",
    "WindowManager",
    "XServer",
    "XorgDummy",
    "held_state",
    "start_openbox",
    "start_xorg_dummy",
    "start_xvfb",
]

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0

_XORG_CONF = """\
Section "ServerFlags"
    Option "AutoAddDevices" "false"
    Option "AutoEnableDevices" "false"
    Option "DontVTSwitch" "true"
EndSection
Section "Device"
    Identifier "rig_device"
    Driver "dummy"
    VideoRam {video_ram}
EndSection
Section "Monitor"
    Identifier "rig_monitor"
    HorizSync 5.0-1000.0
    VertRefresh 5.0-200.0
EndSection
Section "Screen"
    Identifier "rig_screen"
    Device "rig_device"
    Monitor "rig_monitor"
    DefaultDepth 24
    SubSection "Display"
        Depth 24
        Virtual {virtual_width} {virtual_height}
    EndSubSection
EndSection
"""


class Monitor(NamedTuple):
    """One RandR monitor in the virtual desktop, in device pixels."""

    name: str
    x: int
    y: int
    width: int
    height: int


@dataclass
class XServer:
    """A running X server process and the display it serves."""

    display: str
    width: int
    height: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        """Terminate the server and reap it; kill it if it does not exit in time."""
        _stop_process(self.process)


def _stop_process(process: subprocess.Popen[bytes], timeout: float = _STOP_TIMEOUT) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _spawn_with_displayfd(argv: Sequence[str], log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start an X server with `-displayfd` and block until it reports its display number."""
    if shutil.which(argv[0]) is None:
        raise RuntimeError(f"{argv[0]} is not installed; the desktop rig needs it")
    read_fd, write_fd = os.pipe()
    try:
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*argv, "-displayfd", str(write_fd)],
                pass_fds=(write_fd,),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        os.close(write_fd)
        write_fd = -1
        data = b""
        deadline = time.monotonic() + _START_TIMEOUT
        while not data.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([read_fd], [], [], max(remaining, 0))
            chunk = os.read(read_fd, 64) if ready else b""
            if not chunk:
                _stop_process(process)
                why = "timed out" if not ready else f"exited with {process.returncode}"
                raise RuntimeError(f"{argv[0]} {why} before reporting a display:\n{_log_tail(log_path)}")
            data += chunk
        return process, f":{int(data.strip())}"
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


def start_xvfb(workdir: Path, width: int = 1920, height: int = 1080, depth: int = 24) -> XServer:
    """Start Xvfb with one screen on a free display number."""
    log_path = workdir / "xvfb.log"
    argv = ["Xvfb", "-screen", "0", f"{width}x{height}x{depth}", "-nolisten", "tcp", "-noreset"]
    process, display = _spawn_with_displayfd(argv, log_path)
    return XServer(display, width, height, process, log_path)


def _xrandr(display: str, *args: str) -> str:
    result = subprocess.run(
        ["xrandr", "--display", display, *args], capture_output=True, text=True, timeout=30, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"xrandr {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def _modeline(width: int, height: int, refresh: float = 60.0) -> list[str]:
    """A reduced-blanking modeline; the dummy driver only needs it to be self-consistent."""
    htotal, vtotal = width + 160, height + 30
    clock = htotal * vtotal * refresh / 1e6
    return [
        f"{clock:.2f}",
        *(str(v) for v in (width, width + 48, width + 80, htotal)),
        *(str(v) for v in (height, height + 3, height + 8, vtotal)),
        "+hsync",
        "-vsync",
    ]


@dataclass
class XorgDummy:
    """An X.Org server with the dummy driver whose monitors are RandR outputs DUMMY0…DUMMY15."""

    server: XServer
    virtual_width: int
    virtual_height: int
    monitors: list[Monitor] = field(default_factory=list)

    @property
    def display(self) -> str:
        """The display name, e.g. ":3"."""
        return self.server.display

    def _outputs(self) -> dict[str, set[str]]:
        """Each output's mode names, from `xrandr --query`."""
        outputs: dict[str, set[str]] = {}
        current: set[str] | None = None
        for line in _xrandr(self.display, "--query").splitlines():
            match = re.match(r"^(\S+) (?:dis)?connected", line)
            if match:
                current = outputs.setdefault(match.group(1), set())
            elif current is not None and line.startswith("   "):
                current.add(line.split()[0])
        return outputs

    def _ensure_mode(self, output: str, width: int, height: int, outputs: dict[str, set[str]]) -> str:
        name = f"{width}x{height}"
        if name in outputs.get(output, set()):
            return name
        known = set().union(*outputs.values())
        if name not in known:
            name = f"{width}x{height}_rig"
            if name not in known:
                _xrandr(self.display, "--newmode", name, *_modeline(width, height))
        _xrandr(self.display, "--addmode", output, name)
        outputs.setdefault(output, set()).add(name)
        return name

    def set_layout(self, layout: Sequence[tuple[str, int, int, int, int] | Monitor]) -> list[Monitor]:
        """Lay out monitors; other outputs are switched off. The first one is primary.

        Each entry is `(output, width, height, x, y)`, e.g. `("DUMMY1", 1920, 1080, 3840, 0)`, or a
        `Monitor(name, x, y, width, height)`. Missing modes are created with `xrandr --newmode`.
        """
        monitors = [m if isinstance(m, Monitor) else Monitor(m[0], m[3], m[4], m[1], m[2]) for m in layout]
        fb_width = max(m.x + m.width for m in monitors)
        fb_height = max(m.y + m.height for m in monitors)
        if fb_width > self.virtual_width or fb_height > self.virtual_height:
            raise ValueError(
                f"layout needs {fb_width}x{fb_height}, more than the server's "
                f"Virtual {self.virtual_width}x{self.virtual_height}"
            )
        outputs = self._outputs()
        args = ["--fb", f"{fb_width}x{fb_height}"]
        for index, mon in enumerate(monitors):
            mode = self._ensure_mode(mon.name, mon.width, mon.height, outputs)
            args += ["--output", mon.name, "--mode", mode, "--pos", f"{mon.x}x{mon.y}"]
            if index == 0:
                args.append("--primary")
        for name in sorted(set(outputs) - {m.name for m in monitors}):
            args += ["--output", name, "--off"]
        _xrandr(self.display, *args)
        wait_until(lambda: self.query_monitors() == sorted(monitors), _START_TIMEOUT, f"RandR layout {monitors}")
        self.monitors = monitors
        return monitors

    def query_monitors(self) -> list[Monitor]:
        """The active monitors as the server reports them (`xrandr --listmonitors`), sorted by name."""
        found = []
        for line in _xrandr(self.display, "--listmonitors").splitlines()[1:]:
            match = re.search(r"(\d+)/\d+x(\d+)/\d+\+(\d+)\+(\d+)\s+(\S+)$", line)
            if match:
                w, h, x, y, name = match.groups()
                found.append(Monitor(name, int(x), int(y), int(w), int(h)))
        return sorted(found)

    def stop(self) -> None:
        """Stop the server."""
        self.server.stop()


def start_xorg_dummy(workdir: Path, virtual_width: int = 5760, virtual_height: int = 2160) -> XorgDummy:
    """Start X.Org with the dummy driver; the framebuffer can grow up to the Virtual size."""
    config = workdir / "xorg.conf"
    config.write_text(_XORG_CONF.format(video_ram=256000, virtual_width=virtual_width, virtual_height=virtual_height))
    log_path = workdir / "xorg.log"
    argv = ["Xorg", "-noreset", "-nolisten", "tcp", "-config", str(config.resolve())]
    argv += ["-logfile", str(log_path.resolve()), "-novtswitch", "-sharevts"]
    process, display = _spawn_with_displayfd(argv, workdir / "xorg.stdout.log")
    server = XServer(display, virtual_width, virtual_height, process, log_path)
    return XorgDummy(server, virtual_width, virtual_height)


@dataclass
class WindowManager:
    """A running openbox instance on `display`."""

    display: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop openbox and wait until it no longer owns the WM selection."""
        _stop_process(self.process)
        with contextlib.suppress(TimeoutError):
            wait_until(lambda: not _wm_selection_owned(self.display), _STOP_TIMEOUT, "openbox to let go")


def _wm_selection_owned(display: str) -> bool:
    """Whether some client owns WM_S0 and the root window carries _NET_SUPPORTING_WM_CHECK."""
    from Xlib import X
    from Xlib import display as xdisplay

    conn = xdisplay.Display(display)
    try:
        owner = conn.get_selection_owner(conn.intern_atom("WM_S0"))
        check = conn.screen().root.get_full_property(conn.intern_atom("_NET_SUPPORTING_WM_CHECK"), X.AnyPropertyType)
        return owner not in (0, X.NONE) and check is not None
    finally:
        conn.close()


def _wait_until_managing(display: str) -> None:
    """Wait until openbox frames a probe window it was asked to map, then destroy the probe.

    Owning WM_S0 is not enough: openbox takes the selection before its event loop runs and drops map
    requests that arrive in between (the window then stays unmapped for good), and the root's
    _NET_SUPPORTING_WM_CHECK may be a previous instance's. A window openbox has reparented and mapped is
    proof that it handles map requests; the probe is mapped again until it is.
    """
    from Xlib import X
    from Xlib import display as xdisplay

    conn = xdisplay.Display(display)
    try:
        root = conn.screen().root
        probe = root.create_window(0, 0, 1, 1, 0, X.CopyFromParent, override_redirect=False)
        probe.set_wm_name("omnidesk-rig-probe")
        try:

            def _managed() -> bool:
                if probe.get_attributes().map_state == X.IsViewable and probe.query_tree().parent != root:
                    return True
                probe.map()  # a request openbox dropped while starting is never answered: ask again
                conn.sync()
                return False

            wait_until(_managed, _START_TIMEOUT, f"openbox to manage windows on {display}", interval=0.1)
        finally:
            probe.destroy()
            conn.sync()

        def _forgotten() -> bool:  # so that tests listing windows never meet the probe
            clients = root.get_full_property(conn.intern_atom("_NET_CLIENT_LIST"), X.AnyPropertyType)
            return clients is None or probe.id not in clients.value

        wait_until(_forgotten, _START_TIMEOUT, f"openbox to forget its probe window on {display}")
    finally:
        conn.close()


def start_openbox(display: str, workdir: Path) -> WindowManager:
    """Start openbox on `display` and wait until it manages the screen."""
    if shutil.which("openbox") is None:
        raise RuntimeError("openbox is not installed; window-manager tests need it")
    env = {**os.environ, "DISPLAY": display}
    with (workdir / "openbox.log").open("ab") as log:
        process = subprocess.Popen(
            ["openbox", "--sm-disable"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    manager = WindowManager(display, process)

    def _ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"openbox exited with {process.returncode} before managing {display}")
        return _wm_selection_owned(display)

    try:
        wait_until(_ready, _START_TIMEOUT, f"openbox to own WM_S0 on {display}", interval=0.05)
        _wait_until_managing(display)
    except BaseException:
        manager.stop()
        raise
    return manager


def held_state() -> tuple[int, list[int]]:
    """The X server's pointer button mask (buttons 1-3) and the keycodes it reports as down (on DISPLAY)."""
    from Xlib import X
    from Xlib.display import Display

    display = Display()
    try:
        mask = display.screen().root.query_pointer().mask & (X.Button1Mask | X.Button2Mask | X.Button3Mask)
        keymap = display.query_keymap()
        keys = [i * 8 + b for i, byte in enumerate(keymap) for b in range(8) if byte & (1 << b)]
        return mask, keys
    finally:
        display.close()
