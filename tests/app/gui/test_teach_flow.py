"""Show me in the window: the button starts a demonstration on the real rig (screen, narration, the
person's input by xdotool on the Qt target app), stops it, opens the review, and saving lists the new
automation — a replay of the same clicks and text."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from omnidesk.agent.replay import load_replay
from omnidesk.app.gui.main_window import MainWindow
from omnidesk.app.gui.teach_review import TeachReview
from omnidesk.app.hotkeys import GlobalHotkeys
from omnidesk.app.settings import AppPaths, Settings
from omnidesk.runtime.keymap import SpareKeys
from tests.app.gui.scripts import MONITOR
from tests.rig.audio import PulseAudioRig
from tests.rig.plugin import Launcher

pytestmark = [pytest.mark.desktop, pytest.mark.audio, pytest.mark.slow]


def _xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, env=dict(os.environ), timeout=30)


def test_show_me_records_reviews_and_saves(
    qtbot, x_display: object, window_manager: object, pulse_audio: PulseAudioRig, target_app: Launcher, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    app = target_app(x=1100, y=100, width=700, height=500, title="Form")
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    window = MainWindow(Settings(), lambda request, cancel: iter(()), monitors=[MONITOR], paths=paths)
    qtbot.addWidget(window)
    window.setGeometry(0, 0, 1000, 700)
    window.show()
    window.side_tabs.setCurrentWidget(window.automations)
    teach = window.teach
    assert teach is not None

    with qtbot.waitSignal(teach.recording_started, timeout=60_000):
        window.automations.show_me_button.click()
    assert window.automations.show_me_button.text() == "Stop showing"
    x, y = app.widget_center("text_field")
    _xdotool("mousemove", "--sync", str(x), str(y), "click", "1")
    keys = SpareKeys()
    keys.ensure("Grüße")
    _xdotool("type", "--delay", "40", "--", "Grüße")
    keys.release_later()
    app.wait_for({"type": "text", "text": "Grüße"}, timeout=30)
    x, y = app.widget_center("ok_button")
    _xdotool("mousemove", "--sync", str(x), str(y), "click", "1")
    app.wait_for({"type": "clicked", "widget": "ok_button"}, timeout=15)

    with qtbot.waitSignal(teach.review_opened, timeout=120_000, raising=False) as opened:
        window.automations.show_me_button.click()  # stop showing
    assert opened.signal_triggered, (teach.state, window.state_label.text())
    review = opened.args[0]
    assert isinstance(review, TeachReview) and review.steps.count() == 3
    assert not window.automations.show_me_button.isEnabled()  # one demonstration at a time
    review.name_edit.setText("greet the form")
    with qtbot.waitSignal(teach.saved, timeout=60_000, raising=False) as saved:  # it waits on fsync
        review.save_button.click()
    assert saved.signal_triggered, (
        review.error_label.text(),
        teach.state,
        window.state_label.text(),
        review.isVisible(),
    )
    assert window.automations.selected() is not None
    automation = window.automations.selected()
    assert automation is not None and automation.name == "greet the form" and automation.kind == "replay"
    script = load_replay(Path(automation.bundle))
    assert [s.actions[0].kind for s in script.steps] == ["click", "type", "click"]
    assert window.automations.show_me_button.isEnabled() and teach.state == "idle"


def test_the_teach_hotkey_starts_showing_and_closing_the_window_ends_it_without_saving(
    qtbot, x_display: object, pulse_audio: PulseAudioRig, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    settings = Settings()
    hotkeys = GlobalHotkeys(settings.hotkeys)
    assert hotkeys.start() is None
    window = MainWindow(settings, lambda request, cancel: iter(()), monitors=[MONITOR], paths=paths, hotkeys=hotkeys)
    qtbot.addWidget(window)
    window.show()
    teach = window.teach
    assert teach is not None
    try:
        with qtbot.waitSignal(teach.recording_started, timeout=60_000):
            _xdotool("key", settings.hotkeys.teach)  # pressed anywhere on the desktop
        assert window.automations.show_me_button.text() == "Stop showing"
        window.close()  # waits for the demonstration to end, then closes
        assert window.isVisible()
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=60_000)
    finally:
        hotkeys.stop()
    assert not teach.busy and teach.state == "idle"
    assert list((tmp_path / "d" / "recordings").glob("teach-*/index.json"))  # the recording is kept
    assert not (tmp_path / "d" / "automations").exists()
