"""Show me in the window: the button starts a demonstration on the real rig (screen, narration, the
person's input by xdotool on the Qt target app), stops it, opens the review, and saving lists the new
automation — a replay of the same clicks and text. With a model set up (the GUI's composition root,
``open_gui``, building its remote client), the strict scripted Nemotron gets the demonstration's frames and
narration in its trained video layout and writes the description the review shows and Save keeps; with
none, the review opens all the same and says why there is no description; closing the window while the
model watches stops it and saves nothing."""

from __future__ import annotations

import os
import subprocess
import threading
import tomllib
from pathlib import Path

import pytest

from omnidesk.agent.replay import load_replay
from omnidesk.app.gui.app import GuiSession, open_gui
from omnidesk.app.gui.main_window import MainWindow
from omnidesk.app.gui.teach_review import TeachReview
from omnidesk.app.hotkeys import GlobalHotkeys
from omnidesk.app.settings import AppPaths, Settings
from omnidesk.app.teaching.describe import QUESTION
from omnidesk.runtime.keymap import SpareKeys
from tests.app.gui.scripts import MONITOR
from tests.e2e.test_teach import DESCRIPTION, describe_policy
from tests.models.scripted_nemotron_video import Combine, SeenPart, serve
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


def _open(qtbot, tmp_path: Path, remote_url: str = "") -> GuiSession:  # type: ignore[no-untyped-def]
    """The window as ``omnidesk gui`` composes it, with the model (a remote engine on loopback) loaded."""
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    settings = Settings()
    settings.model.remote_url = remote_url  # loopback: no consent question; "" = no model set up
    session = open_gui(settings, paths)
    window = session.window
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.loader.idle, timeout=60_000):
        session.start()
    window.setGeometry(0, 0, 1000, 700)  # clear of the target app: input in Omnidesk's own window is not recorded
    window.side_tabs.setCurrentWidget(window.automations)
    return session


def _show(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, app: object, *, typed: str = "", narrate: tuple[PulseAudioRig, Path] | None = None
) -> TeachReview:
    """Show me, click the text field (and type ``typed``), click OK (saying ``narrate`` meanwhile), stop; the
    review that opens."""
    teach = window.teach
    assert teach is not None
    with qtbot.waitSignal(teach.recording_started, timeout=60_000):
        window.automations.show_me_button.click()
    speech = narrate[0].play_async(narrate[1]) if narrate is not None else None
    x, y = app.widget_center("text_field")  # type: ignore[attr-defined]
    _xdotool("mousemove", "--sync", str(x), str(y), "click", "1")
    if typed:
        keys = SpareKeys()
        keys.ensure(typed)
        _xdotool("type", "--delay", "40", "--", typed)
        keys.release_later()
        app.wait_for({"type": "text", "text": typed}, timeout=30)  # type: ignore[attr-defined]
    x, y = app.widget_center("ok_button")  # type: ignore[attr-defined]
    _xdotool("mousemove", "--sync", str(x), str(y), "click", "1")
    app.wait_for({"type": "clicked", "widget": "ok_button"}, timeout=15)  # type: ignore[attr-defined]
    if speech is not None:
        speech.wait()  # the person stops showing once they have said it all
    with qtbot.waitSignal(teach.review_opened, timeout=180_000, raising=False) as opened:
        window.automations.show_me_button.click()  # stop showing
    assert opened.signal_triggered, (teach.state, window.state_label.text())
    review = opened.args[0]
    assert isinstance(review, TeachReview)
    return review


