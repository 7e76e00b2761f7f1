"""History: runs recorded by GuiAgentRunner show up in the panel with their steps and pictures."""

from __future__ import annotations

import json

import pytest

from omnidesk.agent.ports import CancelToken
from omnidesk.app.gui.agent_runner import GuiAgentRunner
from omnidesk.app.gui.confirmer import QtConfirmer
from omnidesk.app.gui.controller import RunRequest
from omnidesk.app.gui.history import list_runs
from omnidesk.app.gui.main_window import MainWindow
from omnidesk.app.settings import AppPaths, Settings
from tests.app.gui.scripts import MONITOR
from tests.app.gui.test_agent_runner import FakeSessions
from tests.app.gui.test_with_agent import code
from tests.fakes import FakeModel

pytestmark = pytest.mark.desktop


def _record_two_runs(paths: AppPaths) -> None:
    settings = Settings()
    settings.model.model = "tiny.gguf"
    model = FakeModel([code("pyautogui.click(0.5, 0.5)"), code("computer.terminate()"), code("computer.terminate()")])
    runner = GuiAgentRunner(
        settings, paths, QtConfirmer(), model_factory=lambda s, p, c: model, session_factory=FakeSessions()
    )
    list(runner.load(CancelToken()))
    list(runner(RunRequest("click the middle"), CancelToken()))
    steps = runner(RunRequest("second task"), CancelToken())
    next(steps)
    steps.close()  # as the worker does after a stop between steps


def test_runs_are_recorded_and_listed_newest_first(tmp_path) -> None:
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    _record_two_runs(paths)
    folders = list_runs(paths.runs_dir)
    assert [f.name.split("-", 2)[2] for f in folders] == ["second-task", "click-the-middle"]
    first = json.loads((folders[1] / "run.json").read_text())
    assert (first["task"], first["status"], first["steps"]) == ("click the middle", "finished", 2)
    assert json.loads((folders[0] / "run.json").read_text())["status"] == "stopped"
    assert (folders[1] / "step-0000.png").is_file()


def test_history_panel_shows_runs_steps_and_pictures_and_reruns(qtbot, tmp_path) -> None:
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    _record_two_runs(paths)
    window = MainWindow(Settings(), None, monitors=[MONITOR], paths=paths)
    qtbot.addWidget(window)
    window.show()
    window.side_tabs.setCurrentWidget(window.history)
    history = window.history
    assert history.runs.topLevelItemCount() == 2
    older = history.runs.topLevelItem(1)
    assert (older.text(1), older.text(2), older.text(3)) == ("click the middle", "finished", "2")
    history.runs.setCurrentItem(older)
    assert history.steps.topLevelItemCount() == 2
    assert history.steps.topLevelItem(0).text(1) == "click"
    history.steps.setCurrentItem(history.steps.topLevelItem(0))
    pixmap = history.picture.pixmap()
    assert pixmap is not None and not pixmap.isNull() and pixmap.height() == 260
    history.rerun_button.click()
    assert window.task_bar.task_edit.text() == "click the middle"
    assert window.side_tabs.currentIndex() == 0


def test_a_broken_bundle_is_skipped_not_fatal(qtbot, tmp_path, caplog) -> None:
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    _record_two_runs(paths)
    broken = paths.runs_dir / "20200101-000000-broken"
    broken.mkdir()
    (broken / "run.json").write_text("{not json")
    window = MainWindow(Settings(), None, monitors=[MONITOR], paths=paths)
    qtbot.addWidget(window)
    window.history.refresh()
    assert window.history.runs.topLevelItemCount() == 2
    assert any("skipping unreadable run" in r.getMessage() for r in caplog.records)
