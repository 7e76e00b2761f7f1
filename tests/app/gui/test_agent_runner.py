"""GuiAgentRunner: the model loads once on a worker, each run gets an agent session, voice becomes text."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from omnidesk.agent.config import AgentConfig
from omnidesk.agent.errors import ConfigError
from omnidesk.agent.loop import Agent
from omnidesk.agent.ports import AudioClip, AudioPart, CancelToken, ModelRequest, TextPart
from omnidesk.app.compose import AgentSession, build_agent_session
from omnidesk.app.gui.agent_runner import TRANSCRIBE_PROMPT, GuiAgentRunner
from omnidesk.app.gui.app import qt_monitors
from omnidesk.app.gui.confirmer import QtConfirmer
from omnidesk.app.gui.controller import RunRequest
from omnidesk.app.gui.main_window import SPOKEN_TASK, MainWindow
from omnidesk.app.settings import AppPaths, Settings
from tests.app.gui.test_with_agent import code
from tests.fakes import FakeClock, FakeModel, FakeSampler, RecordingInputDevice, StaticScreen, make_frame


def _settings(model: str = "tiny.gguf") -> Settings:
    settings = Settings()
    settings.model.model = model
    settings.gui.hide_during_run = False
    return settings


def _paths(tmp_path) -> AppPaths:
    return AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")


class FakeSessions:
    """A session factory over in-memory ports that records what each run asked for."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []
        self.device = RecordingInputDevice()

    def __call__(self, settings, *, model, confirmer, monitor=None, dry_run=None, close_model=True) -> AgentSession:  # type: ignore[no-untyped-def]
        self.calls.append({"monitor": monitor, "dry_run": dry_run, "model": model, "close_model": close_model})
        sampler = FakeSampler(StaticScreen([make_frame()]))
        safety = settings.safety.model_copy(update={"dry_run": bool(dry_run)})
        agent = Agent(model, sampler, self.device, confirmer, FakeClock(), AgentConfig(), safety)
        return AgentSession(agent, model, sampler, sampler.monitor, [model.close] if close_model else [])


def _load(runner: GuiAgentRunner) -> list[str]:
    return [f"{status.state}: {status.text}" for status in runner.load(CancelToken())]


def test_not_configured_says_what_to_do_and_a_run_fails_clearly(tmp_path) -> None:
    runner = GuiAgentRunner(_settings(""), _paths(tmp_path), QtConfirmer(), session_factory=FakeSessions())
    assert _load(runner) == ["missing: not set up — choose one in the window"]
    with pytest.raises(ConfigError, match="choose a download or an engine in the window"):
        list(runner(RunRequest("click"), CancelToken()))


def test_model_loads_once_and_outlives_each_runs_session(tmp_path) -> None:
    model = FakeModel([code("pyautogui.click(0.5, 0.5)"), code("computer.terminate()")] * 2)
    loads: list[str] = []
    sessions = FakeSessions()

    def factory(settings: Settings, paths: AppPaths, consent: object) -> FakeModel:
        loads.append(threading.current_thread().name)
        return model

    runner = GuiAgentRunner(
        _settings(), _paths(tmp_path), QtConfirmer(), model_factory=factory, session_factory=sessions
    )
    assert _load(runner) == ["loading: loading tiny.gguf…", "ready: fake-nemotron · ready"]
    for dry in (False, True):
        steps = list(runner(RunRequest("click the middle", dry_run=dry), CancelToken()))
        assert [s.status for s in steps] == ["planned" if dry else "acted", "finished"]
    assert len(loads) == 1 and not model.closed  # sessions closed, the model stays
    assert [c["dry_run"] for c in sessions.calls] == [False, True]
    assert [c["model"] for c in sessions.calls] == [model, model]  # the model itself, lent (close_model=False)
    runner.close()
    assert model.closed


def test_a_reload_closes_the_old_model_first_and_uses_the_new_settings(tmp_path) -> None:
    models = [FakeModel([code("computer.terminate()")]), FakeModel([code("computer.terminate()")])]
    asked: list[str] = []

    def factory(settings: Settings, paths: AppPaths, consent: object) -> FakeModel:
        asked.append(settings.model.model)
        assert all(m.closed for m in models[: len(asked) - 1])  # never two models in memory
        return models[len(asked) - 1]

    runner = GuiAgentRunner(_settings("a.gguf"), _paths(tmp_path), QtConfirmer(), model_factory=factory)
    _load(runner)
    runner.update_settings(_settings("b.gguf"))
    assert _load(runner) == [
        "loading: unloading fake-nemotron…",
        "loading: loading b.gguf…",
        "ready: fake-nemotron · ready",
    ]
    assert asked == ["a.gguf", "b.gguf"] and models[0].closed and not models[1].closed