def test_show_me_has_the_model_describe_the_task_and_save_keeps_it(
    qtbot, x_display: object, window_manager: object, pulse_audio: PulseAudioRig, target_app: Launcher, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    app = target_app(x=1100, y=100, width=700, height=500, title="Form")
    narration = pulse_audio.speak("type the greeting into the field and press OK")
    with serve(describe_policy, (1920, 1080)) as model:
        session = _open(qtbot, tmp_path, model.url)
        try:
            window = session.window
            teach = window.teach
            assert teach is not None and window.loader.state == "ready", window.model_label.text()
            states: list[str] = []
            lines: list[str] = []
            teach.state_changed.connect(states.append)
            teach.status.connect(lines.append)
            review = _show(qtbot, window, app, typed="Grüße", narrate=(pulse_audio, narration))
            assert model.refusals == []
            asked = [seen for seen in model.seen if isinstance(seen, SeenPart)]
            assert asked and asked[0].question == QUESTION, [describe_policy(seen) for seen in model.seen]
            assert states[-2:] == ["describing", "reviewing"], states
            assert "The model is watching the recording…" in lines
            assert review.steps.count() == 3
            assert review.description_edit.toPlainText() == DESCRIPTION, [describe_policy(s) for s in model.seen]
            assert review.model_steps_label.text() == (
                "As the model saw it:\n1. Click the text field.\n2. Type the greeting.\n3. Press OK."
            )
            assert review.description_note_text() == "" and review.description_note.isHidden()
            review.name_edit.setText("greet the form")
            with qtbot.waitSignal(teach.saved, timeout=60_000, raising=False) as saved:
                review.save_button.click()
            assert saved.signal_triggered, review.error_label.text()
        finally:
            session.close()
    (saved_file,) = (tmp_path / "d" / "automations").glob("*.toml")
    kept = tomllib.loads(saved_file.read_text(encoding="utf-8"))
    assert (kept["name"], kept["kind"]) == ("greet the form", "replay")
    # The fallback task a model-driven run gets when a target is gone: the description and the model's steps.
    assert kept["description"].startswith(DESCRIPTION + "\n\nAs it was shown:\n1. Click the text field.")


def test_without_a_model_the_review_opens_and_says_there_is_no_description(
    qtbot, x_display: object, window_manager: object, pulse_audio: PulseAudioRig, target_app: Launcher, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    app = target_app(x=1100, y=100, width=700, height=500, title="Form")
    session = _open(qtbot, tmp_path)  # no model set up
    try:
        window = session.window
        assert window.loader.state != "ready"
        assert window.teach is not None
        review = _show(qtbot, window, app)
        assert review.steps.count() == 2
        assert review.description_edit.toPlainText() == "" and not review.description_note.isHidden()
        note = review.description_note.text()
        assert note.startswith("No description: no model is set up yet: choose a download or an engine"), note
        assert "the steps replay without a model fallback" in note
        review.description_edit.setPlainText("Press OK on the form.")  # written by the person: the note goes
        assert review.description_note.isHidden()
        with qtbot.waitSignal(window.teach.saved, timeout=60_000, raising=False) as saved:
            review.save_button.click()
        assert saved.signal_triggered, review.error_label.text()
    finally:
        session.close()
    (saved_file,) = (tmp_path / "d" / "automations").glob("*.toml")
    assert tomllib.loads(saved_file.read_text(encoding="utf-8"))["description"].startswith("Press OK on the form.")


def test_closing_the_window_while_the_model_watches_stops_it_and_saves_nothing(
    qtbot, x_display: object, window_manager: object, pulse_audio: PulseAudioRig, target_app: Launcher, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    asked, release = threading.Event(), threading.Event()

    def slow(seen: SeenPart | Combine) -> str:
        asked.set()
        release.wait(120)  # the answer only comes after the window has closed
        return f"TASK: {DESCRIPTION}"

    app = target_app(x=1100, y=100, width=700, height=500, title="Form")
    with serve(slow, (1920, 1080)) as model:
        session = _open(qtbot, tmp_path, model.url)
        try:
            window = session.window
            teach = window.teach
            assert teach is not None
            with qtbot.waitSignal(teach.recording_started, timeout=60_000):
                window.automations.show_me_button.click()
            x, y = app.widget_center("ok_button")
            _xdotool("mousemove", "--sync", str(x), str(y), "click", "1")
            app.wait_for({"type": "clicked", "widget": "ok_button"}, timeout=15)
            opened: list[object] = []
            teach.review_opened.connect(opened.append)
            window.automations.show_me_button.click()  # stop showing: the model watches
            qtbot.waitUntil(asked.is_set, timeout=120_000)
            assert teach.state == "describing" and window.state_label.text() == "The model is watching the recording…"
            window.task_bar.task_edit.setText("click OK")  # the model is busy: no run starts meanwhile
            window.task_bar.run_button.click()
            assert not window.controller.running and "watching your demonstration" in window.state_label.text()
            window.close()  # stops the model, then closes
            qtbot.waitUntil(lambda: not window.isVisible(), timeout=60_000)
        finally:
            release.set()
            session.close()
    assert opened == [] and teach.state == "idle" and not teach.busy
    assert list((tmp_path / "d" / "recordings").glob("teach-*/index.json"))  # the recording is kept
    assert not (tmp_path / "d" / "automations").exists()
