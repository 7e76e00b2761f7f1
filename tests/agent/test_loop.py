"""The step loop driven by scripted fake models through in-memory ports."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from omnidesk.agent.actions import TypeText
from omnidesk.agent.config import AgentConfig, SafetyConfig
from omnidesk.agent.errors import SafetyStop
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.loop import Agent
from omnidesk.agent.ports import CachePoint, CancelToken, ImagePart, ModelRequest, Step, TextPart, WindowInfo
from omnidesk.agent.secrets import SecretBinding
from tests.fakes import (
    FakeClock,
    FakeModel,
    FakeSampler,
    FakeSecretStore,
    FakeUserActivity,
    FakeWindowInspector,
    RecordingInputDevice,
    RecordingRedactor,
    ScriptedConfirmer,
    StaticScreen,
    make_frame,
    request_images,
)

RIGHT = MonitorInfo(index=2, name="DUMMY1", geometry=Rect(1920, 0, 1280, 1024))
BUTTON = Rect(900, 700, 80, 30)  # monitor pixels of RIGHT
RED = (220, 30, 30)


def code(call: str, thought: str = "I look at the screen.") -> str:
    return f"{thought}\n## Action:\nact\n## Code:\n```python\n{call}\n```"


def find_red(request: ModelRequest) -> tuple[float, float]:
    """What a model does: locate the red button in the newest overview, answer in fractions."""
    image = request_images(request)[-1]
    px = image.pixels
    ys, xs = np.nonzero((px[:, :, 0] > 180) & (px[:, :, 1] < 80) & (px[:, :, 2] < 80))
    assert len(xs), "the button is not in the image the model was sent"
    h, w = px.shape[:2]
    return (xs.mean() + 0.5) / w, (ys.mean() + 0.5) / h


def make_agent(
    script: object,
    *,
    frames: StaticScreen | None = None,
    device: RecordingInputDevice | None = None,
    confirmer: ScriptedConfirmer | None = None,
    safety: SafetyConfig | None = None,
    **kwargs: object,
) -> tuple[Agent, RecordingInputDevice, FakeModel]:
    model = script if isinstance(script, FakeModel) else FakeModel(script)  # type: ignore[arg-type]
    device = device or RecordingInputDevice()
    screen = frames or StaticScreen([make_frame(RIGHT, boxes=[(BUTTON, RED)])])
    agent = Agent(
        model,
        FakeSampler(screen),
        device,
        confirmer or ScriptedConfirmer(),
        FakeClock(),
        AgentConfig(),
        safety or SafetyConfig(),
        **kwargs,  # type: ignore[arg-type]
    )
    return agent, device, model


def run_all(agent: Agent, task: str = "press the red button", cancel: CancelToken | None = None) -> list[Step]:
    return list(agent.run(task, cancel or CancelToken()))


def test_clicks_what_it_finds_in_the_pixels_then_finishes() -> None:
    def script(request: ModelRequest) -> str:
        if len(request_images(request)) == 1:
            x, y = find_red(request)
            return code(f"pyautogui.click(x={x:.4f}, y={y:.4f})")
        return code("computer.terminate(status='success', answer='pressed')")

    agent, device, _ = make_agent(script)
    steps = run_all(agent)
    assert [s.status for s in steps] == ["acted", "finished"]
    (call,) = device.actions
    assert call[0] == "click"
    assert BUTTON.translated(RIGHT.geometry.x, RIGHT.geometry.y).contains(call[1], call[2])  # type: ignore[arg-type]
    assert steps[0].target == (call[1], call[2])
    assert {"observe", "prompt", "generate", "parse", "act", "settle"} <= set(dict(steps[0].timings))
    assert steps[1].result == "finished: done: pressed"


def current_text(request: ModelRequest) -> str:
    """The text of the request's last user turn (where a step's notes go)."""
    return "".join(p.text for p in request.messages[-1].parts if isinstance(p, TextPart))


def test_each_request_is_the_nemotron_layout_with_at_most_three_screenshots() -> None:
    agent, _, model = make_agent(
        [code("computer.wait(seconds=0.1)")] * 5 + [code("computer.terminate(status='success')")]
    )
    run_all(agent)
    for n, request in enumerate(model.requests, start=1):
        system, *turns = request.messages
        assert system.role == "system" and "## Code:" in system.parts[0].text  # type: ignore[union-attr]
        assert [t.role for t in turns] == ["user", "assistant"] * (len(turns) // 2) + ["user"]
        assert turns[-1].parts[0] == CachePoint() and isinstance(turns[-1].parts[1], ImagePart)
        assert current_text(request).endswith(f"You are currently on Step {n}.\n")
        assert len(request_images(request)) == min(n, 3)
    assert "# Previous History Actions:\n# Step 1:" in model.requests[-1].messages[1].parts[1].text  # type: ignore[union-attr]
    assert model.requests[0].messages[0] == model.requests[-1].messages[0]


def test_model_errors_become_observations_with_bounded_retries() -> None:
    agent, device, model = make_agent(
        [
            "garbage",
            code("pyautogui.click(0.5, 0.5)\npyautogui.keyDown('shift')"),  # a key left held: refused whole
            code("computer.terminate(status='failure', answer='x')"),
        ]
    )
    steps = run_all(agent)
    assert [s.status for s in steps] == ["model_error", "model_error", "finished"]
    assert "could not be used" in current_text(model.requests[1])
    assert device.actions == []

    agent, _, _ = make_agent(["garbage"] * 10, safety=SafetyConfig(model_error_retries=2))
    assert [s.status for s in run_all(agent)] == ["model_error", "model_error", "stopped"]


def test_a_point_off_the_screenshot_is_never_clicked() -> None:
    agent, device, _ = make_agent([code("pyautogui.click(x=1500, y=20)"), code("computer.terminate()")])
    steps = run_all(agent)
    assert steps[0].status == "model_error" and "outside" in steps[0].error
    assert device.actions == []


def test_step_limit() -> None:
    agent, _, _ = make_agent([code("computer.wait(seconds=0)")] * 10, safety=SafetyConfig(max_steps=3))
    steps = run_all(agent)
    assert [s.status for s in steps] == ["acted"] * 3 + ["stopped"]
    assert "max_steps" in steps[-1].error


def test_loop_detector_replans_then_asks_and_stops() -> None:
    agent, device, model = make_agent([code("pyautogui.click(x=0.3, y=0.5)")] * 10)
    steps = run_all(agent)
    assert [s.status for s in steps] == ["acted", "acted", "refused", "stopped"]
    assert len(device.actions) == 2
    assert "re-plan" in current_text(model.requests[3])


def test_loop_detector_goes_on_with_the_users_advice() -> None:
    script = [code("pyautogui.click(x=0.3, y=0.5)")] * 4 + [code("computer.terminate()")]
    confirmer = ScriptedConfirmer(answers=["use the menu instead"])
    agent, _, model = make_agent(script, confirmer=confirmer)
    assert [s.status for s in run_all(agent)] == ["acted", "acted", "refused", "refused", "finished"]
    assert "use the menu instead" in current_text(model.requests[-1])
    assert "stuck" in confirmer.questions[0]


def test_stop_aborts_the_generation_in_flight_and_releases_keys() -> None:
    model = FakeModel([code("pyautogui.click(0.5, 0.5)") * 200], chunk=2, token_delay=0.005)
    agent, device, _ = make_agent(model)
    cancel = CancelToken()

    def stop_when_generating() -> None:
        assert model.generating.wait(5)
        cancel.cancel()

    thread = threading.Thread(target=stop_when_generating)
    thread.start()
    steps = run_all(agent, cancel=cancel)
    thread.join()
    assert [s.status for s in steps] == ["stopped"]
    assert steps[0].error == "stopped by the user"
    assert len(steps[0].raw_output) < len(code("pyautogui.click(0.5, 0.5)") * 200)
    assert device.actions == [] and ("release_all",) in device.calls


def test_dry_run_plans_but_never_acts() -> None:
    agent, device, _ = make_agent(
        [code("pyautogui.click(0.5, 0.5)"), code("computer.terminate()")], safety=SafetyConfig(dry_run=True)
    )
    assert [s.status for s in run_all(agent)] == ["planned", "finished"]
    assert device.actions == []


@pytest.mark.parametrize(("allow", "expected"), [(False, []), (True, [("hotkey", ("ctrl", "w"))])])
def test_risky_hotkey_needs_confirmation(allow: bool, expected: list[object]) -> None:
    confirmer = ScriptedConfirmer(confirms=[allow])
    agent, device, _ = make_agent(
        [code("pyautogui.hotkey('ctrl', 'w')"), code("computer.terminate()")], confirmer=confirmer
    )
    steps = run_all(agent)
    assert steps[0].status == ("acted" if allow else "refused")
    assert device.actions == expected
    assert "ctrl+w" in confirmer.requests[0].reason


def test_deny_listed_window_is_never_clicked() -> None:
    windows = FakeWindowInspector([WindowInfo(7, "KeePassXC", ("keepassxc", "KeePassXC"), Rect(1920, 0, 1280, 1024))])
    agent, device, _ = make_agent([code("pyautogui.click(0.5, 0.5)"), code("computer.terminate()")], windows=windows)
    steps = run_all(agent)
    assert steps[0].status == "refused" and "deny-list" in steps[0].error
    assert device.actions == []


LOGIN = WindowInfo(3, "Sign in — Mozilla Firefox", ("Navigator", "firefox"), Rect(1920, 0, 1280, 1024))
PW_STORE = {"pw": SecretBinding(window_class=("firefox",), alone=True)}


def test_secrets_are_filled_only_when_typing_after_a_yes_and_their_field_is_blacked_out() -> None:
    store = FakeSecretStore({"pw": "hunter2"}, PW_STORE)
    confirmer = ScriptedConfirmer(confirms=[True])
    redactor = RecordingRedactor()
    device = RecordingInputDevice(pointer=(2500, 300))
    agent, device, model = make_agent(
        [code("pyautogui.write('{{secret:pw}}')"), code("computer.terminate()")],
        secrets=store,
        windows=FakeWindowInspector([LOGIN]),
        confirmer=confirmer,
        redactor=redactor,
        device=device,
    )
    steps = run_all(agent)
    assert device.actions == [("type", "hunter2")]
    assert steps[0].action == TypeText(text="{{secret:pw}}")
    assert confirmer.requests[0].rules == ("secret_fill",) and "'pw'" in confirmer.requests[0].question
    assert redactor.redacted == [(LOGIN, Rect(1920, 300 - 48, 1280, 96))]  # a band across the window at the pointer
    assert all("hunter2" not in repr(r) for r in model.requests)
    assert "hunter2" not in repr(steps) and "hunter2" not in repr(confirmer.requests)


@pytest.mark.parametrize(
    ("windows", "confirms", "error"),
    [
        (None, [True], "cannot tell which window"),
        (
            FakeWindowInspector([LOGIN], focus=WindowInfo(4, "Notes", ("gedit", "Gedit"), Rect(0, 0, 9, 9))),
            [],
            "may only",
        ),
        (FakeWindowInspector([LOGIN]), [False], "not confirmed"),
    ],
)
def test_secrets_are_not_typed_without_binding_focus_and_yes(
    windows: FakeWindowInspector | None, confirms: list[bool], error: str
) -> None:
    store = FakeSecretStore({"pw": "hunter2"}, PW_STORE)
    agent, device, _ = make_agent(
        [code("pyautogui.write('{{secret:pw}}')"), code("computer.terminate()")],
        secrets=store,
        windows=windows,
        confirmer=ScriptedConfirmer(confirms=confirms),
    )
    steps = run_all(agent)
    assert steps[0].status == "refused" and error in steps[0].error
    assert device.actions == [] and "pw" not in store.lookups[1:]


def test_keys_are_not_sent_when_the_focus_moved_while_the_person_was_asked() -> None:
    """The confirmation bar takes the focus and keeps it: the keys would go to Omnidesk's own window."""
    own = WindowInfo(9, "Omnidesk", ("omnidesk", "Omnidesk"), Rect(0, 0, 800, 600), pid=4242)
    windows = FakeWindowInspector([LOGIN, own], focus=LOGIN, focus_after=[own])
    agent, device, _ = make_agent(
        [code("pyautogui.hotkey('ctrl', 'w')"), code("computer.terminate()")],
        windows=windows,
        confirmer=ScriptedConfirmer(confirms=[True]),
    )
    steps = run_all(agent)
    assert steps[0].status == "refused" and "keyboard focus moved" in steps[0].error
    assert device.actions == []


