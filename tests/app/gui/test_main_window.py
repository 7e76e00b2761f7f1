"""MainWindow end to end on Xvfb: a scripted run function drives the real widgets through the worker."""

from __future__ import annotations

import itertools
import logging
import threading
import time

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication

from omnidesk.agent.actions import AskUser, Hotkey
from omnidesk.agent.errors import ModelLoadError
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import ConfirmationRequest
from omnidesk.app.gui.confirmer import QtConfirmer
from omnidesk.app.gui.controller import RunRequest
from omnidesk.app.gui.main_window import MainWindow
from omnidesk.app.settings import Settings
from tests.app.gui.scripts import MONITOR, ScriptedRun, click_step, drag_step, step, type_step

pytestmark = pytest.mark.desktop
log = logging.getLogger(__name__)


class ErrorRecorder:
    """The injected error view: records instead of opening a dialog."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, str, str]] = []

    def __call__(self, title: str, message: str, details: str) -> None:
        self.shown.append((title, message, details))


def _settings(hide: bool = False) -> Settings:
    settings = Settings()
    settings.gui.hide_during_run = hide
    return settings


@pytest.fixture
def make_window(qtbot):
    def make(
        run, *, hide: bool = False, confirmer: QtConfirmer | None = None, monitors: tuple[MonitorInfo, ...] = (MONITOR,)
    ) -> tuple[MainWindow, ErrorRecorder]:
        errors = ErrorRecorder()
        window = MainWindow(_settings(hide), run, monitors=monitors, confirmer=confirmer, error_view=errors)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return window, errors

    return make


def _start(qtbot, window: MainWindow, task: str = "open the settings") -> None:
    window.task_bar.task_edit.setFocus()
    qtbot.keyClicks(window.task_bar.task_edit, task)
    with qtbot.waitSignal(window.controller.run_started, timeout=5000):
        qtbot.keyClick(window.task_bar.task_edit, Qt.Key.Key_Return)


def test_typed_task_runs_on_a_worker_and_fills_the_timeline(qtbot, make_window) -> None:
    steps = [click_step(1), type_step(2), drag_step(3), step(4, status="finished")]
    run = ScriptedRun(steps)
    window, errors = make_window(run)
    window.task_bar.dry_run_box.setChecked(True)
    with qtbot.waitSignal(window.controller.run_finished, timeout=5000) as finished:
        _start(qtbot, window)
    assert finished.args == ["finished"]
    assert run.requests == [RunRequest("open the settings", dry_run=True, monitor=MONITOR)]
    assert run.threads[0] != threading.current_thread().name
    assert [s.index for s in window.timeline.steps()] == [1, 2, 3, 4]
    assert window.timeline.topLevelItem(0).text(1) == "click at (1320, 720)"
    assert "Run finished after 4 steps" in window.state_label.text()
    assert window.task_bar.run_button.isEnabled() and not window.task_bar.stop_button.isEnabled()
    assert errors.shown == []


def test_preview_draws_the_selected_steps_action(qtbot, make_window) -> None:
    window, _ = make_window(
        ScriptedRun([click_step(1, crops=[Rect(1200, 640, 300, 160)]), drag_step(2), type_step(3, "Grüße")])
    )
    with qtbot.waitSignal(window.controller.run_finished, timeout=5000):
        _start(qtbot, window)
    overlay = window.preview.overlay
    assert overlay is not None and overlay.label == "⌨ “Grüße”"  # follows the newest step
    window.timeline.select_index(0)
    overlay = window.preview.overlay
    assert overlay is not None and overlay.point == pytest.approx((660, 360))  # half-size overview
    assert [b.kind for b in overlay.boxes] == ["changed", "crop"]
    assert overlay.boxes[1].x == pytest.approx(600) and overlay.boxes[1].width == pytest.approx(150)
    assert window.details.crop_count() == 1 and "thinking about step 1" in window.details.text()
    # the target is painted: the pixel at the crosshair's arm is the target colour, not the screenshot
    image = window.preview.grab().toImage()
    centre = window.preview.map_to_widget(660, 360)
    arm = image.pixelColor(int(centre.x()) + 16, int(centre.y()))
    assert arm.red() > 200 and arm.green() < 120, arm.name()
    beside = image.pixelColor(int(centre.x()) + 40, int(centre.y()) - 40)
    assert beside.green() > 120, beside.name()  # the screenshot itself, not the mark
    window.timeline.select_index(1)
    overlay = window.preview.overlay
    assert overlay is not None and overlay.path == ((150.0, 150.0), (450.0, 300.0))


def test_stop_during_a_generation_ends_the_run(qtbot, make_window) -> None:
    """The run hangs in its generation until cancelled, so "stopped" proves the stop reached it; how fast
    is bench/bench_kill_switch.py's business (a ratio to a baseline, not a wall-clock assert here)."""
    run = ScriptedRun([click_step(1)], hang=True)
    window, _ = make_window(run)
    _start(qtbot, window)
    qtbot.waitUntil(run.generating.is_set, timeout=5000)
    started = time.monotonic()
    with qtbot.waitSignal(window.controller.run_finished, timeout=2000) as finished:
        qtbot.mouseClick(window.task_bar.stop_button, Qt.MouseButton.LeftButton)
    elapsed = time.monotonic() - started
    log.info("stop took %.3f s (controller measured %.3f s)", elapsed, window.controller.last_stop_latency)
    print(f"stop latency: {elapsed * 1000:.1f} ms")
    assert finished.args == ["stopped"]
    assert run.closed.is_set()
    assert "stopped" in window.state_label.text()


