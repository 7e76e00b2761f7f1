"""The kill switch: a stop request during a generation, a drag or typing ends the run at once.

The agent is wired like ``omnidesk run`` (``build_agent_session``: mss capture of the rig's Xvfb, EVS,
XTest input through :class:`PyAutoGuiInput`) and runs on a worker thread whose steps a
:class:`TrajectoryWriter` records; the test thread cancels the run's :class:`CancelToken` at the moment
the model is generating / the target app reports the drag's button press / the first typed characters.
Each test asserts that the run ended with a stopped step (it logs the time the stop took; timings are
measured in bench/bench_kill_switch.py against the 200 ms target, never asserted here), that the X server
holds no key or button afterwards, and that the bundle on disk is valid and ends with the stopped step.
Fast tests with fakes cover the loop's side (a stop before or during an action).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from omnidesk.agent.actions import Drag
from omnidesk.agent.config import AgentConfig, SafetyConfig
from omnidesk.agent.coords import desktop_to_model_point
from omnidesk.agent.loop import Agent
from omnidesk.agent.ports import CancelToken, ConfirmationRequest, ModelClient, ModelRequest, Step, TokenDelta
from omnidesk.agent.trajectory import TrajectoryWriter, load_bundle
from omnidesk.app.compose import AgentSession, build_agent_session
from omnidesk.app.settings import Settings
from omnidesk.runtime.input import PyAutoGuiInput
from omnidesk.runtime.llama.session import OmniSession
from omnidesk.runtime.png import CvPngEncoder
from tests.fakes import (
    FakeClock,
    FakeModel,
    FakeSampler,
    RecordingInputDevice,
    ScriptedConfirmer,
    StaticScreen,
    make_frame,
    request_images,
)
from tests.models.plugin import TinyModel
from tests.rig.plugin import Launcher
from tests.rig.xserver import held_state

log = logging.getLogger(__name__)

MAX_TOKENS = 8000


@dataclass
class BackgroundRun:
    """``agent.run`` consumed by a TrajectoryWriter on a worker thread; ``ended`` is stamped when the
    generator is exhausted (after the last step is on disk)."""

    session: AgentSession
    folder: Path
    task: str
    cancel: CancelToken = field(default_factory=CancelToken)
    steps: list[Step] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    ended: float | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> BackgroundRun:
        threading.Thread(target=self._work, name="agent-run", daemon=True).start()
        return self

    def _work(self) -> None:
        try:
            with TrajectoryWriter(self.folder, self.task, encoder=CvPngEncoder()) as writer:
                for step in writer.consume(self.session.agent.run(self.task, self.cancel)):
                    self.steps.append(step)
                    if step.status in {"finished", "stopped"}:
                        self.ended = time.perf_counter()
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            self.errors.append(exc)
        finally:
            self.done.set()

    def stop(self) -> float:
        """Cancel; return the seconds from the stop request to the run's last step (waits ≤ 30 s)."""
        requested = time.perf_counter()
        self.cancel.cancel()
        assert self.done.wait(30), "the run did not end within 30 s of the stop request"
        assert not self.errors, self.errors
        assert self.ended is not None, [(s.status, s.error) for s in self.steps]
        return self.ended - requested


def step_line(step: Step) -> str:
    return f"{step.index}: {step.status} {step.error or step.result}"


def assert_stopped_cleanly(run: BackgroundRun, latency: float, what: str) -> Step:
    log.info("stop during %s: %.3f s from the request to the run's end", what, latency)
    last = run.steps[-1]
    assert last.status == "stopped" and last.error == "stopped by the user", (last.status, last.error)
    assert held_state() == (0, []), "a button or key is still held on the X server"
    bundle = load_bundle(run.folder)
    assert bundle.summary["status"] == "stopped"
    assert bundle.summary["steps"] == len(run.steps) == len(bundle.steps)
    assert bundle.steps[-1]["index"] == last.index and bundle.steps[-1]["status"] == "stopped"
    assert bundle.steps[-1]["error"] == "stopped by the user"
    return last