def test_a_stop_while_the_model_loads_ends_the_run_quietly(tmp_path) -> None:
    runner = GuiAgentRunner(_settings(), _paths(tmp_path), QtConfirmer(), session_factory=FakeSessions())
    cancel = CancelToken()
    cancel.cancel()
    assert list(runner(RunRequest("x"), cancel)) == []


def test_a_spoken_task_is_heard_by_the_model_then_run(tmp_path) -> None:
    clip = AudioClip(np.zeros(16000, np.float32), 16000, 0.0, 1.0)

    def script(request: ModelRequest) -> str:
        parts = request.messages[-1].parts
        if any(isinstance(p, AudioPart) for p in parts):
            assert isinstance(parts[1], TextPart) and parts[1].text == TRANSCRIBE_PROMPT
            return "  Open the   settings. "
        return code("computer.terminate()")

    model = FakeModel(script)
    runner = GuiAgentRunner(
        _settings(),
        _paths(tmp_path),
        QtConfirmer(),
        model_factory=lambda s, p, c: model,
        session_factory=FakeSessions(),
    )
    _load(runner)
    steps = list(runner(RunRequest(SPOKEN_TASK, voice=clip), CancelToken()))
    assert steps[-1].task == "Open the settings."
    typed = list(runner(RunRequest("in Firefox", voice=clip), CancelToken()))
    assert typed[-1].task == "Open the settings.\n(typed with it: in Firefox)"


@pytest.mark.desktop
def test_window_runs_the_composed_agent_on_the_real_screen(qtbot, tmp_path) -> None:
    """MainWindow → GuiAgentRunner → compose.build_agent_session (mss + EVS + X11 windows) → FakeModel."""
    device = RecordingInputDevice()
    seen: list[tuple[int, int]] = []

    def script(request: ModelRequest) -> str:
        images = [p for m in request.messages for p in m.parts if hasattr(p, "image")]
        seen.append(images[-1].image.pixels.shape[:2])
        return code("pyautogui.click(x=0.25, y=0.5)") if len(seen) == 1 else code("computer.terminate()")

    def sessions(settings, *, model, confirmer, monitor=None, dry_run=None, close_model=True):  # type: ignore[no-untyped-def]
        return build_agent_session(
            settings,
            model=model,
            confirmer=confirmer,
            monitor=monitor,
            dry_run=dry_run,
            input_device=device,
            close_model=close_model,
        )

    confirmer = QtConfirmer()
    settings = _settings()
    runner = GuiAgentRunner(
        settings, _paths(tmp_path), confirmer, model_factory=lambda s, p, c: FakeModel(script), session_factory=sessions
    )
    window = MainWindow(settings, runner, monitors=qt_monitors(), confirmer=confirmer, status_source=runner.load)
    qtbot.addWidget(window)
    window.setGeometry(1000, 100, 900, 700)  # off the left half: Omnidesk never clicks its own window
    window.show()
    with qtbot.waitSignal(window.loader.idle, timeout=5000):
        window.start_status_source()
    assert window.loader.state == "ready" and window.task_bar.run_button.isEnabled()
    window.task_bar.task_edit.setText("click the left half")
    with qtbot.waitSignal(window.controller.run_finished, timeout=30000) as finished:
        qtbot.mouseClick(window.task_bar.run_button, Qt.MouseButton.LeftButton)
    assert finished.args == ["finished"], window.state_label.text()
    clicks = [c for c in device.calls if c[0] == "click"]
    assert len(clicks) == 1 and abs(clicks[0][1] - 480) <= 4 and abs(clicks[0][2] - 540) <= 4
    assert seen[0] == (1080, 1920)  # the whole Xvfb screen, as Nemotron's format sends it
    overlay = window.preview.overlay
    assert overlay is not None and overlay.image is not None
    content = overlay.image.transform.content  # no letterbox: all of the image is screen
    assert content.width == 1920 and content.height == 1080
    assert overlay.image.transform.monitor.geometry.width == 1920


@pytest.mark.desktop
def test_remote_engine_off_this_machine_is_confirmed_in_the_bar(qtbot, tmp_path) -> None:
    """The first load for an unconfirmed remote URL asks in the confirmation bar, then remembers it."""
    settings = _settings("")
    settings.model.remote_url = "http://gpu-server.invalid:8000"  # never resolves: nothing is sent
    paths = _paths(tmp_path)
    confirmer = QtConfirmer()
    runner = GuiAgentRunner(settings, paths, confirmer, session_factory=FakeSessions())
    lines: list[str] = []
    loader = threading.Thread(target=lambda: lines.extend(_load(runner)))
    with qtbot.waitSignal(confirmer.confirmation_requested, timeout=10_000) as asked:
        loader.start()
    assert "gpu-server.invalid" in asked.args[0].question
    confirmer.reply_confirmation(True)
    loader.join(timeout=10)
    assert lines[-1].startswith("ready:")
    from omnidesk.app.settings import load_settings

    assert load_settings(paths).model.remote_confirmed == ["http://gpu-server.invalid:8000"]
