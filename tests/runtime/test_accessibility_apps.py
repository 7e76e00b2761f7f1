"""Real Debian applications through the AT-SPI adapter: GTK 3 (gtk3-demo, galculator at scale 2, mousepad)
and Qt 5 (featherpad), started once for the module by the rig's launcher (`tests/rig/apps.py`).

Boxes are checked by acting on them: XTest clicks (xdotool) at the centres the tree gives must land on
those elements — the calculator computes, the password entry takes the focus.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnidesk.agent.actions import TypeText
from omnidesk.agent.config import SafetyConfig
from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import AccessibleElement, FocusedElement
from omnidesk.agent.safety import SafetyPolicy
from omnidesk.runtime.accessibility import AtspiAccessibility
from omnidesk.runtime.windows import X11WindowInspector
from tests.rig import wait_until
from tests.rig.a11y import A11yBus
from tests.rig.apps import RunningApp, activate_window, launch_app
from tests.rig.xserver import WindowManager, XServer

pytestmark = [pytest.mark.desktop]


@pytest.fixture(scope="module")
def real_apps(
    module_window_manager: WindowManager,
    a11y_bus: A11yBus,
    accessibility: AtspiAccessibility,
    x_display: XServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, RunningApp]]:
    workdir = tmp_path_factory.mktemp("real-apps")
    started: dict[str, RunningApp] = {}
    try:
        for key, scale in (("gtk3-demo-entry", 1.0), ("galculator", 2.0), ("featherpad", 1.0), ("mousepad", 1.0)):
            started[key] = launch_app(
                key, bus=a11y_bus, accessibility=accessibility, display=x_display.display, workdir=workdir, scale=scale
            )
        yield started
    finally:
        for app in started.values():
            app.close()


def _xdotool(display: str, *args: str) -> None:
    subprocess.run(["xdotool", *args], env={"DISPLAY": display, "PATH": "/usr/bin:/bin"}, check=True, timeout=10)


def _click(display: str, box: Rect) -> None:
    _xdotool(display, "mousemove", str(box.x + box.width // 2), str(box.y + box.height // 2))
    _xdotool(display, "click", "1")


def _inside(inner: Rect | None, outer: Rect | None) -> bool:
    assert inner is not None and outer is not None
    return outer.x <= inner.x and outer.y <= inner.y and inner.right <= outer.right and inner.bottom <= outer.bottom


def test_gtk3_password_entry_is_known_and_its_box_is_where_it_is(
    real_apps: dict[str, RunningApp], accessibility: AtspiAccessibility, x_display: XServer
) -> None:
    app = real_apps["gtk3-demo-entry"]
    tree = app.tree(window="Entry Buffer")
    assert (tree.app.toolkit, tree.scale, tree.scale_source) == ("gtk", 1.0, "window")
    (frame,) = tree.windows
    (password,) = [e for e in tree.walk() if e.role == "password_text"]
    (entry,) = [e for e in tree.walk() if e.role == "text" and e.editable]
    assert password.password and _inside(password.box, frame.box) and _inside(entry.box, frame.box)
    activate_window(x_display.display, app.app.pid, "Entry Buffer")
    assert password.box is not None and entry.box is not None
    _click(x_display.display, password.box)
    focus = wait_until(lambda: _focus_on(accessibility, "password_text"), 10, "the password entry to take the focus")
    assert focus.window_title == "Entry Buffer" and focus.app.pid == app.app.pid
    assert focus.element.box == password.box
    windows = X11WindowInspector(x_display.display)
    policy = SafetyPolicy(SafetyConfig(confirm_patterns=[]), windows=windows, fields=accessibility)
    try:
        verdict = policy.review(TypeText(text="hunter2"))
        assert verdict.decision == "confirm" and verdict.rules == ("password_field",)
        _click(x_display.display, entry.box)
        wait_until(lambda: _focus_on(accessibility, "text"), 10, "the text entry to take the focus")
        assert policy.review(TypeText(text="hunter2")).decision == "allow"
    finally:
        windows.close()


def _focus_on(port: AtspiAccessibility, role: str) -> FocusedElement | None:
    focus = port.focus()
    return focus if isinstance(focus, FocusedElement) and focus.element.role == role else None


def _display(app: RunningApp) -> list[str | None]:
    return [e.text for e in app.tree(text=True).walk() if e.role == "text"]


def test_gtk3_at_scale_two_clicks_land_on_the_buttons_the_tree_names(
    real_apps: dict[str, RunningApp], x_display: XServer
) -> None:
    app = real_apps["galculator"]
    tree = app.tree()
    assert (tree.scale, tree.scale_source) == (2.0, "window")
    buttons: dict[str, AccessibleElement] = {e.name: e for e in tree.walk() if e.role == "toggle_button"}
    assert {"7", "*", "6", "=", "AC"} <= set(buttons)
    (frame,) = tree.windows
    assert all(_inside(b.box, frame.box) for b in buttons.values())
    activate_window(x_display.display, app.app.pid, "galculator")
    for name, shown in (("AC", "0"), ("7", "7"), ("*", "7"), ("6", "6"), ("=", "42")):
        box = buttons[name].box
        assert box is not None
        _click(x_display.display, box)
        wait_until(lambda shown=shown: _display(app) == [shown], 10, f"the display to show {shown} after {name}")


def test_qt5_editor_shows_its_menus_and_what_was_typed(
    real_apps: dict[str, RunningApp], accessibility: AtspiAccessibility, x_display: XServer
) -> None:
    app = real_apps["featherpad"]
    tree = app.tree()
    assert tree.app.toolkit == "Qt" and tree.app.toolkit_version.startswith("5.")
    assert (tree.scale, tree.scale_source) == (1.0, "window")
    (frame,) = tree.windows
    menus = [e.name for e in tree.walk() if e.role == "menu_item"]
    assert menus[:2] == ["File", "Edit"]
    (editor,) = [e for e in tree.walk() if e.role == "text" and e.editable and "multi_line" in e.states]
    assert _inside(editor.box, frame.box)
    activate_window(x_display.display, app.app.pid, frame.name)
    assert editor.box is not None
    _click(x_display.display, editor.box)
    wait_until(lambda: _focus_on(accessibility, "text"), 10, "the editor to take the focus")
    _xdotool(x_display.display, "type", "--delay", "20", "hello a11y")
    wait_until(
        lambda: any(e.text == "hello a11y" for e in app.tree(text=True).walk()), 10, "the typed text in the tree"
    )


def test_gtk3_editor_is_on_the_bus_with_its_document(real_apps: dict[str, RunningApp]) -> None:
    tree = real_apps["mousepad"].tree()
    (frame,) = tree.windows
    assert frame.name.endswith("Mousepad")
    assert [e.name for e in tree.walk() if e.role == "menu"][:2] == ["File", "Edit"]
    (document,) = [e for e in tree.walk() if e.role == "text" and e.editable]
    assert _inside(document.box, frame.box)


def test_the_helper_refuses_a_scale_gtk3_cannot_do(
    a11y_bus: A11yBus, accessibility: AtspiAccessibility, x_display: XServer, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="integers only"):
        launch_app(
            "galculator",
            bus=a11y_bus,
            accessibility=accessibility,
            display=x_display.display,
            workdir=tmp_path,
            scale=1.5,
        )
