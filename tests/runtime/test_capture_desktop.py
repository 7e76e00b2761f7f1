"""Real mss pixels of the real Qt target app, on Xvfb and on the dual-monitor X.Org dummy server."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import pytest

from omnidesk.agent.geometry import Rect, resolve_monitor
from omnidesk.agent.ports import Frame
from omnidesk.runtime.capture import CaptureStream, MssScreen
from omnidesk.runtime.windows import WindowMask, X11WindowInspector
from tests.rig.target_client import TargetApp
from tests.rig.xserver import XorgDummy

pytestmark = pytest.mark.desktop

Launcher = Callable[..., TargetApp]


def _bgra(hex_color: str) -> tuple[int, int, int]:
    value = int(hex_color.lstrip("#"), 16)
    return value & 0xFF, (value >> 8) & 0xFF, value >> 16


def _patch(frame: Frame, x: int, y: int) -> np.ndarray:
    """A 3x3 BGR patch around monitor pixel (x, y)."""
    return frame.pixels[y - 1 : y + 2, x - 1 : x + 2, :3].reshape(-1, 3)


def assert_widget_colors(frame: Frame, app: TargetApp) -> None:
    """Each coloured widget shows its colour near its corners (text sits in the middle)."""
    origin = frame.monitor.geometry
    for name in ("ok_button", "cancel_button", "big_button", "text_field"):
        x, y, w, h = app.widget_rect(name)
        expected = _bgra(app.ready["colors"][name])
        for px, py in ((x + 4, y + 4), (x + w - 5, y + h - 5)):
            got = _patch(frame, px - origin.x, py - origin.y)
            assert (np.abs(got.astype(int) - expected).max(axis=1) <= 2).all(), (name, px, py, got[0])


def test_single_monitor_frames_show_the_target_app(x_display: object, target_app: Launcher) -> None:
    app = target_app(x=200, y=150, width=700, height=500)
    screen = MssScreen({"screen": 1.5})
    monitors = screen.monitors()
    assert [(m.index, m.geometry, m.scale) for m in monitors] == [(1, Rect(0, 0, 1920, 1080), 1.5)]
    frame = screen.grab(resolve_monitor(monitors, None))
    assert (frame.width, frame.height) == (1920, 1080)
    assert not frame.pixels.flags.writeable
    assert frame.pixels.base is not None  # a view of mss's buffer, not a copy
    assert_widget_colors(frame, app)


def test_dual_monitor_geometry_and_second_monitor_pixels(dual_monitor_display: XorgDummy, target_app: Launcher) -> None:
    screen = MssScreen({"DUMMY1": 2.0})
    monitors = screen.monitors()
    by_name = {m.name: m for m in monitors}
    assert by_name["DUMMY0"].geometry == Rect(0, 0, 1920, 1080)
    assert by_name["DUMMY1"].geometry == Rect(1920, 0, 1280, 1024)
    assert by_name["DUMMY0"].primary and not by_name["DUMMY1"].primary
    assert (by_name["DUMMY0"].scale, by_name["DUMMY1"].scale) == (1.0, 2.0)
    assert resolve_monitor(monitors, None) == by_name["DUMMY0"].index
    second = resolve_monitor(monitors, "DUMMY1")

    app = target_app(x=100, y=120, width=640, height=480, screen="DUMMY1")
    assert app.widget_rect("window")[0] >= 1920
    frame = screen.grab(second)
    assert (frame.width, frame.height) == (1280, 1024)
    assert frame.monitor.name == "DUMMY1"
    assert_widget_colors(frame, app)
    desktop = screen.grab(0)
    assert (desktop.width, desktop.height) == (3200, 1080)
    assert_widget_colors(desktop, app)


def test_capture_stream_on_the_real_screen(x_display: object, target_app: Launcher) -> None:
    app = target_app(x=300, y=200, width=600, height=400)
    with CaptureStream(MssScreen(), monitor=1, fps=10, buffer_frames=5) as stream:
        frame = stream.wait_frame(0, timeout=5)
        later = stream.wait_frame(frame.seq, timeout=5)
    assert later.timestamp > frame.timestamp
    assert_widget_colors(later, app)


def test_region_capture(x_display: object, target_app: Launcher) -> None:
    app = target_app(x=300, y=200, width=600, height=400)
    x, y, w, h = app.widget_rect("ok_button")
    region = Rect(x, y, w, h)
    with CaptureStream(MssScreen(), region=region, fps=5) as stream:
        frame = stream.wait_frame(0, timeout=5)
    assert (frame.width, frame.height) == (w, h)
    assert tuple(frame.pixels[3, 3, :3]) == _bgra(app.ready["colors"]["ok_button"])


def _black(frame: Frame, rect: tuple[int, int, int, int]) -> float:
    x, y, w, h = rect
    part = frame.pixels[y : y + h, x : x + w, :3]
    return float((part == 0).all(axis=2).mean())


def test_password_manager_window_is_black_in_frames(
    x_display: object, window_manager: object, target_app: Launcher
) -> None:
    secret = target_app(x=100, y=100, width=600, height=400, title="KeePassXC - Passwords")
    normal = target_app(x=900, y=300, width=600, height=400, title="Notes")
    inspector = X11WindowInspector()
    try:
        mask = WindowMask(inspector, ["KeePassXC", "Bitwarden"])
        screen = MssScreen(mask=mask)
        with CaptureStream(screen, fps=10) as stream:
            frame = stream.wait_frame(0, timeout=5)
    finally:
        inspector.close()
    assert _black(frame, secret.widget_rect("window")) == 1.0
    x, y, _, _ = secret.widget_rect("window")
    assert _black(frame, (x, y - 10, 50, 10)) == 1.0  # the title bar shows the title: masked too
    assert _black(frame, normal.widget_rect("window")) < 0.05
    assert_widget_colors(frame, normal)


def test_own_windows_are_masked_without_a_window_manager(x_display: object, target_app: Launcher) -> None:
    own = target_app(x=100, y=100, width=500, height=400, title="Omnidesk")
    other = target_app(x=800, y=100, width=500, height=400, title="Other")
    inspector = X11WindowInspector()
    try:
        titles = {w.title for w in inspector.windows()}
        mask = WindowMask(inspector, [], own_pids={own.process.pid, os.getpid()})
        frame = MssScreen(mask=mask).grab(1)
    finally:
        inspector.close()
    assert {"Omnidesk", "Other"} <= titles
    assert _black(frame, own.widget_rect("window")) == 1.0
    assert_widget_colors(frame, other)


def test_composition_root_builds_a_masked_capture(x_display: object, target_app: Launcher) -> None:
    from omnidesk.app.compose import build_capture
    from omnidesk.app.settings import Settings

    secret = target_app(x=100, y=100, width=400, height=300, title="Bitwarden Vault")
    normal = target_app(x=700, y=100, width=500, height=400, title="Editor")
    capture = build_capture(Settings(), fps=5)
    try:
        frame = capture.stream.wait_frame(0, timeout=5)
    finally:
        capture.close()
    assert capture.monitor.index == 1 and capture.monitor.geometry == Rect(0, 0, 1920, 1080)
    assert _black(frame, secret.widget_rect("window")) == 1.0
    assert_widget_colors(frame, normal)


@pytest.mark.parametrize("scale", [1.5, 2.0])
def test_hidpi_monitor_frames_are_device_pixels(
    dual_monitor_display: XorgDummy, target_app: Launcher, scale: float
) -> None:
    dual_monitor_display.set_layout([("DUMMY0", 3840, 2160, 0, 0), ("DUMMY1", 1920, 1080, 3840, 0)])
    screen = MssScreen({"DUMMY0": scale})
    try:
        monitors = {m.name: m for m in screen.monitors()}
        assert monitors["DUMMY0"].geometry == Rect(0, 0, 3840, 2160) and monitors["DUMMY0"].scale == scale
        app = target_app(x=200, y=200, width=1600, height=1200, scale=scale)
        frame = screen.grab(monitors["DUMMY0"].index)
    finally:
        screen.close()
    assert (frame.width, frame.height) == (3840, 2160)
    assert_widget_colors(frame, app)
