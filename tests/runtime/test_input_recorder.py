"""The teach-mode input recorder on a real X server: xdotool is the person, X RECORD the ears."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from omnidesk.agent.actions import Click, Hotkey, TypeText
from omnidesk.agent.demonstration import KeyInput, PointerInput, demonstration_steps
from omnidesk.agent.errors import CaptureError
from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import WindowInfo
from omnidesk.agent.window_rules import WindowMatcher
from omnidesk.runtime.input_recorder import XInputRecorder
from omnidesk.runtime.windows import X11WindowInspector
from tests.fakes import FakeWindowInspector
from tests.rig.plugin import Launcher

pytestmark = pytest.mark.desktop

TEXT = "Grüße <ok> 東京"
EDITOR = WindowInfo(7, "Notes", ("notes", "Notes"), Rect(0, 0, 1920, 1080), pid=1)


def _xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, env=dict(os.environ), timeout=30)


def _wait_for(recorder: XInputRecorder, count: int) -> None:
    """Until ``count`` events arrived (RECORD delivers them a little after xdotool returns)."""
    deadline = time.monotonic() + 10
    while len(recorder.events()) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def test_unicode_text_keys_and_clicks_on_the_monotonic_clock(x_display: object) -> None:
    stopped: list[str] = []
    recorder = XInputRecorder(
        FakeWindowInspector([EDITOR]),
        WindowMatcher(["KeePassXC"]),
        stop_combo=("ctrl", "alt", "shift", "t"),
        on_stop=lambda: stopped.append("stop"),
    ).start()
    try:
        before = time.monotonic()
        _xdotool("type", "--", TEXT)  # ü, ß, 東, 京 go through a keycode xdotool remaps for each
        _xdotool("key", "BackSpace", "ctrl+a", "Return", "shift+Tab")
        _xdotool("mousemove", "--sync", "100", "200", "click", "1")
        _xdotool("key", "ctrl+alt+shift+t")
        after = time.monotonic()
        _wait_for(recorder, len(TEXT) + 15)  # + 3 Shift presses for G < >, 8 keys, a press and release
    finally:
        stats = recorder.stop()
    events = recorder.events()
    assert stopped == ["stop"]
    assert all(before <= e.at <= after for e in events), [(e.at, before, after) for e in events]
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert all(e.window == EDITOR for e in events if isinstance(e, KeyInput) or e.pressed)
    steps = demonstration_steps(events, stop_combos=[("ctrl", "alt", "shift", "t")])
    assert [s.action for s in steps] == [
        TypeText(text=TEXT[:-1]),  # the BackSpace took the last character back
        Hotkey(keys=("ctrl", "a")),
        Hotkey(keys=("enter",)),
        Hotkey(keys=("shift", "tab")),
        Click(point=steps[-1].action.point),  # type: ignore[union-attr]
    ]
    click = steps[-1].action
    assert isinstance(click, Click) and (click.point.x, click.point.y, click.point.space) == (100, 200, "desktop")
    assert stats.kept == len(events) and stats.denied == stats.own == stats.unknown == 0
    assert "東" not in repr(events) and "東" not in repr(steps[0])  # typed text stays out of reprs (logs)


def test_events_in_denied_own_or_unknown_windows_are_dropped_and_counted(x_display: object) -> None:
    vault = WindowInfo(3, "Passwords - KeePassXC", ("keepassxc", "KeePassXC"), Rect(0, 0, 600, 600), pid=50)
    own = WindowInfo(4, "Omnidesk", ("omnidesk", "Omnidesk"), Rect(600, 0, 600, 600), pid=os.getpid())
    editor = WindowInfo(5, "Notes", ("notes", "Notes"), Rect(1200, 0, 600, 600), pid=51)
    inspector = FakeWindowInspector([vault, own, editor], focus=vault)
    recorder = XInputRecorder(inspector, WindowMatcher(["KeePassXC"], own_pids=[os.getpid()])).start()
    try:
        _xdotool("type", "hunter2")  # focus on the password manager: never recorded
        _xdotool("mousemove", "--sync", "100", "100", "click", "1")  # on the password manager
        _xdotool("mousemove", "--sync", "700", "100", "click", "1")  # on Omnidesk's own window
        inspector.focus = CaptureError("the X server went away")
        _xdotool("type", "x")  # the focused window cannot be told: dropped
        inspector.focus = editor
        _xdotool("mousemove", "--sync", "1300", "100", "click", "3")
        _xdotool("type", "ok")
        _wait_for(recorder, 4)
    finally:
        stats = recorder.stop()
    events = recorder.events()
    assert (stats.denied, stats.own, stats.unknown, stats.kept) == (8, 1, 1, 4)
    assert [type(e).__name__ for e in events] == ["PointerInput", "PointerInput", "KeyInput", "KeyInput"]
    assert all(e.window in (editor, None) for e in events)
    steps = demonstration_steps(events)
    assert [s.action.kind for s in steps] == ["click", "type"]
    assert steps[0].action == Click(point=steps[0].action.point, button="right")  # type: ignore[union-attr]


@pytest.mark.slow
def test_a_deny_listed_window_on_the_real_desktop(
    x_display: object, window_manager: object, target_app: Launcher
) -> None:
    vault = target_app(x=0, y=0, width=500, height=400, title="Vault", wm_class=("keepassxc", "KeePassXC"))
    notes = target_app(x=700, y=0, width=500, height=400, title="Notes")
    inspector = X11WindowInspector()
    recorder = XInputRecorder(inspector, WindowMatcher(["KeePassXC"], own_pids=[os.getpid()])).start()
    try:
        x, y = vault.widget_center("text_field")
        _xdotool("mousemove", "--sync", str(x), str(y), "click", "1")
        vault.wait_for({"type": "mouse_release", "widget": "text_field"}, timeout=15)
        _xdotool("type", "--delay", "30", "secret")
        vault.wait_for({"type": "text", "text": "secret"}, timeout=15)
        x, y = notes.widget_center("text_field")
        _xdotool("mousemove", "--sync", str(x), str(y), "click", "1")
        notes.wait_for({"type": "mouse_release", "widget": "text_field"}, timeout=15)
        _xdotool("type", "--delay", "30", "plain")
        notes.wait_for({"type": "text", "text": "plain"}, timeout=15)
        _wait_for(recorder, 7)
    finally:
        stats = recorder.stop()
        inspector.close()
    steps = demonstration_steps(recorder.events())
    assert [s.action.kind for s in steps] == ["click", "type"]
    assert steps[1].action == TypeText(text="plain") and steps[1].window is not None
    assert steps[1].window.title == "Notes"
    assert stats.denied == 7 and stats.unknown == 0  # the click's press (its release goes with it), six keys


def test_stop_combo_and_pointer_releases_keep_their_press(x_display: object) -> None:
    """A release is kept only with its press (a press before recording started leaves no lone release)."""
    recorder = XInputRecorder(FakeWindowInspector([EDITOR]), WindowMatcher([])).start()
    try:
        _xdotool("mousemove", "--sync", "10", "10", "mousedown", "1")
        _xdotool("mousemove", "--sync", "300", "200", "mouseup", "1")
        _wait_for(recorder, 2)
    finally:
        recorder.stop()
    events = recorder.events()
    assert [(e.pressed, e.x, e.y) for e in events if isinstance(e, PointerInput)] == [(True, 10, 10), (False, 300, 200)]
    (step,) = demonstration_steps(events)
    assert step.action.kind == "drag" and step.points == ((10, 10), (300, 200))
