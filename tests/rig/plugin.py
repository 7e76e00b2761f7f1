"""pytest plugin for the real-desktop rig: X servers, openbox, PulseAudio and the Qt target app.

Fixtures:
- `x_display` (session): Xvfb 1920×1080 on a free display; exports DISPLAY for the test process and
  its children.
- `dual_monitor_display` (function): an X.Org dummy server (started once per session) laid out as
  DUMMY0 1920×1080 at 0,0 + DUMMY1 1280×1024 right of it; DISPLAY points at it for the test.
  `.set_layout([...])` re-lays it out, e.g. for a 3840×2160 + 1920×1080 HiDPI layout.
- `window_manager` (function): openbox on the test's display, ready once it owns WM_S0.
- `pulse_audio` (session): a private PulseAudio whose default source hears what is played into
  `mic_feed`; exports PULSE_SERVER and XDG_RUNTIME_DIR.
- `target_app` (function): a factory `launch(x, y, width, height, scale, title, screen, wm_class)` for
  the Qt target app; every app launched is closed at the end of the test.
- `a11y_bus` (session): a private session D-Bus with an accessibility bus; applications join it only
  through `a11y_bus.app_env(display)` (see `tests/rig/a11y.py`; real applications: `tests/rig/apps.py`).
- `accessibility` (session): the runtime's AT-SPI adapter on that bus, measuring scales against Xvfb.
- `module_window_manager` (module): openbox on Xvfb for a module whose applications start once.
Tests mark themselves `desktop` / `audio`; nothing is applied automatically.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.rig.a11y import A11yBus, start_a11y_bus
from tests.rig.audio import PulseAudioRig, start_pulse_audio
from tests.rig.target_client import TargetApp, launch_target
from tests.rig.xserver import WindowManager, XorgDummy, XServer, start_openbox, start_xorg_dummy, start_xvfb

if TYPE_CHECKING:
    from omnidesk.runtime.accessibility import AtspiAccessibility

__all__ = [
    "DEFAULT_DUAL_LAYOUT",
    "a11y_bus",
    "accessibility",
    "dual_monitor_display",
    "module_window_manager",
    "pulse_audio",
    "target_app",
    "window_manager",
    "x_display",
]

DEFAULT_DUAL_LAYOUT = [("DUMMY0", 1920, 1080, 0, 0), ("DUMMY1", 1280, 1024, 1920, 0)]
_MARKERS = {
    "desktop": "needs the real X server rig (Xvfb / X.Org dummy)",
    "audio": "needs the PulseAudio null-sink microphone rig",
    "model": "runs a real llama.cpp model (tiny generated GGUFs)",
    "gpu": "needs a CUDA device (skipped where there is none)",
}
Launcher = Callable[..., TargetApp]


def pytest_configure(config: pytest.Config) -> None:
    """Register the rig's markers, so the plugin also works outside this project's pyproject."""
    for name, description in _MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


def _export_display(patch: pytest.MonkeyPatch, display: str) -> None:
    patch.setenv("DISPLAY", display)
    patch.delenv("WAYLAND_DISPLAY", raising=False)
    patch.setenv("XDG_SESSION_TYPE", "x11")


@pytest.fixture(scope="session")
def x_display(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XServer]:
    """Xvfb 1920×1080×24 for the whole session, exported as DISPLAY."""
    server = start_xvfb(tmp_path_factory.mktemp("xvfb"))
    with pytest.MonkeyPatch.context() as patch:
        _export_display(patch, server.display)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def _xorg_dummy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XorgDummy]:
    """The X.Org dummy server, started on first use and shared by the session."""
    server = start_xorg_dummy(tmp_path_factory.mktemp("xorg"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dual_monitor_display(_xorg_dummy: XorgDummy, monkeypatch: pytest.MonkeyPatch) -> XorgDummy:
    """Two monitors (DUMMY0 1920×1080 at 0,0; DUMMY1 1280×1024 at 1920,0); DISPLAY for this test."""
    _xorg_dummy.set_layout(DEFAULT_DUAL_LAYOUT)
    _export_display(monkeypatch, _xorg_dummy.display)
    return _xorg_dummy


def _rig_display(request: pytest.FixtureRequest) -> str:
    """The display this test uses: the dual-monitor server if it asked for one, else Xvfb."""
    if "dual_monitor_display" in request.fixturenames:
        server: XorgDummy = request.getfixturevalue("dual_monitor_display")
        return server.display
    xvfb: XServer = request.getfixturevalue("x_display")
    return xvfb.display


@pytest.fixture
def window_manager(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WindowManager]:
    """openbox on the test's rig display, stopped after the test."""
    manager = start_openbox(_rig_display(request), tmp_path)
    try:
        yield manager
    finally:
        manager.stop()


@pytest.fixture(scope="module")
def module_window_manager(x_display: XServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WindowManager]:
    """openbox on Xvfb for a whole module (applications that are started once per module need it first)."""
    manager = start_openbox(x_display.display, tmp_path_factory.mktemp("openbox"))
    try:
        yield manager
    finally:
        manager.stop()


@pytest.fixture(scope="session")
def a11y_bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[A11yBus]:
    """A private session D-Bus and accessibility bus for the whole session (started before any app)."""
    bus = start_a11y_bus(tmp_path_factory.mktemp("a11y"))
    try:
        yield bus
    finally:
        bus.stop()


@pytest.fixture(scope="session")
def accessibility(a11y_bus: A11yBus, x_display: XServer) -> Iterator[AtspiAccessibility]:
    """The AT-SPI adapter on `a11y_bus`, with Xvfb's window list to measure each application's scale."""
    from omnidesk.runtime.accessibility import AtspiAccessibility
    from omnidesk.runtime.windows import X11WindowInspector

    windows = X11WindowInspector(x_display.display)
    port = AtspiAccessibility(a11y_bus.env(x_display.display), windows=windows)
    try:
        yield port
    finally:
        port.close()
        windows.close()


@pytest.fixture(scope="session")
def pulse_audio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseAudioRig]:
    """A private PulseAudio whose default source (`test_mic`) hears what is played into `mic_feed`.

    sounddevice must be imported after this fixture (PortAudio reads the ALSA configuration, which
    routes `default` to PulseAudio only while a server runs, when it initialises); if it already is,
    PortAudio is re-initialised here.
    """
    rig = start_pulse_audio(tmp_path_factory.mktemp("pulse"))
    with pytest.MonkeyPatch.context() as patch:
        for name in ("PULSE_SERVER", "XDG_RUNTIME_DIR", "PULSE_RUNTIME_PATH"):
            patch.setenv(name, rig.env[name])
        sounddevice = sys.modules.get("sounddevice")
        if sounddevice is not None:
            sounddevice._terminate()
            sounddevice._initialize()
        try:
            yield rig
        finally:
            rig.stop()


@pytest.fixture
def target_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Launcher]:
    """A factory that launches the Qt target app on the test's rig display; all are closed after."""
    _rig_display(request)
    launched: list[TargetApp] = []

    def launch(
        x: int = 100,
        y: int = 100,
        width: int = 800,
        height: int = 600,
        scale: float = 1.0,
        title: str = "Omnidesk Target",
        screen: str | int | None = None,
        wm_class: tuple[str, str] | None = None,
    ) -> TargetApp:
        app = launch_target(
            tmp_path / "target-app",
            x=x,
            y=y,
            width=width,
            height=height,
            scale=scale,
            title=title,
            screen=screen,
            env=dict(os.environ),
            wm_class=wm_class,
        )
        launched.append(app)
        return app

    try:
        yield launch
    finally:
        for app in launched:
            app.close()
