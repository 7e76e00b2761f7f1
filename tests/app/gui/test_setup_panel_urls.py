"""The first-run panel shows an engine URL without its credentials (issue 14, finding 13): the window can
be on a shared screen, in a screenshot or a screen recording."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import Qt

from omnidesk.app.gui.setup_panel import SetupPanel

pytestmark = pytest.mark.desktop

URL = "http://me:s3cret-pass@127.0.0.1:8080/v1?api_key=K3Y-in-query"


def test_the_engine_url_is_shown_without_its_credentials(qtbot) -> None:
    panel = SetupPanel()
    qtbot.addWidget(panel)
    panel.url_edit.setText(URL)
    with qtbot.waitSignal(panel.test_requested) as asked:
        qtbot.mouseClick(panel.test_button, Qt.MouseButton.LeftButton)
    assert asked.args[0] == URL  # the engine itself is asked with them
    shown = panel.engine_label.text()
    assert "127.0.0.1:8080" in shown and "s3cret-pass" not in shown and "K3Y-in-query" not in shown, shown
    panel.show_probe_result(URL, ["tiny"])
    shown = panel.engine_label.text()
    assert "serves tiny" in shown and "s3cret-pass" not in shown and "K3Y-in-query" not in shown, shown