def test_the_focus_coming_back_after_the_question_lets_the_keys_go() -> None:
    own = WindowInfo(9, "Omnidesk", ("omnidesk", "Omnidesk"), Rect(0, 0, 800, 600), pid=4242)
    windows = FakeWindowInspector([LOGIN, own], focus=LOGIN, focus_after=[own, own, LOGIN])
    agent, device, _ = make_agent(
        [code("pyautogui.hotkey('ctrl', 'w')"), code("computer.terminate()")],
        windows=windows,
        confirmer=ScriptedConfirmer(confirms=[True]),
    )
    assert [s.status for s in run_all(agent)] == ["acted", "finished"]
    assert device.actions == [("hotkey", ("ctrl", "w"))]


def test_an_answer_about_a_secret_stays_out_of_the_prompt_and_the_steps_and_is_typed_as_a_secret() -> None:
    confirmer = ScriptedConfirmer(confirms=[True], answers=["hunter2"])
    seen: list[str] = []

    def script(request: ModelRequest) -> str:
        seen.append(repr(request))
        if len(seen) == 1:
            return code("computer.ask_user(question='What is the password for this site?')")
        if len(seen) == 2:
            return code("pyautogui.write('{{secret:answer-1}}')")
        return code("computer.terminate()")

    agent, device, _ = make_agent(script, windows=FakeWindowInspector([LOGIN]), confirmer=confirmer)
    steps = run_all(agent)
    assert [s.status for s in steps] == ["acted", "acted", "finished"]
    assert "{{secret:answer-1}}" in steps[0].result and "hunter2" not in repr(steps)
    assert all("hunter2" not in r for r in seen) and "{{secret:answer-1}}" in seen[1]
    assert device.actions == [("type", "hunter2")]


