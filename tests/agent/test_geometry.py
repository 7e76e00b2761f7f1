"""Monitor selection: an index, an output name or the primary, with errors that name the choices."""

from __future__ import annotations

import pytest

from omnidesk.agent.errors import CaptureError, ConfigError
from omnidesk.agent.geometry import MonitorInfo, Rect, resolve_monitor

MONITORS = [
    MonitorInfo(1, "DUMMY0", Rect(0, 0, 1920, 1080)),
    MonitorInfo(2, "HDMI-1", Rect(1920, 0, 1280, 1024), primary=True),
]


def test_monitor_selection() -> None:
    assert resolve_monitor(MONITORS, None) == 2  # the RandR primary
    assert resolve_monitor(MONITORS, "") == 2
    assert resolve_monitor(MONITORS, "DUMMY0") == 1
    assert resolve_monitor(MONITORS, 1) == 1
    assert resolve_monitor(MONITORS, "2") == 2
    assert resolve_monitor(MONITORS, 0, allow_desktop=True) == 0
    no_primary = [MonitorInfo(1, "screen", Rect(0, 0, 10, 10))]
    assert resolve_monitor(no_primary, None) == 1


@pytest.mark.parametrize("selector", [0, 3, -1, "DP-9"])
def test_bad_monitor_selection_names_the_choices(selector: int | str) -> None:
    with pytest.raises(ConfigError, match=r"DUMMY0, HDMI-1|1\.\.2"):
        resolve_monitor(MONITORS, selector)


def test_no_monitors_is_a_capture_error() -> None:
    with pytest.raises(CaptureError):
        resolve_monitor([], None)
