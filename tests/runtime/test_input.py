"""PyAutoGuiInput on the real X server rig, checked by the Qt target app's own reports."""

from __future__ import annotations

import secrets
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from omnidesk.agent.errors import InputError, SafetyStop
from omnidesk.runtime.input import PyAutoGuiInput
from omnidesk.runtime.user_activity import XUserActivity
from tests.rig.plugin import Launcher
from tests.rig.xserver import XorgDummy, held_state

pytestmark = pytest.mark.desktop


def test_click_lands_on_the_button(target_app: Launcher) -> None:
    app = target_app(x=233, y=141)
    device = PyAutoGuiInput()
    x, y = app.widget_center("ok_button")
    device.click(x, y)
    press = app.wait_for({"type": "mouse_press", "widget": "ok_button"}, timeout=15)
    app.wait_for({"type": "clicked", "widget": "ok_button"}, timeout=15)
    assert abs(press["x"] - x) <= 1 and abs(press["y"] - y) <= 1
    assert device.position() == (x, y)


def test_exact_unicode_text_arrives(target_app: Launcher) -> None:
    app = target_app()
    device = PyAutoGuiInput()
    device.click(*app.widget_center("text_field"))
    app.wait_for({"type": "mouse_release", "widget": "text_field"}, timeout=15)
    text = "Grüße <ok> 東京"
    device.type_text(text)
    app.wait_for({"type": "text", "widget": "text_field", "text": text}, timeout=30)


def test_hotkey_arrives(target_app: Launcher) -> None:
    app = target_app()
    device = PyAutoGuiInput()
    device.click(*app.widget_center("text_field"))
    app.wait_for({"type": "mouse_release", "widget": "text_field"}, timeout=15)
    device.type_text("abc")
    app.wait_for({"type": "text", "text": "abc"}, timeout=30)
    device.hotkey(["Control_L", "A"])  # select all (names normalised), then replace the selection
    press = app.wait_for({"type": "key_press", "modifiers": lambda m: "ctrl" in m}, timeout=15)
    assert press["widget"] == "text_field"
    device.type_text("x")
    app.wait_for({"type": "text", "text": "x"}, timeout=30)


def test_scroll_arrives_at_the_point(target_app: Launcher) -> None:
    app = target_app()
    device = PyAutoGuiInput()
    x, y = app.widget_center("item_list")
    device.scroll(x, y, dy=-2)
    wheel = app.wait_for({"type": "wheel"}, timeout=15)
    assert wheel["dy"] < 0 and abs(wheel["x"] - x) <= 1


def test_drag_moves_between_points(target_app: Launcher) -> None:
    app = target_app()
    device = PyAutoGuiInput()
    (x0, y0), (x1, y1) = app.widget_center("big_button"), app.widget_center("ok_button")
    device.drag(x0, y0, x1, y1)
    app.wait_for({"type": "mouse_press", "widget": "big_button"}, timeout=15)
    release = app.wait_for({"type": "mouse_release"}, timeout=15)
    assert abs(release["x"] - x1) <= 1 and abs(release["y"] - y1) <= 1
    assert held_state() == (0, [])


def test_release_all_leaves_nothing_pressed_after_an_interrupted_drag(target_app: Launcher) -> None:
    app = target_app()
    device = PyAutoGuiInput()
    x, y = app.widget_center("big_button")
    # a drag cut short (crash, stop request): button and a modifier still held
    subprocess.run(
        ["xdotool", "mousemove", "--sync", str(x), str(y), "keydown", "shift", "mousedown", "1"], check=True, timeout=30
    )
    app.wait_for({"type": "mouse_press", "widget": "big_button"}, timeout=15)
    mask, keys = held_state()
    assert mask and keys
    device.release_all()
    assert held_state() == (0, [])
    app.wait_for({"type": "mouse_release"}, timeout=15)


def test_failsafe_corner_is_a_safety_stop(target_app: Launcher) -> None:
    target_app()
    device = PyAutoGuiInput()
    subprocess.run(["xdotool", "mousemove", "--sync", "0", "0"], check=True, timeout=30)
    try:
        with pytest.raises(SafetyStop) as info:
            device.click(500, 500)
        assert info.value.reason == "failsafe"
        with pytest.raises(SafetyStop):
            device.type_text("x")
        device.release_all()
    finally:  # leave the corner, or every later pyautogui call trips the fail-safe
        subprocess.run(["xdotool", "mousemove", "--sync", "400", "400"], check=True, timeout=30)


def test_unknown_key_is_an_input_error(target_app: Launcher) -> None:
    target_app()
    with pytest.raises(InputError):
        PyAutoGuiInput().hotkey(["ctrl", "warpdrive"])


def test_click_on_the_second_monitor(dual_monitor_display: XorgDummy, target_app: Launcher) -> None:
    app = target_app(x=2200, y=200, width=700, height=500)
    device = PyAutoGuiInput()
    x, y = app.widget_center("ok_button")
    assert x > 1920
    device.click(x, y)
    press = app.wait_for({"type": "mouse_press", "widget": "ok_button"}, timeout=15)
    assert abs(press["x"] - x) <= 1 and abs(press["y"] - y) <= 1