def test_an_ordinary_answer_reaches_the_model() -> None:
    confirmer = ScriptedConfirmer(answers=["notes.txt"])
    agent, _, _ = make_agent(
        [code("computer.ask_user(question='Which file?')"), code("computer.terminate()")], confirmer=confirmer
    )
    assert run_all(agent)[0].result == "the user answered: notes.txt"


def test_person_moving_the_mouse_pauses_and_drops_the_action() -> None:
    device = RecordingInputDevice()

    def script(request: ModelRequest) -> str:
        if len(model.requests) == 2:
            device.user_moves_to(5, 5)  # the person grabs the mouse while the model thinks
        if len(model.requests) >= 4:
            return code("computer.terminate()")
        return code(f"pyautogui.click(x=0.{len(model.requests)}, y=0.5)")

    model = FakeModel(script)
    confirmer = ScriptedConfirmer(confirms=[True])
    agent, _, _ = make_agent(model, device=device, confirmer=confirmer)
    steps = run_all(agent)
    assert [s.status for s in steps] == ["acted", "refused", "acted", "finished"]
    assert "dropped" in steps[1].error
    clicked_x = [c[1] for c in device.actions]
    assert len(clicked_x) == 2  # the second step's click never happened
    assert confirmer.requests[0].rules == ("user_input",)