def test_confirmation_bar_answer_reaches_the_worker(qtbot, make_window) -> None:
    confirmer = QtConfirmer()
    answers: list[object] = []

    def ask(i: int) -> None:
        if i == 1:
            request = ConfirmationRequest(Hotkey(keys=("ctrl", "w")), "closes a tab", "Close the tab?")
            answers.append(confirmer.confirm(request))
        if i == 2:
            answers.append(confirmer.ask("Which file?"))

    run = ScriptedRun([click_step(1), step(2, Hotkey(keys=("ctrl", "w"))), step(3, AskUser(question="?"))], before=ask)
    window, _ = make_window(run, confirmer=confirmer)
    with qtbot.waitSignal(confirmer.confirmation_requested, timeout=5000):
        _start(qtbot, window)
    bar = window.confirm_bar
    assert bar.isVisible() and bar.mode == "confirm" and "Close the tab?" in bar.message.text()
    with qtbot.waitSignal(confirmer.question_asked, timeout=5000):
        qtbot.mouseClick(bar.accept_button, Qt.MouseButton.LeftButton)
    assert bar.isVisible() and bar.mode == "question"
    qtbot.keyClicks(bar.answer_box, "report.pdf")
    with qtbot.waitSignal(window.controller.run_finished, timeout=5000):
        qtbot.keyClick(bar.answer_box, Qt.Key.Key_Return)
    assert answers == [True, "report.pdf"]
    assert not bar.isVisible()


def test_deny_and_stop_while_a_question_is_pending(qtbot, make_window) -> None:
    confirmer = QtConfirmer()
    answers: list[object] = []
    request = ConfirmationRequest(Hotkey(keys=("delete",)), "deletes", "Delete?")
    run = ScriptedRun([click_step(1), click_step(2)], before=lambda i: answers.append(confirmer.confirm(request)))
    window, _ = make_window(run, confirmer=confirmer)
    with qtbot.waitSignal(confirmer.confirmation_requested, timeout=5000):
        _start(qtbot, window)
    with qtbot.waitSignal(confirmer.confirmation_requested, timeout=5000):
        qtbot.mouseClick(window.confirm_bar.reject_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.controller.run_finished, timeout=2000) as finished:
        qtbot.mouseClick(window.task_bar.stop_button, Qt.MouseButton.LeftButton)
    assert answers == [False, False]  # denied, then withdrawn by Stop
    assert finished.args == ["stopped"] and not window.confirm_bar.isVisible()


