"""The AT-SPI adapter on the rig against the Qt 6 target app, which reports its own widget geometry.

Two target apps start once for the module, at Qt scale 1.0 and 2.0, on a private accessibility bus; a
third is started without the bus (an application the tree cannot see).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnidesk.agent.actions import TypeText
from omnidesk.agent.config import SafetyConfig
from omnidesk.agent.errors import AccessibilityError
from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import AccessibleElement, AccessibleTree, FocusedElement, UnknownFocus
from omnidesk.agent.safety import SafetyPolicy
from omnidesk.agent.secrets import SecretBinding
from omnidesk.runtime.accessibility import AtspiAccessibility
from omnidesk.runtime.windows import X11WindowInspector
from tests.fakes import FakeSecretStore
from tests.rig import wait_until
from tests.rig.a11y import A11yBus, start_a11y_bus
from tests.rig.apps import activate_window
from tests.rig.target_client import TargetApp, launch_target
from tests.rig.xserver import WindowManager, XServer

pytestmark = [pytest.mark.desktop]

NAMED = ["menu_bar", "central", "ok_button", "cancel_button", "text_field", "password_field", "item_list"]
NAMED += ["big_button", "dialog_button"]


def _launch(tmp: Path, x_display: XServer, bus: A11yBus | None, **geometry: object) -> TargetApp:
    env = {**os.environ, "DISPLAY": x_display.display}
    if bus is not None:
        env.update(bus.app_env(x_display.display))
    return launch_target(tmp, env=env, **geometry)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def apps(
    module_window_manager: WindowManager,
    a11y_bus: A11yBus,
    x_display: XServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, TargetApp]]:
    tmp = tmp_path_factory.mktemp("qt-targets")
    started: dict[str, TargetApp] = {}
    try:
        started["1.0"] = _launch(tmp, x_display, a11y_bus, x=60, y=60, width=800, height=600, title="Target one")
        started["2.0"] = _launch(
            tmp, x_display, a11y_bus, x=1000, y=100, width=800, height=900, scale=2.0, title="Target two"
        )
        yield started
    finally:
        for app in started.values():
            app.close()


def _tree(port: AtspiAccessibility, app: TargetApp) -> AccessibleTree:
    pid = app.ready["pid"]
    (mine,) = [a for a in port.applications() if a.pid == pid]
    return port.tree(mine, showing_only=True)


def _by_object_name(tree: AccessibleTree) -> dict[str, AccessibleElement]:
    """Qt 6's AccessibleId is the objectName path; the last part names the widget."""
    found: dict[str, AccessibleElement] = {}
    for element in tree.walk():
        found.setdefault(element.accessible_id.rsplit(".", 1)[-1], element)
    return found


@pytest.mark.parametrize("scale", ["1.0", "2.0"])
def test_tree_matches_the_geometry_the_app_reports(
    apps: dict[str, TargetApp], accessibility: AtspiAccessibility, scale: str
) -> None:
    app = apps[scale]
    geometry = app.refresh()
    assert geometry["dpr"] == float(scale)
    tree = _tree(accessibility, app)
    assert (tree.scale, tree.scale_source, tree.complete) == (float(scale), "window", True)
    assert tree.app.toolkit == "Qt" and tree.app.toolkit_version.startswith("6.")
    (window,) = tree.windows
    assert window.role == "frame" and window.name == geometry["title"]
    assert window.box == Rect(*geometry["window"])
    widgets = _by_object_name(tree)
    for name in NAMED:
        assert widgets[name].box == Rect(*geometry["widgets"][name]), name
    items = {e.name: e for e in tree.walk() if e.role == "list_item"}
    for text, rect in geometry["items"].items():
        assert items[text].box == Rect(*rect), text
    assert widgets["ok_button"].role == "push_button" and widgets["ok_button"].name == "OK"
    assert widgets["password_field"].role == "password_text" and widgets["password_field"].password
    assert widgets["password_field"].name == "Password" and widgets["password_field"].editable
    assert widgets["text_field"].role == "text" and not widgets["text_field"].password
    assert all(e.showing for e in tree.walk())  # closed menus are left out
    assert not any(e.role == "popup_menu" for e in tree.walk())


def test_the_full_tree_has_the_closed_menus_without_boxes(
    apps: dict[str, TargetApp], accessibility: AtspiAccessibility
) -> None:
    app = apps["1.0"]
    (mine,) = [a for a in accessibility.applications() if a.pid == app.ready["pid"]]
    tree = accessibility.tree(mine)
    menus = [e for e in tree.walk() if e.role == "popup_menu"]
    assert len(menus) == 2 and all(m.box is None and not m.showing for m in menus)
    assert {e.name for m in menus for e in m.children} == {"Open", "Save", "Quit", "Copy", "Paste", "Select All"}
    only = accessibility.tree(mine, window="Target one", max_elements=5)
    assert not only.complete and only.size == 5
    assert accessibility.tree(mine, window="no such window").windows == ()


