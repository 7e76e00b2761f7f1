"""The AT-SPI adapter without a desktop: protocol numbers, box conversion, and every way the bus is missing."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from omnidesk.agent.errors import AccessibilityError
from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import UnknownFocus
from omnidesk.runtime.accessibility import AtspiAccessibility
from omnidesk.runtime.atspi import ROLE_NAMES, STATE_NAMES, as_refs, find_bus_address, role_name, state_names
from omnidesk.runtime.atspi_tree import logical_to_device


def test_role_and_state_numbers_are_at_spi2_cores() -> None:
    # atspi-constants.h (at-spi2-core 2.46): the values the safety check and the tree rely on.
    assert role_name(40) == "password_text"
    assert role_name(61) == "text"
    assert role_name(43) == "push_button"
    assert role_name(23) == "frame"
    assert role_name(75) == "application"
    assert role_name(129) == "push_button_menu"
    assert len(ROLE_NAMES) == 130
    assert role_name(500) == "role_500"
    assert (STATE_NAMES[12], STATE_NAMES[25], STATE_NAMES[43]) == ("focused", "showing", "read_only")
    # GetState: two uint32 words, bit n = state n; bit 32 (indeterminate) sits in the second word.
    assert state_names([1 << 12 | 1 << 8 | 1 << 7, 1 << 0]) == {"focused", "enabled", "editable", "indeterminate"}
    assert state_names([]) == frozenset()


def test_object_references_are_checked_and_the_null_one_dropped() -> None:
    refs = [(":1.4", "/org/a11y/atspi/accessible/1"), (":1.4", "/org/a11y/atspi/null")]
    assert as_refs(refs) == [(":1.4", "/org/a11y/atspi/accessible/1")]
    for bad in ([(":1.4",)], [(1, "/x")], "nope", [(":1.4", None)]):
        with pytest.raises(AccessibilityError):
            as_refs(bad)


MONITORS = [Rect(0, 0, 3840, 2160), Rect(3840, 0, 1920, 1080)]


def test_scale_one_is_unchanged() -> None:
    box = Rect(10, 20, 30, 40)
    assert logical_to_device(box, 1.0, MONITORS, per_monitor=True) is box


def test_qt_scales_from_each_monitors_origin() -> None:
    # Qt: the second monitor's logical origin stays at its device origin (3840, 0).
    assert logical_to_device(Rect(100, 50, 200, 30), 2.0, MONITORS, per_monitor=True) == Rect(200, 100, 400, 60)
    assert logical_to_device(Rect(3850, 10, 100, 20), 2.0, MONITORS, per_monitor=True) == Rect(3860, 20, 200, 40)
    assert logical_to_device(Rect(101, 113, 400, 160), 1.5, [], per_monitor=True) == Rect(152, 170, 600, 240)


def test_gtk_scales_the_whole_desktop() -> None:
    assert logical_to_device(Rect(3850, 10, 100, 20), 2.0, MONITORS, per_monitor=False) == Rect(7700, 20, 200, 40)


def test_the_address_variable_wins_and_no_session_bus_says_what_to_do() -> None:
    assert find_bus_address({"AT_SPI_BUS_ADDRESS": "unix:path=/run/x"}, 0.2) == "unix:path=/run/x"
    with pytest.raises(AccessibilityError, match="DBUS_SESSION_BUS_ADDRESS is not set"):
        find_bus_address({}, 0.2)


def test_nothing_there_is_unknown_never_a_crash() -> None:
    port = AtspiAccessibility({}, focus_timeout=0.2, call_timeout=0.2)
    try:
        focus = port.focus()
        assert isinstance(focus, UnknownFocus)
        assert "DBUS_SESSION_BUS_ADDRESS" in focus.reason
        with pytest.raises(AccessibilityError):
            port.applications()
        status = port.status()
        assert not status.available
        assert "at-spi2-core" in status.fix and "QT_LINUX_ACCESSIBILITY_ALWAYS_ON" in status.fix
    finally:
        port.close()


def test_a_dead_session_bus_is_unknown(tmp_path: Path) -> None:
    port = AtspiAccessibility({"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/gone"}, focus_timeout=0.2)
    focus = port.focus()
    assert isinstance(focus, UnknownFocus)
    assert "session D-Bus does not answer" in focus.reason


def test_a_bus_that_never_answers_is_unknown_within_the_budget(tmp_path: Path) -> None:
    # A socket that accepts and then says nothing (a hung bus): authentication times out.
    path = tmp_path / "mute"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(4)
    try:
        port = AtspiAccessibility({"AT_SPI_BUS_ADDRESS": f"unix:path={path}"}, focus_timeout=0.2)
        focus = port.focus()
        assert isinstance(focus, UnknownFocus)
        assert "cannot connect to the accessibility bus" in focus.reason
        port.close()
    finally:
        server.close()


def test_a_stale_address_is_unknown(tmp_path: Path) -> None:
    port = AtspiAccessibility({"AT_SPI_BUS_ADDRESS": f"unix:path={tmp_path}/bus_0"}, focus_timeout=0.2)
    focus = port.focus()
    assert isinstance(focus, UnknownFocus)
    assert "cannot connect to the accessibility bus" in focus.reason


def test_the_safety_signal_is_unknown_not_no_without_a_bus() -> None:
    port = AtspiAccessibility({}, focus_timeout=0.2)
    assert port.focused_is_password() is None
    assert port.focused_field_area() is None
    port.close()
