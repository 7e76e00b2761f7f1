"""Replay automations: a finished GUI run saved from the Automations tab, started by its global hotkey
after the target window moved, is done again without the model — the target app reports the click."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.ports import CancelToken, Confirmer, Step
from omnidesk.app.gui.agent_runner import GuiAgentRunner
from omnidesk.app.gui.app import qt_monitors
from omnidesk.app.gui.automation_store import Automation, AutomationStore, replay_automation
from omnidesk.app.gui.confirmer import QtConfirmer
from omnidesk.app.gui.controller import RunRequest
from omnidesk.app.gui.main_window import MainWindow
from omnidesk.app.gui.replay_runner import replay_run
from omnidesk.app.gui.tray import TrayIcon
from omnidesk.app.hotkeys import GlobalHotkeys
from omnidesk.app.settings import AppPaths, Settings
from tests.e2e.test_agent_on_desktop import clicking_model
from tests.rig.plugin import Launcher

HOTKEY = "ctrl+alt+shift+r"


class ThreadNotingReplayer:
    """The real replay engine, noting the thread it runs on."""

    def __init__(self) -> None:
        self.threads: list[str] = []

    def __call__(
        self, settings: Settings, confirmer: Confirmer, request: RunRequest, cancel: CancelToken
    ) -> Iterator[Step]:
        self.threads.append(threading.current_thread().name)
        yield from replay_run(settings, confirmer, request, cancel)


@pytest.mark.desktop
@pytest.mark.slow
def test_a_saved_run_replays_from_its_hotkey_after_the_window_moved(qtbot, target_app: Launcher, tmp_path) -> None:
    app = target_app(x=150, y=120, width=700, height=500)
    settings = Settings()
    settings.model.model = "tiny.gguf"
    settings.gui.hide_during_run = False
    settings.hotkeys.automations = {HOTKEY: "press ok"}
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    confirmer = QtConfirmer()
    model = clicking_model(app.ready["colors"]["ok_button"])
    replayer = ThreadNotingReplayer()
    runner = GuiAgentRunner(settings, paths, confirmer, model_factory=lambda s, p, c: model, replayer=replayer)
    hotkeys = GlobalHotkeys(settings.hotkeys)
    assert hotkeys.start() is None
    try:
        window = MainWindow(
            settings,
            runner,
            monitors=qt_monitors(),
            confirmer=confirmer,
            status_source=runner.load,
            hotkeys=hotkeys,
            paths=paths,
        )
        qtbot.addWidget(window)
        window.setGeometry(1000, 0, 900, 380)  # beside the target app, before and after it moves
        window.show()
        qtbot.waitExposed(window)
        window.start_status_source()
        qtbot.waitUntil(lambda: "ready" in window.model_label.text(), timeout=5000)

        # 1. a model run, recorded to the data dir's runs/
        window.task_bar.task_edit.setText("press OK")
        with qtbot.waitSignal(window.controller.run_finished, timeout=30000) as finished:
            window.task_bar.run_button.click()
        assert finished.args == ["finished"], window.state_label.text()
        app.wait_for({"type": "clicked", "widget": "ok_button"}, timeout=15)
        asked = len(model.requests)

        # 2. saved as a replay automation from the Automations tab
        window.automations.name_edit.setText("press ok")
        window.automations.kind_box.setCurrentIndex(window.automations.kind_box.findData("replay"))
        window.automations.save_button.click()
        saved = AutomationStore(paths.automations_dir).get("press ok")
        assert saved is not None and saved.kind == "replay" and saved.task == "press OK"
        assert Path(saved.bundle).parent == paths.runs_dir and (Path(saved.bundle) / "run.json").is_file()
        assert "replays" in window.state_label.text()

        # 3. the window moves; the hotkey replays the run without the model
        app.move(60, 560)
        app.clear()
        with qtbot.waitSignal(window.controller.run_finished, timeout=30000) as finished:
            subprocess.run(["xdotool", "key", HOTKEY], check=True, env=dict(os.environ), timeout=10)
        assert finished.args == ["finished"], window.state_label.text()
        press = app.wait_for({"type": "mouse_press"}, timeout=15)
        assert press["widget"] == "ok_button" and press["y"] > 560
        app.wait_for({"type": "clicked", "widget": "ok_button"}, timeout=15)
        assert len(model.requests) == asked  # not one more model call
        assert replayer.threads and threading.main_thread().name not in replayer.threads
        steps = window.timeline.steps()
        assert [s.status for s in steps] == ["acted", "finished"]
        assert steps[0].action is not None and steps[0].action.kind == "click" and steps[0].target[1] > 560
        assert window.state_label.text().startswith("Run finished after 2 steps")
    finally:
        hotkeys.stop()


@pytest.mark.desktop
@pytest.mark.allow_log_errors
def test_a_replay_whose_target_is_gone_stops_with_the_reason(qtbot, target_app: Launcher, tmp_path) -> None:
    app = target_app(x=150, y=120, width=700, height=500)
    settings = Settings()
    settings.model.model = "tiny.gguf"
    settings.gui.hide_during_run = False
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    errors: list[str] = []
    model = clicking_model(app.ready["colors"]["ok_button"])
    runner = GuiAgentRunner(settings, paths, QtConfirmer(), model_factory=lambda s, p, c: model)
    window = MainWindow(
        settings,
        runner,
        monitors=qt_monitors(),
        status_source=runner.load,
        paths=paths,
        error_view=lambda title, message, details: errors.append(message),
    )
    qtbot.addWidget(window)
    window.start_status_source()
    qtbot.waitUntil(lambda: "ready" in window.model_label.text(), timeout=5000)
    window.task_bar.task_edit.setText("press OK")
    with qtbot.waitSignal(window.controller.run_finished, timeout=30000):
        window.task_bar.run_button.click()
    window.automations.name_edit.setText("press ok")
    window.automations.kind_box.setCurrentIndex(window.automations.kind_box.findData("replay"))
    window.automations.save_button.click()
    app.close()
    automation = window.saved.get("press ok")
    assert automation is not None
    with qtbot.waitSignal(window.controller.run_finished, timeout=30000) as finished:
        window.automations.run_requested.emit(automation)
    assert finished.args == ["error"]
    assert len(errors) == 1 and "not on the screen" in errors[0]
    assert [s.status for s in window.timeline.steps()] == []  # nothing clicked blindly


def test_replay_automations_need_a_finished_run(tmp_path) -> None:
    with pytest.raises(ValueError, match="bundle"):
        Automation(name="x", task="t", kind="replay")
    folder = tmp_path / "run"
    folder.mkdir()
    with pytest.raises(ConfigError, match="cannot save"):
        replay_automation("x", folder)


def test_the_tray_menu_lists_the_automations(qtbot, qapp) -> None:
    tray = TrayIcon()
    tray.set_automations(["backup", "press ok"])
    actions = tray.automations_menu.actions()
    assert [a.text() for a in actions] == ["backup", "press ok"]
    with qtbot.waitSignal(tray.automation_requested, timeout=1000) as chosen:
        actions[1].trigger()
    assert chosen.args == ["press ok"]
    tray.set_automations([])
    (empty,) = tray.automations_menu.actions()
    assert not empty.isEnabled()