def _focus_widget(app: TargetApp, name: str, display: str) -> None:
    """Activate the app's window as a click would, give `name` the focus, and wait until Qt says so."""
    activate_window(display, app.ready["pid"], app.geometry["title"])
    app.request({"cmd": "focus", "widget": name})
    wait_until(lambda: app.refresh()["focus"] == name, 10, f"{name} to have the keyboard focus")


def _focused(port: AtspiAccessibility) -> FocusedElement:
    focus = port.focus()
    assert isinstance(focus, FocusedElement), focus
    return focus


@pytest.mark.parametrize("scale", ["1.0", "2.0"])
def test_focus_changes_are_seen_and_a_password_field_is_known(
    apps: dict[str, TargetApp], accessibility: AtspiAccessibility, x_display: XServer, scale: str
) -> None:
    app = apps[scale]
    _focus_widget(app, "text_field", x_display.display)
    focus = _focused(accessibility)
    assert focus.element.accessible_id.endswith(".text_field") and not focus.password
    assert focus.app.pid == app.ready["pid"] and focus.window_title == app.geometry["title"]
    assert focus.element.box == Rect(*app.widget_rect("text_field"))
    _focus_widget(app, "password_field", x_display.display)
    focus = _focused(accessibility)
    assert focus.password and focus.element.role == "password_text" and focus.element.focused
    _focus_widget(app, "ok_button", x_display.display)
    assert _focused(accessibility).element.name == "OK"


def test_safety_asks_before_plain_text_goes_into_the_password_field(
    apps: dict[str, TargetApp], accessibility: AtspiAccessibility, x_display: XServer
) -> None:
    """The safety policy with the real window list and this port as its field signal (as compose wires it)."""
    app = apps["1.0"]
    store = FakeSecretStore({"target": "s3cret"}, {"target": SecretBinding(title=("Target one",), alone=True)})
    windows = X11WindowInspector(x_display.display)
    policy = SafetyPolicy(SafetyConfig(confirm_patterns=[]), windows=windows, secrets=store, fields=accessibility)
    try:
        _focus_widget(app, "password_field", x_display.display)
        assert accessibility.focused_is_password() is True
        assert accessibility.focused_field_area() == Rect(*app.widget_rect("password_field"))
        verdict = policy.review(TypeText(text="hunter2"))
        assert verdict.decision == "confirm" and verdict.rules == ("password_field",)
        assert verdict.window is not None and verdict.window.title == "Target one"
        secret = policy.review(TypeText(text="{{secret:target}}"))
        assert secret.decision == "confirm" and secret.rules == ("secret_fill",)  # the fill's own question
        _focus_widget(app, "text_field", x_display.display)
        assert accessibility.focused_is_password() is False
        assert policy.review(TypeText(text="hunter2")).decision == "allow"
    finally:
        windows.close()


def test_a_window_not_on_the_bus_is_unknown(
    apps: dict[str, TargetApp], accessibility: AtspiAccessibility, x_display: XServer, tmp_path: Path
) -> None:
    _focus_widget(apps["1.0"], "password_field", x_display.display)
    assert _focused(accessibility).password
    hidden = _launch(tmp_path, x_display, None, x=300, y=300, width=400, height=300, title="Not on the bus")
    try:
        activate_window(x_display.display, hidden.ready["pid"], "Not on the bus")
        wait_until(lambda: not apps["1.0"].refresh()["active"], 10, "the first window to lose the focus")
        focus = accessibility.focus()
        assert isinstance(focus, UnknownFocus), focus
        assert "not on the accessibility bus" in focus.reason
        assert accessibility.focused_is_password() is None  # unknown, never "no"
    finally:
        hidden.close()


def test_an_application_that_hangs_costs_a_bounded_wait(
    apps: dict[str, TargetApp], accessibility: AtspiAccessibility, a11y_bus: A11yBus, x_display: XServer
) -> None:
    app = apps["1.0"]
    _focus_widget(app, "text_field", x_display.display)
    assert isinstance(accessibility.focus(), FocusedElement)
    (mine,) = [a for a in accessibility.applications() if a.pid == app.ready["pid"]]
    port = AtspiAccessibility(a11y_bus.env(x_display.display), focus_timeout=0.3, call_timeout=0.5)
    os.kill(app.process.pid, signal.SIGSTOP)
    try:
        focus = port.focus()
        assert isinstance(focus, UnknownFocus), focus
        with pytest.raises(AccessibilityError, match=r"does not answer|no answer"):
            port.tree(mine)
    finally:
        os.kill(app.process.pid, signal.SIGCONT)
        port.close()
    assert isinstance(accessibility.focus(), FocusedElement)


def test_the_bus_going_away_is_unknown(x_display: XServer, tmp_path: Path) -> None:
    bus = start_a11y_bus(tmp_path)
    port = AtspiAccessibility(bus.env(x_display.display), focus_timeout=0.3, retry_seconds=0.0)
    try:
        assert port.status().available
        bus.stop()
        focus = port.focus()
        assert isinstance(focus, UnknownFocus)
        status = port.status()
        assert not status.available and "at-spi2-core" in status.fix
    finally:
        port.close()
        bus.stop()