@pytest.mark.allow_log_errors
def test_worker_exception_shows_the_crash_view_and_logs_the_trace(qtbot, make_window, caplog) -> None:
    run = ScriptedRun([click_step(1)], error=RuntimeError("model exploded"))
    window, errors = make_window(run)
    with caplog.at_level(logging.CRITICAL), qtbot.waitSignal(window.controller.run_finished, timeout=5000) as f:
        _start(qtbot, window)
    assert f.args == ["error"]
    assert len(errors.shown) == 1
    title, message, details = errors.shown[0]
    assert title == "Omnidesk hit a bug" and "model exploded" in message
    assert "RuntimeError: model exploded" in details and "scripts.py" in details
    assert any("uncaught RuntimeError" in r.message and r.exc_info for r in caplog.records)


@pytest.mark.allow_log_errors
def test_our_own_errors_say_what_to_do_without_a_trace_dialog(qtbot, make_window, caplog) -> None:
    error = ModelLoadError("not enough memory for the model; close other programs or pick a smaller quant")
    window, errors = make_window(ScriptedRun([], error=error))
    with caplog.at_level(logging.ERROR), qtbot.waitSignal(window.controller.run_finished, timeout=5000):
        _start(qtbot, window)
    assert errors.shown[0][:2] == ("Omnidesk stopped", str(error))


@pytest.mark.allow_log_errors
def test_global_excepthook_reports_uncaught_errors(qtbot, make_window, caplog) -> None:
    import sys

    window, errors = make_window(ScriptedRun([]))
    window.reporter.install()
    try:
        with caplog.at_level(logging.CRITICAL), qtbot.waitSignal(window.reporter.reported, timeout=5000):
            try:
                raise KeyError("slot bug")
            except KeyError as exc:
                sys.excepthook(type(exc), exc, exc.__traceback__)
        thread = threading.Thread(target=lambda: 1 / 0)
        with caplog.at_level(logging.CRITICAL), qtbot.waitSignal(window.reporter.reported, timeout=5000):
            thread.start()
        thread.join(5)
    finally:
        window.reporter.uninstall()
    assert [e[1].split(":")[1].strip() for e in errors.shown] == ["KeyError", "ZeroDivisionError"]


def test_closing_during_a_run_stops_the_worker(qtbot, make_window) -> None:
    run = ScriptedRun([click_step(1)], hang=True)
    window, _ = make_window(run)
    _start(qtbot, window)
    qtbot.waitUntil(run.generating.is_set, timeout=5000)
    with qtbot.waitSignal(window.controller.run_finished, timeout=2000):
        window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=2000)
    assert run.closed.is_set() and not window.controller.running


def test_pause_holds_the_run_and_resume_continues(qtbot, make_window) -> None:
    gate = threading.Event()
    run = ScriptedRun([click_step(i) for i in range(1, 5)], before=lambda i: i == 2 and gate.wait(5))
    window, _ = make_window(run)
    _start(qtbot, window)
    qtbot.waitUntil(lambda: window.timeline.topLevelItemCount() == 2, timeout=5000)
    qtbot.mouseClick(window.task_bar.pause_button, Qt.MouseButton.LeftButton)
    assert window.controller.paused and window.task_bar.pause_button.text() == "Resume"
    gate.set()
    qtbot.waitUntil(lambda: window.timeline.topLevelItemCount() == 3, timeout=5000)
    # held between yields: step 4 does not come while paused
    with qtbot.assertNotEmitted(window.controller.stepped, wait=300):
        pass
    with qtbot.waitSignal(window.controller.run_finished, timeout=5000):
        qtbot.mouseClick(window.task_bar.pause_button, Qt.MouseButton.LeftButton)
    assert window.timeline.topLevelItemCount() == 4


