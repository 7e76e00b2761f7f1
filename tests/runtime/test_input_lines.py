"""A multi-line text typed by the input device arrives as lines in a real text editor (mousepad, GTK 3):
each line break is pressed as Return (typed by xdotool, it never reached the text view as Enter)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from omnidesk.runtime.accessibility import AtspiAccessibility
from omnidesk.runtime.desktop_apps import DesktopApps
from omnidesk.runtime.input import PyAutoGuiInput
from tests.rig import wait_until
from tests.rig.a11y import A11yBus
from tests.rig.xserver import WindowManager, XServer

pytestmark = [pytest.mark.desktop]


def test_line_breaks_arrive_as_lines(
    a11y_bus: A11yBus,
    x_display: XServer,
    module_window_manager: WindowManager,
    accessibility: AtspiAccessibility,
    tmp_path: Path,
) -> None:
    apps = DesktopApps({**a11y_bus.app_env(x_display.display), "PATH": os.environ["PATH"]}, accessibility)
    editor = apps.launch("mousepad", [], tmp_path)
    device = PyAutoGuiInput()
    try:
        device.type_text("one\ntwo\r\nthrée <3\n")

        def document() -> str:
            return next((e.text or "") for e in editor.tree().walk() if e.role == "text" and e.editable)

        wait_until(lambda: document() == "one\ntwo\nthrée <3\n", 20, "the typed lines in the editor", 0.2)
    finally:
        device.close()
        editor.close()