def _wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_user_activity_ignores_own_input_and_sees_the_persons(target_app: Launcher) -> None:
    app = target_app()
    device = PyAutoGuiInput()
    activity = XUserActivity(device).start()
    try:
        start = time.monotonic()
        device.click(*app.widget_center("text_field"))
        device.type_text("ab")
        app.wait_for({"type": "text", "text": "ab"}, timeout=30)
        time.sleep(0.6)  # past the slack: late X RECORD reports of our own input have arrived
        assert not activity.active_since(start)
        quiet = time.monotonic()
        # the person types (a human holds a key for tens of milliseconds)
        subprocess.run(["xdotool", "keydown", "c", "sleep", "0.08", "keyup", "c"], check=True, timeout=30)
        assert _wait_for(lambda: activity.active_since(quiet))
        moved = time.monotonic()
        time.sleep(0.05)
        subprocess.run(["xdotool", "mousemove_relative", "--", "40", "30"], check=True, timeout=30)
        assert _wait_for(lambda: activity.active_since(moved))
    finally:
        activity.stop()


def test_failsafe_in_the_middle_of_a_drag_leaves_nothing_pressed(target_app: Launcher) -> None:
    """The person slams the pointer into a corner mid-drag: SafetyStop, and the button is released."""
    app = target_app()
    device = PyAutoGuiInput(drag_seconds=2.0)
    (x0, y0), (x1, y1) = app.widget_center("big_button"), app.widget_center("ok_button")
    errors: list[BaseException] = []

    def drag() -> None:
        try:
            device.drag(x0, y0, x1, y1)
        except SafetyStop as exc:
            errors.append(exc)

    thread = threading.Thread(target=drag)
    thread.start()
    try:
        app.wait_for({"type": "mouse_press", "widget": "big_button"}, timeout=15)
        subprocess.run(["xdotool", "mousemove", "--sync", "0", "0"], check=True, timeout=30)
        thread.join(10)
        assert not thread.is_alive() and len(errors) == 1 and errors[0].reason == "failsafe"  # type: ignore[attr-defined]
        assert held_state() == (0, [])
    finally:
        subprocess.run(["xdotool", "mousemove", "--sync", "400", "400"], check=True, timeout=30)


def _command_lines() -> list[bytes]:
    """The argv of every process (``/proc/*/cmdline``; processes that end while read are skipped)."""
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                lines.append((entry / "cmdline").read_bytes())
            except OSError:
                continue
    return lines


def test_typed_text_never_shows_in_the_process_list(target_app: Launcher) -> None:
    """Another local user can read every process's argv: the text (a filled secret, say) goes on stdin."""
    app = target_app()
    device = PyAutoGuiInput()
    device.click(*app.widget_center("text_field"))
    app.wait_for({"type": "mouse_release", "widget": "text_field"}, timeout=15)
    marker = "pw-" + secrets.token_hex(6)
    text = marker + "x" * 60  # about a second of typing at 12 ms per key
    errors: list[BaseException] = []

    def type_it() -> None:
        try:
            device.type_text(text)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=type_it)
    thread.start()
    leaked, xdotool_seen = False, False
    while thread.is_alive():
        for argv in _command_lines():
            leaked |= marker.encode() in argv
            words = argv.split(b"\0")
            xdotool_seen |= words[0].endswith(b"xdotool") and words[1:2] == [b"type"]
    thread.join()
    assert errors == []
    app.wait_for({"type": "text", "widget": "text_field", "text": text}, timeout=30)
    assert xdotool_seen  # the watch ran while xdotool typed
    assert not leaked


def _in_background(work: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    """Run ``work`` on a thread (as the agent's worker runs actions); its exception is kept."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - checked by the test
            errors.append(exc)

    thread = threading.Thread(target=run, name="acting")
    thread.start()
    return thread, errors


def test_a_stop_during_a_drag_releases_the_button_short_of_the_end(target_app: Launcher) -> None:
    """The stop request's release_all (from another thread, as the kill switch calls it) ends the drag:
    SafetyStop, no button held on the X server, and the pointer never reaches the drag's end."""
    app = target_app()
    device = PyAutoGuiInput(drag_seconds=30.0)  # far longer than the stop takes to land
    (x0, y0), (x1, y1) = app.widget_center("big_button"), app.widget_center("ok_button")
    thread, errors = _in_background(lambda: device.drag(x0, y0, x1, y1))
    app.wait_for({"type": "mouse_press", "widget": "big_button"}, timeout=15)
    device.release_all()
    thread.join(30)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], SafetyStop) and errors[0].reason == "released"
    assert held_state() == (0, [])
    release = app.wait_for({"type": "mouse_release", "widget": "big_button"}, timeout=15)
    stopped_at = device.position()
    assert (release["x"], release["y"]) != (x1, y1) and stopped_at != (x1, y1)
    assert min(x0, x1) <= stopped_at[0] <= max(x0, x1) and min(y0, y1) <= stopped_at[1] <= max(y0, y1)


def test_a_stop_during_typing_leaves_a_strict_prefix_and_no_key_held(target_app: Launcher) -> None:
    """Stopped mid-way, the long unicode text has arrived only in part, in order and unchanged, and no key
    stays down; typing afterwards goes on right after that prefix."""
    app = target_app()
    device = PyAutoGuiInput()
    device.click(*app.widget_center("text_field"))
    app.wait_for({"type": "mouse_release", "widget": "text_field"}, timeout=15)
    text = "Grüße <ok> 東京, " * 50  # about ten seconds of typing
    thread, errors = _in_background(lambda: device.type_text(text))
    app.wait_for({"type": "text", "widget": "text_field", "text": lambda t: len(t) >= 3}, timeout=30)
    device.release_all()
    thread.join(30)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], SafetyStop) and errors[0].reason == "released"
    assert held_state() == (0, [])
    # the X server delivers key events in order: what arrives before the "|" is all the stopped typing left
    device.type_text("|")
    typed = app.wait_for({"type": "text", "widget": "text_field", "text": lambda t: t.endswith("|")}, timeout=30)
    prefix = typed["text"][:-1]
    assert 3 <= len(prefix) < len(text) and text.startswith(prefix)