def test_window_gets_out_of_the_way_on_its_monitor_and_comes_back(qtbot, make_window) -> None:
    run = ScriptedRun([click_step(1)], hang=True)
    window, _ = make_window(run, hide=True)
    _start(qtbot, window)
    qtbot.waitUntil(lambda: window.isMinimized() or not window.isVisible(), timeout=5000)
    assert window.hidden_for_run
    with qtbot.waitSignal(window.controller.run_finished, timeout=2000):
        window.controller.stop()
    qtbot.waitUntil(lambda: window.isVisible() and not window.isMinimized(), timeout=5000)
    assert not window.hidden_for_run


def test_a_run_on_another_monitor_leaves_the_window_alone(qtbot, make_window) -> None:
    other = MonitorInfo(index=2, name="right", geometry=Rect(1920, 0, 1280, 1024))
    run = ScriptedRun([click_step(1)])
    window, _ = make_window(run, hide=True, monitors=(other, MONITOR))
    with qtbot.waitSignal(window.controller.run_finished, timeout=5000):
        _start(qtbot, window)
    assert run.requests[0].monitor == other
    assert not window.hidden_for_run and window.isVisible() and not window.isMinimized()


def test_gui_stays_responsive_during_a_50_step_run(qtbot, make_window) -> None:
    """Each step of the run waits until the GUI thread has handled a timer event since the previous one, so
    a run that blocked the event loop (inference, capture or a slow step view on the GUI thread) would never
    finish. The heartbeat's worst gap is logged for information; timings belong in bench/bench_gui.py."""
    from PyQt6.QtCore import QTimer

    gui_turn = threading.Event()

    def wait_for_the_gui(index: int) -> None:
        assert gui_turn.wait(10), f"the event loop handled nothing for 10 s before step {index + 1}"
        gui_turn.clear()

    steps = [click_step(i, crops=[Rect(100 + i, 100, 200, 120)]) for i in range(1, 51)]
    run = ScriptedRun(steps, before=wait_for_the_gui)
    window, _ = make_window(run)
    ticks: list[float] = []

    def tick() -> None:
        ticks.append(time.monotonic())
        gui_turn.set()

    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(tick)
    heartbeat.start()
    try:
        with qtbot.waitSignal(window.controller.run_finished, timeout=60000):
            _start(qtbot, window)
    finally:
        heartbeat.stop()
    worst = max((b - a for a, b in itertools.pairwise(ticks)), default=0.0)
    log.info("heartbeat: %d ticks, max stall %.1f ms", len(ticks), worst * 1000)
    assert run.threads and run.threads[0] != threading.main_thread().name
    assert window.timeline.topLevelItemCount() == 50
    assert len(ticks) >= 50  # at least one handled event per step
    QApplication.processEvents()


def test_the_real_error_view_opens_a_non_modal_box_with_the_trace(qtbot, make_window) -> None:
    from PyQt6.QtWidgets import QMessageBox

    from omnidesk.app.gui.crash import message_box_view

    window, _ = make_window(ScriptedRun([]))
    message_box_view(window)("Omnidesk hit a bug", "An unexpected error happened", "Traceback: here")
    box = next(w for w in window.findChildren(QMessageBox) if w.isVisible())
    assert box.windowTitle() == "Omnidesk hit a bug" and box.text() == "An unexpected error happened"
    assert box.detailedText() == "Traceback: here"
    assert box.windowModality() != Qt.WindowModality.ApplicationModal  # open(), not exec(): nothing blocks
    box.close()


