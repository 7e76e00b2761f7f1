"""History's recording question: a recording written by the real recorder, the window's runner with its model
built by the composition root (remote client) against the strict scripted Nemotron that takes frames only in
vLLM's video layout — the answer with its times in the tab, Stop reaching into the generation, and one clear
line for no selection or a broken recording (which stays byte-identical)."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from omnidesk.agent.ports import CancelToken
from omnidesk.app.gui.agent_runner import GuiAgentRunner
from omnidesk.app.gui.confirmer import QtConfirmer
from omnidesk.app.gui.main_window import MainWindow
from omnidesk.app.gui.recording_ask import WHAT_HAPPENED
from omnidesk.app.hotkeys import GlobalHotkeys
from omnidesk.app.settings import AppPaths, Settings
from tests.app.gui.scripts import MONITOR
from tests.app.gui.test_agent_runner import FakeSessions
from tests.app.test_ask_recording import _digests, make_recording, policy
from tests.models.scripted_nemotron_video import Combine, SeenPart, serve

pytestmark = pytest.mark.desktop

WAIT_MS = 120_000


def _window(
    qtbot, tmp_path: Path, url: str, *, settings: Settings | None = None, hotkeys: GlobalHotkeys | None = None
) -> tuple[MainWindow, GuiAgentRunner]:
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    settings = settings or Settings()
    settings.model.remote_url = url  # loopback: no consent question
    runner = GuiAgentRunner(settings, paths, QtConfirmer(), session_factory=FakeSessions())
    list(runner.load(CancelToken()))
    window = MainWindow(
        settings, runner, monitors=[MONITOR], paths=paths, recording_asker=runner.ask_recording, hotkeys=hotkeys
    )
    qtbot.addWidget(window)
    window.show()
    return window, runner


def _select(window: MainWindow, name: str) -> None:
    window.side_tabs.setCurrentWidget(window.history)
    ask = window.history.ask
    ask.refresh()
    items = [ask.recordings.item(i) for i in range(ask.recordings.count())]
    ask.recordings.setCurrentItem(next(i for i in items if i is not None and i.text() == name))


def test_a_recording_is_asked_from_history_and_the_answer_cites_its_times(qtbot, tmp_path: Path) -> None:
    with serve(policy, (640, 360)) as model:
        window, runner = _window(qtbot, tmp_path, model.url)
        folder = make_recording(window.paths.recordings_dir / "20261202-101500-demo")  # type: ignore[union-attr]
        before = _digests(folder)
        _select(window, folder.name)
        ask = window.history.ask
        ask.question.setText("When did the boxes appear?")
        progress: list[str] = []
        ask._relay.moved.connect(lambda stage, done, total: progress.append(stage))
        with qtbot.waitSignal(ask.finished, timeout=WAIT_MS) as finished:
            ask.ask_button.click()
            assert ask.asking and ask.stop_button.isEnabled() and not ask.ask_button.isEnabled()
        runner.close()
    assert finished.args == ["answered"], ask.answer.text()
    assert model.refusals == []
    (seen,) = model.seen
    assert isinstance(seen, SeenPart) and seen.question == "When did the boxes appear?"
    text = ask.answer.text()
    # The model's answer cites the frames' labels; below it, the span and the frames the model was given.
    assert text.startswith("I saw the red box at 00:02 and the blue box at 00:05."), text
    assert f"Looked at 00:00–00:08 of {folder.name}: 3 frames at 00:00, 00:02, 00:05" in text
    assert "reading" in progress and "asking part 1 of 1" in progress
    assert not ask.progress.isVisible() and ask.ask_button.isEnabled()
    assert _digests(folder) == before


def test_stop_reaches_into_the_generation(qtbot, tmp_path: Path) -> None:
    asked, release = threading.Event(), threading.Event()

    def slow(seen: SeenPart | Combine) -> str:
        asked.set()
        release.wait(WAIT_MS / 1000)  # the answer only comes after the test has stopped the question
        return "too late"

    with serve(slow, (640, 360)) as model:
        window, runner = _window(qtbot, tmp_path, model.url)
        folder = make_recording(window.paths.recordings_dir / "20261202-101500-demo", audio=False)  # type: ignore[union-attr]
        _select(window, folder.name)
        ask = window.history.ask
        ask.question.setText("What happened?")
        ask.ask_button.click()
        qtbot.waitUntil(asked.is_set, timeout=WAIT_MS)
        # A run cannot start while the model answers the question.
        window.task_bar.task_edit.setText("click OK")
        window.task_bar.run_button.click()
        assert not window.controller.running and "question about a recording" in window.state_label.text()
        with qtbot.waitSignal(ask.finished, timeout=WAIT_MS) as finished:
            ask.stop_button.click()
        release.set()
        runner.close()
    assert finished.args == ["stopped"]
    assert ask.answer.text() == "Stopped" and ask.ask_button.isEnabled()


def test_no_selection_and_a_broken_recording_get_one_clear_line(qtbot, tmp_path: Path) -> None:
    with serve(policy, (640, 360)) as model:
        window, runner = _window(qtbot, tmp_path, model.url)
        ask = window.history.ask
        ask.question.setText("What happened?")
        with qtbot.waitSignal(ask.failed) as failed:
            ask.ask_button.click()
        assert not ask.asking
        assert failed.args[0].startswith("Select a recording first")
        broken = window.paths.recordings_dir / "20261202-090000-broken"  # type: ignore[union-attr]
        broken.mkdir(parents=True)
        (broken / "index.json").write_text('{"segments": [{"file": "seg-00000.mkv"}]}', encoding="utf-8")
        (broken / "seg-00000.mkv").write_bytes(b"")
        before = _digests(broken)
        _select(window, broken.name)
        with qtbot.waitSignal(ask.finished, timeout=WAIT_MS) as finished:
            ask.ask_button.click()
        runner.close()
    assert finished.args == ["error"]
    line = ask.answer.text()
    assert line.startswith("Could not answer: ") and "\n" not in line, line
    assert "seg-00000.mkv is empty (0 bytes)" in line
    assert model.seen == [] and model.refusals == []
    assert _digests(broken) == before


def test_the_what_happened_hotkey_asks_the_newest_recordings_last_minutes(qtbot, tmp_path: Path) -> None:
    settings = Settings()
    settings.recording.what_happened_minutes = 0.05  # the last 3 s
    hotkeys = GlobalHotkeys(settings.hotkeys)
    assert hotkeys.start() is None
    try:
        with serve(policy, (640, 360)) as model:
            window, runner = _window(qtbot, tmp_path, model.url, settings=settings, hotkeys=hotkeys)
            recordings = window.paths.recordings_dir  # type: ignore[union-attr]
            make_recording(recordings / "20261202-090000-older", audio=False)
            newest = make_recording(recordings / "20261202-101500-newest")
            window.side_tabs.setCurrentIndex(0)
            window.hide()
            ask = window.history.ask
            with qtbot.waitSignal(ask.finished, timeout=WAIT_MS) as finished:
                subprocess.run(["xdotool", "key", settings.hotkeys.what_happened], check=True, env=dict(os.environ))
            runner.close()
    finally:
        hotkeys.stop()
    assert finished.args == ["answered"], ask.answer.text()
    assert model.refusals == []
    (seen,) = model.seen
    assert isinstance(seen, SeenPart) and seen.question == WHAT_HAPPENED
    # The newest recording (it has sound), from 3 s before its end: one frame at 00:05 (both boxes on screen
    # by then) and those 3 s of sound.
    assert seen.span == ("00:05", "00:08", "00:08") and seen.times == [5.0]
    assert sum(seen.clips) == pytest.approx(3.0, abs=0.15)
    text = ask.answer.text()
    assert text.startswith("I saw the red box at 00:05 and the blue box at 00:05."), text
    assert f"Looked at 00:05–00:08 of {newest.name}: 1 frame at 00:05" in text
    assert window.isVisible() and window.side_tabs.currentWidget() is window.history
