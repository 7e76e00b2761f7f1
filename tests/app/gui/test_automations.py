"""Saved automations: the TOML store, the panel, and starting one from a global hotkey."""

from __future__ import annotations

import os
import subprocess

import pytest
from pydantic import ValidationError

from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.app.gui.automation_store import Automation, AutomationStore
from omnidesk.app.gui.main_window import MainWindow
from omnidesk.app.hotkeys import GlobalHotkeys
from omnidesk.app.settings import AppPaths, HotkeyConfig, Settings
from tests.app.gui.scripts import MONITOR, ScriptedRun, click_step

RIGHT = MonitorInfo(index=2, name="right", geometry=Rect(1920, 0, 1280, 1024))


def test_store_round_trip_overwrite_delete_and_broken_files(tmp_path, caplog) -> None:
    store = AutomationStore(tmp_path / "automations")
    assert store.list() == []
    store.save(Automation(name="Morning mail", task="open the mail app", monitor="right"))
    store.save(Automation(name="archive", task="archive read mail", dry_run=True))
    store.save(Automation(name="Morning mail", task="open Thunderbird"))  # same name: overwritten
    (tmp_path / "automations" / "junk.toml").write_text("task = 3\n")
    assert [(a.name, a.task, a.dry_run) for a in store.list()] == [
        ("archive", "archive read mail", True),
        ("Morning mail", "open Thunderbird", False),
    ]
    assert any("skipping automation junk.toml" in r.getMessage() for r in caplog.records)
    store.delete("archive")
    assert store.get("archive") is None and store.get("Morning mail") is not None
    with pytest.raises(ValidationError):
        Automation(name="", task="x")


def _window(qtbot, tmp_path, run, **kw):  # type: ignore[no-untyped-def]
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    window = MainWindow(Settings(), run, monitors=[MONITOR, RIGHT], paths=paths, **kw)
    qtbot.addWidget(window)
    window.show()
    window.side_tabs.setCurrentWidget(window.automations)
    return window, paths


@pytest.mark.desktop
def test_save_the_task_box_then_run_it_from_the_panel(qtbot, tmp_path) -> None:
    run = ScriptedRun([click_step(1)])
    window, paths = _window(qtbot, tmp_path, run)
    window.task_bar.task_edit.setText("empty the trash")
    window.task_bar.dry_run_box.setChecked(True)
    window.task_bar.monitor_box.setCurrentIndex(1)
    window.automations.name_edit.setText("Trash")
    window.automations.save_button.click()
    saved = AutomationStore(paths.automations_dir).get("Trash")
    assert saved == Automation(name="Trash", task="empty the trash", dry_run=True, monitor="right")
    assert window.automations.selected() == saved
    window.task_bar.task_edit.clear()
    window.task_bar.dry_run_box.setChecked(False)
    window.task_bar.monitor_box.setCurrentIndex(0)
    with qtbot.waitSignal(window.controller.run_finished, timeout=5000):
        window.automations.run_button.click()
    assert run.requests[0].task == "empty the trash" and run.requests[0].dry_run
    assert run.requests[0].monitor == RIGHT
    window.automations.delete_button.click()
    assert window.automations.list.count() == 0


@pytest.mark.desktop
def test_saving_needs_a_task(qtbot, tmp_path) -> None:
    window, paths = _window(qtbot, tmp_path, ScriptedRun([]))
    window.automations.name_edit.setText("nothing")
    window.automations.save_button.click()
    assert "Type a task first" in window.state_label.text()
    assert AutomationStore(paths.automations_dir).list() == []


@pytest.mark.desktop
def test_a_global_hotkey_starts_a_saved_automation(qtbot, tmp_path, x_display) -> None:
    run = ScriptedRun([click_step(1)])
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    AutomationStore(paths.automations_dir).save(Automation(name="Trash", task="empty the trash"))
    hotkeys = GlobalHotkeys(HotkeyConfig(automations={"ctrl+alt+shift+t": "Trash", "ctrl+alt+shift+y": "Gone"}))
    assert hotkeys.start() is None
    try:
        window = MainWindow(Settings(), run, monitors=[MONITOR], paths=paths, hotkeys=hotkeys)
        qtbot.addWidget(window)
        window.show()
        with qtbot.waitSignal(window.controller.run_finished, timeout=5000):
            subprocess.run(["xdotool", "key", "ctrl+alt+shift+t"], check=True, env=dict(os.environ), timeout=10)
        assert run.requests[0].task == "empty the trash"
        with qtbot.waitSignal(hotkeys.automation_requested, timeout=3000):
            subprocess.run(["xdotool", "key", "ctrl+alt+shift+y"], check=True, env=dict(os.environ), timeout=10)
        assert "No saved automation named “Gone”" in window.state_label.text()
    finally:
        hotkeys.stop()