def test_a_question_while_hidden_brings_the_window_back_and_the_answer_hides_it_again(qtbot, make_window) -> None:
    confirmer = QtConfirmer()
    request = ConfirmationRequest(Hotkey(keys=("ctrl", "q")), "quits an app", "Quit the editor?")
    run = ScriptedRun([click_step(1), click_step(2)], before=lambda i: i == 1 and confirmer.confirm(request), hang=True)
    window, _ = make_window(run, hide=True, confirmer=confirmer)
    _start(qtbot, window)
    qtbot.waitUntil(window.confirm_bar.isVisible, timeout=5000)
    assert window.isVisible() and not window.isMinimized() and window.hidden_for_run
    qtbot.mouseClick(window.confirm_bar.accept_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.isMinimized() or not window.isVisible(), timeout=5000)
    with qtbot.waitSignal(window.controller.run_finished, timeout=2000):
        window.controller.stop()
    qtbot.waitUntil(lambda: window.isVisible() and not window.isMinimized(), timeout=5000)


def test_tray_menu_reflects_the_run_and_drives_it(qtbot, make_window) -> None:
    from omnidesk.app.gui.tray import TrayIcon

    tray = TrayIcon()
    run = ScriptedRun([click_step(1)], hang=True)
    errors = ErrorRecorder()
    window = MainWindow(_settings(), run, monitors=(MONITOR,), error_view=errors, tray=tray)
    qtbot.addWidget(window)
    window.show()
    assert not tray.stop_action.isEnabled() and tray.toolTip() == "Omnidesk — Idle"
    _start(qtbot, window)
    qtbot.waitUntil(run.generating.is_set, timeout=5000)
    assert tray.stop_action.isEnabled()
    qtbot.waitUntil(lambda: tray.toolTip() == "Omnidesk — Step 1: click at (1320, 720)", timeout=5000)
    tray.pause_action.trigger()
    assert window.controller.paused and tray.pause_action.text() == "Resume"
    with qtbot.waitSignal(window.controller.run_finished, timeout=2000):
        tray.stop_action.trigger()
    assert not tray.stop_action.isEnabled() and "stopped" in tray.toolTip()
    with qtbot.waitSignal(tray.quit_requested, timeout=1000):
        tray.quit_action.trigger()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=2000)


def test_the_bar_shows_line_breaks_and_hidden_characters_of_the_text_it_asks_about(qtbot, make_window) -> None:
    from omnidesk.agent.actions import TypeText

    window, _ = make_window(ScriptedRun([]))
    request = ConfirmationRequest(TypeText(text="r\u200bm -rf /\n"), "a destructive command", "Type this?")
    window.confirm_bar.ask_confirmation(request)
    assert "r⟨U+200B⟩m -rf /⏎" in window.confirm_bar.question


def test_a_dropped_window_is_freed_at_once_not_later_by_the_garbage_collector(qtbot, tmp_path) -> None:
    """No reference cycle runs through the window (its children hold it through Qt's parent pointer or
    weakly): dropped, it is freed there and then. Left to the garbage collector it would be freed whenever
    a collection happens to run — inside a paint event too, and freeing a visible window from there
    destroys the widget being painted (a segfault in QPainter)."""
    import gc
    import weakref

    from omnidesk.app.hotkeys import GlobalHotkeys
    from omnidesk.app.settings import AppPaths
    from tests.fakes import FakeMicrophone

    settings = _settings()
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    run = ScriptedRun([click_step(1), step(2, status="finished")])
    window = MainWindow(
        settings, run, monitors=(MONITOR,), paths=paths, hotkeys=GlobalHotkeys(settings.hotkeys),
        microphone=FakeMicrophone(),
    )  # fmt: skip
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.controller.run_finished, timeout=5000):
        _start(qtbot, window)
    window.task_bar.settings_requested.emit()
    assert window.settings_dialog is not None
    window.settings_dialog.reject()
    assert window.teach is not None and window.voice is not None
    freed = weakref.ref(window)
    gc.disable()
    try:
        del window
        assert freed() is None
    finally:
        gc.enable()