@pytest.mark.desktop
@pytest.mark.model
@pytest.mark.slow
def test_stop_during_a_generation(target_app: Launcher, tiny_omni: TinyModel, tmp_path: Path) -> None:
    """The tiny real llama.cpp model decodes a long free-text (grammar-free) answer; stop it mid-way."""
    target_app()
    settings = Settings()
    settings = settings.model_copy(
        update={"agent": settings.agent.model_copy(update={"max_output_tokens": MAX_TOKENS})}
    )
    generating = threading.Event()
    tokens: list[TokenDelta] = []

    def on_token(delta: TokenDelta) -> None:
        tokens.append(delta)
        if len(tokens) >= 5:
            generating.set()

    model = OmniSession.open(tiny_omni.model, tiny_omni.mmproj, n_ctx=MAX_TOKENS + 2048)
    with build_agent_session(settings, model=model, confirmer=ScriptedConfirmer(), on_token=on_token) as session:
        run = BackgroundRun(session, tmp_path / "bundle", "write a long story").start()
        assert generating.wait(60), "the model produced no tokens"
        latency = run.stop()
        last = assert_stopped_cleanly(run, latency, "a generation")
    # stopped inside the generation: the step has its observation and part of an answer
    assert last.observation is not None and 5 <= last.completion_tokens < MAX_TOKENS, last.completion_tokens
    log.info("the generation was stopped after %d tokens", last.completion_tokens)


def dragging_model(start: tuple[int, int], end: tuple[int, int]) -> FakeModel:
    """Answer with a drag from ``start`` to ``end`` (desktop pixels), as fractions of the overview sent."""

    def script(request: ModelRequest) -> str:
        transform = request_images(request)[-1].transform
        p0, p1 = (desktop_to_model_point(x, y, transform, "fraction") for x, y in (start, end))
        code = f"pyautogui.moveTo(x={p0.x:.4f}, y={p0.y:.4f})\npyautogui.dragTo(x={p1.x:.4f}, y={p1.y:.4f})"
        return f"Drag the big button onto OK.\n## Action:\ndrag\n## Code:\n{code}"

    return FakeModel(script)


@pytest.mark.desktop
@pytest.mark.slow
def test_stop_during_a_drag(target_app: Launcher, tmp_path: Path) -> None:
    """A 4 s drag across the target app is stopped while its button is down: nothing stays pressed."""
    app = target_app(x=200, y=150, width=900, height=650)
    start, end = app.widget_center("big_button"), app.widget_center("ok_button")
    app.clear()
    device = PyAutoGuiInput(drag_seconds=4.0)
    model = dragging_model(start, end)
    with build_agent_session(Settings(), model=model, confirmer=ScriptedConfirmer(), input_device=device) as session:
        run = BackgroundRun(session, tmp_path / "bundle", "drag the big button onto OK").start()
        deadline = time.monotonic() + 30
        while not any(e["type"] == "mouse_press" for e in app.events):
            assert not run.done.is_set() and time.monotonic() < deadline, (
                run.errors,
                [step_line(s) for s in run.steps],
            )
            time.sleep(0.005)
        assert [e["widget"] for e in app.events if e["type"] == "mouse_press"] == ["big_button"], app.events
        latency = run.stop()
        assert_stopped_cleanly(run, latency, "a drag")
        stopped_at = device.position()
    last = run.steps[-1]
    assert isinstance(last.action, Drag) and "interrupted" in last.result, last.result
    app.wait_for({"type": "mouse_release"}, timeout=5)
    time.sleep(0.3)
    assert device.position() == stopped_at != end, "the pointer moved on after the stop"
    presses = [e for e in app.events if e["type"] == "mouse_press"]
    releases = [e for e in app.events if e["type"] == "mouse_release"]
    assert len(presses) == len(releases) == 1, app.events
    log.info("target app events: %s", app.events)


LONG_TEXT = "the quick brown fox jumps over the lazy dog " * 10