def test_person_moving_the_mouse_and_not_resuming_stops() -> None:
    device = RecordingInputDevice()

    def script(request: ModelRequest) -> str:
        device.user_moves_to(50, 50 * len(model.requests))  # the person keeps using the mouse
        return code(f"pyautogui.click(x=0.{len(model.requests)}, y=0.5)")

    model = FakeModel(script)
    agent, _, _ = make_agent(model, device=device)
    steps = run_all(agent)
    assert [s.status for s in steps] == ["stopped"]
    assert "not resumed" in steps[0].error and device.actions == []


def test_ask_user_answer_goes_into_the_next_instruction() -> None:
    confirmer = ScriptedConfirmer(answers=["the blue one"])
    agent, _, model = make_agent(
        [code("computer.ask_user(question='Which button?')"), code("computer.terminate()")], confirmer=confirmer
    )
    assert [s.status for s in run_all(agent)] == ["acted", "finished"]
    assert confirmer.questions == ["Which button?"]
    assert "Note: you asked the user: Which button?; the user answered: the blue one" in current_text(model.requests[1])


def test_failsafe_from_the_input_device_stops_and_releases() -> None:
    class FailSafeDevice(RecordingInputDevice):
        def click(self, x: int, y: int, **kwargs: object) -> None:  # type: ignore[override]
            raise SafetyStop("pointer in a screen corner (fail-safe)", reason="failsafe")

    device = FailSafeDevice()
    agent, _, _ = make_agent([code("pyautogui.click(0.5, 0.5)")], device=device)
    steps = run_all(agent)
    assert [s.status for s in steps] == ["stopped"] and "fail-safe" in steps[0].error
    assert ("release_all",) in device.calls


