"""Qt fixtures for the GUI tests: the QApplication lives on the rig's Xvfb display."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PyQt6 import sip
from PyQt6.QtWidgets import QApplication

from omnidesk.app.gui.style import apply_style
from tests.rig.xserver import XServer


@pytest.fixture(scope="session")
def qapp(x_display: XServer) -> Iterator[QApplication]:
    """pytest-qt's ``qapp``, created only after ``x_display`` exported DISPLAY (never Qt's abort)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(["omnidesk-tests", "-platform", "xcb"])
    assert isinstance(app, QApplication)
    apply_style(app)
    yield app
    # Drop the X connection before the rig stops Xvfb (else Qt reports a broken connection at exit).
    for widget in app.topLevelWidgets():
        widget.close()
    app.processEvents()
    sip.delete(app)