def typing_model(field: tuple[int, int]) -> FakeModel:
    """Click the text field, then type a long text (about 5 s at xdotool's 12 ms per key)."""

    def script(request: ModelRequest) -> str:
        point = desktop_to_model_point(*field, request_images(request)[-1].transform, "fraction")
        if len(request_images(request)) == 1:
            return f"## Action:\nclick the field\n## Code:\npyautogui.click(x={point.x:.4f}, y={point.y:.4f})"
        return f"## Action:\ntype\n## Code:\npyautogui.write(message={LONG_TEXT!r})"

    return FakeModel(script)


@pytest.mark.desktop
@pytest.mark.slow
def test_stop_while_typing(target_app: Launcher, tmp_path: Path) -> None:
    """A long text is being typed (xdotool); the stop ends the typing and leaves no key down."""
    app = target_app(x=150, y=100)
    model = typing_model(app.widget_center("text_field"))
    app.clear()
    with build_agent_session(Settings(), model=model, confirmer=ScriptedConfirmer()) as session:
        run = BackgroundRun(session, tmp_path / "bundle", "type a long text").start()
        app.wait_for({"type": "text", "widget": "text_field", "text": lambda t: len(t) >= 3}, timeout=30)
        latency = run.stop()
        assert_stopped_cleanly(run, latency, "typing")
    typed = [e["text"] for e in app.events if e["type"] == "text"]
    time.sleep(0.5)
    assert [e["text"] for e in app.events if e["type"] == "text"] == typed, "typing went on after the stop"
    log.info("%d of %d characters were typed before the stop", len(typed[-1]), len(LONG_TEXT))
    assert LONG_TEXT.startswith(typed[-1]) and len(typed[-1]) < len(LONG_TEXT) // 2, typed[-1]
    assert "interrupted" in run.steps[-1].result, run.steps[-1].result


DRAG = "## Action:\ndrag\n## Code:\npyautogui.moveTo(x=0.1, y=0.4)\npyautogui.dragTo(x=0.9, y=0.6)"


def fake_agent(model: ModelClient, device: RecordingInputDevice) -> Agent:
    sampler = FakeSampler(StaticScreen([make_frame()]))
    return Agent(model, sampler, device, ScriptedConfirmer(), FakeClock(), AgentConfig(), SafetyConfig())


def test_a_stop_during_an_action_ends_the_run_without_settling() -> None:
    """The loop's side, with fakes: the stop arrives while the drag is in flight (the device returns
    normally): that step is the run's last and stopped, with no settle wait."""
    cancel = CancelToken()
    device = RecordingInputDevice(on_call=lambda call: cancel.cancel() if call[0] == "drag" else None)
    steps = list(fake_agent(FakeModel([DRAG, DRAG]), device).run("drag", cancel))
    assert [(s.status, s.error, s.result) for s in steps] == [
        ("stopped", "stopped by the user", "stopped during the action")
    ]
    assert "settle" not in dict(steps[0].timings) and device.calls[-1] == ("release_all",)


class _StopWhileAsking(ScriptedConfirmer):
    """The person presses stop while the confirmation dialog is open, then the dialog closes with yes."""

    def __init__(self, cancel: CancelToken) -> None:
        super().__init__(confirms=[True])
        self._cancel = cancel

    def confirm(self, request: ConfirmationRequest) -> bool:
        self._cancel.cancel()
        return super().confirm(request)


def test_a_stop_before_the_action_starts_skips_it() -> None:
    cancel = CancelToken()
    device = RecordingInputDevice()
    close = "## Action:\nclose the window\n## Code:\npyautogui.hotkey('ctrl', 'w')"
    sampler = FakeSampler(StaticScreen([make_frame()]))
    agent = Agent(
        FakeModel([close]), sampler, device, _StopWhileAsking(cancel), FakeClock(), AgentConfig(), SafetyConfig()
    )
    steps = list(agent.run("close it", cancel))
    assert [(s.status, s.error, s.result) for s in steps] == [("stopped", "stopped by the user", "not carried out")]
    assert device.actions == []