def test_json_mode_sends_the_schema_and_parses_json() -> None:
    def script(request: ModelRequest) -> str:
        assert request.json_schema is not None
        if len(request_images(request)) == 1:
            x, y = find_red(request)
            return f'{{"thought":"red","kind":"click","x":{x},"y":{y},"button":"left","count":1}}'
        return '{"thought":"ok","kind":"done","answer":""}'

    model = FakeModel(script)
    device = RecordingInputDevice()
    agent = Agent(
        model,
        FakeSampler(StaticScreen([make_frame(RIGHT, boxes=[(BUTTON, RED)])])),
        device,
        ScriptedConfirmer(),
        FakeClock(),
        AgentConfig(use_json_actions=True),
        SafetyConfig(),
    )
    assert [s.status for s in run_all(agent)] == ["acted", "finished"]
    assert BUTTON.translated(1920, 0).contains(device.actions[0][1], device.actions[0][2])  # type: ignore[arg-type]


def test_person_typing_pauses_the_run() -> None:
    clock = FakeClock()
    activity = FakeUserActivity(clock)

    def script(request: ModelRequest) -> str:
        if len(model.requests) == 2:
            activity.press()  # a key press while the model thinks; the pointer did not move
        if len(model.requests) >= 4:
            return code("computer.terminate()")
        return code(f"pyautogui.click(x=0.{len(model.requests)}, y=0.5)")

    model = FakeModel(script)
    device = RecordingInputDevice()
    confirmer = ScriptedConfirmer(confirms=[True])
    agent = Agent(
        model,
        FakeSampler(StaticScreen([make_frame(RIGHT)])),
        device,
        confirmer,
        clock,
        AgentConfig(),
        SafetyConfig(),
        activity=activity,
    )
    steps = run_all(agent)
    assert [s.status for s in steps] == ["acted", "refused", "acted", "finished"]
    assert len(device.actions) == 2 and "keyboard" in confirmer.requests[0].question


@pytest.mark.parametrize(
    ("output_format", "marker"), [("nemotron", "## Code:"), ("qwen3", "<tool_call>"), ("uitars", "start_box")]
)
def test_the_system_prompt_is_the_formats(output_format: str, marker: str) -> None:
    from omnidesk.agent.formats import get_format

    model = FakeModel(lambda request: code("computer.terminate()"))
    fmt = get_format(output_format)
    agent = Agent(
        model,
        FakeSampler(StaticScreen([make_frame(RIGHT)])),
        RecordingInputDevice(),
        ScriptedConfirmer(),
        FakeClock(),
        AgentConfig(),
        SafetyConfig(max_steps=1),
        model_format=fmt,
    )
    list(agent.run("x", CancelToken()))
    # the prompt: the system message, and for UI-TARS the first user message (it has no system prompt)
    first = model.requests[0].messages[:2]
    prompt = "\n".join(part.text for message in first for part in message.parts if isinstance(part, TextPart))
    assert marker in prompt and "{convention_help}" not in prompt and "black bars" not in prompt


def test_crops_only_observation_gets_an_overview_and_keeps_the_crops() -> None:
    """EVS may hand only changed crops (JSON layout); points must still refer to an overview of this step."""
    from dataclasses import replace as dc_replace

    from omnidesk.agent.ports import Observation

    inner = FakeSampler(StaticScreen([make_frame(RIGHT, boxes=[(BUTTON, RED)])]))

    class CropsFirst:
        monitor = RIGHT

        def __init__(self) -> None:
            self.calls: list[bool] = []

        def observe(self, *, force_keyframe: bool = False) -> Observation:
            self.calls.append(force_keyframe)
            obs = inner.observe()
            if force_keyframe:
                return obs
            crop = dc_replace(obs.images[0], kind="crop", label="changed box")
            return Observation((crop,), obs.timestamp, False, 0.01)

        def wait_settled(self, *, still_for: float = 0.3, timeout: float = 3.0, cancel: object = None) -> object:
            return inner.wait_settled()

    sampler = CropsFirst()
    click = '{"thought":"t","kind":"click","x":0.5,"y":0.5,"button":"left","count":1}'
    model = FakeModel([click, '{"thought":"t","kind":"done","answer":""}'])
    agent = Agent(
        model,
        sampler,  # type: ignore[arg-type]
        RecordingInputDevice(),
        ScriptedConfirmer(),
        FakeClock(),
        AgentConfig(use_json_actions=True),  # Omnidesk's own layout: the one that takes EVS crops
        SafetyConfig(),
    )
    steps = run_all(agent)
    assert [s.status for s in steps] == ["acted", "finished"]
    second = steps[1].observation
    assert second is not None and [i.kind for i in second.images] == ["overview", "crop"]
    assert second.changed_fraction == 0.01 and sampler.calls == [True, False, True]
    parts = model.requests[1].messages[1].parts
    assert any(isinstance(p, TextPart) and "not for coordinates" in p.text for p in parts)


def test_time_limit_ends_a_generation_in_flight() -> None:
    model = FakeModel([code("pyautogui.click(0.5, 0.5)") * 500], chunk=1, token_delay=0.01)
    agent, device, _ = make_agent(model, safety=SafetyConfig(max_seconds=0.3))
    steps = run_all(agent)
    assert [s.status for s in steps] == ["stopped"]
    assert "time limit" in steps[0].error and device.actions == []


def test_the_settle_wait_gets_the_runs_cancel_token() -> None:
    """A stop while the agent waits for the screen to settle must reach that wait (not sit it out)."""
    agent, _, _ = make_agent([code("pyautogui.click(0.5, 0.5)"), code("computer.terminate(status='success')")])
    cancel = CancelToken()
    run_all(agent, cancel=cancel)
    sampler = agent._sampler
    assert isinstance(sampler, FakeSampler)
    assert sampler.settle_cancels and all(c is cancel for c in sampler.settle_cancels)
