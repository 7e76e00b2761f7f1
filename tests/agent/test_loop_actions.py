"""Replies with several actions, and the reply's other channels, through the step loop (scripted models
that answer in each family's published format)."""

from __future__ import annotations

import json
from pathlib import Path

from omnidesk.agent.actions import Click, Drag, Hotkey, Point, TypeText, Wait
from omnidesk.agent.config import AgentConfig, SafetyConfig
from omnidesk.agent.coords import model_point_to_desktop
from omnidesk.agent.formats import get_format
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.loop import Agent
from omnidesk.agent.ports import CancelToken, ModelReply, Step, ToolCall
from omnidesk.agent.replay import Replayer, load_replay
from omnidesk.agent.safety import SafetyPolicy
from omnidesk.agent.trajectory import TrajectoryWriter
from tests.fakes import (
    FakeClock,
    FakeModel,
    FakeSampler,
    FakeTargetLocator,
    RecordingInputDevice,
    ScriptedConfirmer,
    StaticScreen,
    make_frame,
)

MONITOR = MonitorInfo(index=1, name="DUMMY0", geometry=Rect(0, 0, 1280, 1024))
DONE = "## Action:\nDone.\n## Code:\n```python\ncomputer.terminate(status='success')\n```"


def nemotron(code: str, action: str = "Fill in the form.") -> str:
    return f"## Action:\n{action}\n## Code:\n```python\n{code}\n```"


def reply(text: str = "", reasoning: str = "", tool_calls: tuple[ToolCall, ...] = ()) -> ModelReply:
    return ModelReply(text, reasoning, 100, 10, 0, 0.0, 0.0, "stop", tool_calls=tool_calls)


def agent_for(
    script: list[str | ModelReply],
    *,
    device: RecordingInputDevice | None = None,
    confirmer: ScriptedConfirmer | None = None,
    safety: SafetyConfig | None = None,
    output_format: str = "nemotron",
) -> tuple[Agent, RecordingInputDevice, FakeSampler]:
    device = device or RecordingInputDevice()
    sampler = FakeSampler(StaticScreen([make_frame(MONITOR)]))
    agent = Agent(
        FakeModel(script),
        sampler,
        device,
        confirmer or ScriptedConfirmer(),
        FakeClock(),
        AgentConfig(),
        safety or SafetyConfig(),
        model_format=get_format(output_format),
    )
    return agent, device, sampler


def desktop(sampler: FakeSampler, point: Point) -> tuple[int, int]:
    return model_point_to_desktop(point, sampler.observations[0].images[0].transform)


def F(x: float, y: float) -> Point:
    return Point(x=x, y=y, space="fraction")


def run(agent: Agent, cancel: CancelToken | None = None) -> list[Step]:
    return list(agent.run("fill in the form", cancel or CancelToken()))


def test_several_pyautogui_lines_are_one_step_done_in_order() -> None:
    code = "pyautogui.click(0.5, 0.3)\npyautogui.write('Grüße <ok> 東京')\npyautogui.press('enter')"
    agent, device, sampler = agent_for([nemotron(code), DONE])
    first, last = run(agent)
    assert first.status == "acted" and first.performed == 3 and first.result == "done"
    assert first.actions == (Click(point=F(0.5, 0.3)), TypeText(text="Grüße <ok> 東京"), Hotkey(keys=("enter",)))
    x, y = desktop(sampler, F(0.5, 0.3))
    assert device.actions == [("click", x, y, "left", 1, ()), ("type", "Grüße <ok> 東京"), ("hotkey", ("enter",))]
    assert first.target == (x, y) and last.status == "finished"
    assert sampler.settle_calls == 3  # after each of the first two actions, and once at the end of the step


def test_a_declined_confirmation_stops_the_rest_of_the_step_and_says_so() -> None:
    code = "pyautogui.click(0.5, 0.3)\npyautogui.write('rm -rf /')\npyautogui.press('enter')"
    safety = SafetyConfig(confirm_patterns=["rm -rf"])
    confirmer = ScriptedConfirmer(confirms=[False])
    agent, device, _ = agent_for([nemotron(code), DONE], confirmer=confirmer, safety=safety)
    refused, _ = run(agent)
    assert refused.status == "refused" and refused.performed == 1
    assert "not confirmed" in refused.error and "1 of the 3 actions were carried out" in refused.result
    assert [c[0] for c in device.actions] == ["click"]  # neither the text nor Enter
    assert isinstance(confirmer.requests[0].action, TypeText)


def test_a_stop_request_between_actions_leaves_the_rest_undone() -> None:
    cancel = CancelToken()
    device = RecordingInputDevice(on_call=lambda call: cancel.cancel() if call[0] == "click" else None)
    agent, device, _ = agent_for([nemotron("pyautogui.click(0.5, 0.3)\npyautogui.write('abc')")], device=device)
    (stopped,) = run(agent, cancel)
    assert stopped.status == "stopped" and stopped.error == "stopped by the user" and stopped.performed == 0
    assert [c[0] for c in device.actions] == ["click"]


def test_computer_wait_waits_for_the_screen_to_settle_at_most_20_seconds() -> None:
    agent, device, sampler = agent_for([nemotron("computer.wait()", "Wait for the installer."), DONE])
    waited, _ = run(agent)
    assert waited.status == "acted" and waited.actions == (Wait(seconds=20.0, until_settled=True),)
    assert sampler.settle_timeouts[0] == 20.0 and len(sampler.settle_timeouts) == 1  # no second settle after it
    assert device.actions == []


def test_the_answer_in_the_reasoning_stream_is_used() -> None:
    thinking = (
        "The field is empty.\n## Action:\nClick the field.\n## Code:\n```python\npyautogui.click(0.25, 0.75)\n```"
    )
    agent, device, sampler = agent_for([reply("", thinking), DONE])
    acted, _ = run(agent)
    assert acted.status == "acted" and acted.actions == (Click(point=F(0.25, 0.75)),)
    assert device.actions == [("click", *desktop(sampler, F(0.25, 0.75)), "left", 1, ())]


def test_engine_tool_calls_and_clicks_where_the_pointer_is() -> None:
    calls = (
        ToolCall("computer_use", json.dumps({"action": "mouse_move", "coordinate": [500, 300]})),
        ToolCall("computer_use", json.dumps({"action": "left_click"})),
        ToolCall("computer_use", json.dumps({"action": "left_click_drag", "coordinate": [700, 300]})),
    )
    done = ToolCall("computer_use", json.dumps({"action": "terminate", "status": "success"}))
    agent, device, sampler = agent_for(
        [reply("", tool_calls=calls), reply("", tool_calls=(done,))], output_format="qwen3"
    )
    acted, finished = run(agent)
    moved = desktop(sampler, Point(x=500, y=300, space="thousandths"))
    end = desktop(sampler, Point(x=700, y=300, space="thousandths"))
    assert device.actions == [("move", *moved), ("click", *moved, "left", 1, ()), ("drag", *moved, *end, "left")]
    # The step records where the pointer actions were done, as desktop points.
    assert acted.actions[1] == Click(point=Point(x=moved[0], y=moved[1], space="desktop"))
    drag = acted.actions[2]
    assert isinstance(drag, Drag) and drag.start == Point(x=moved[0], y=moved[1], space="desktop")
    assert finished.status == "finished"


def test_a_point_off_the_image_in_any_action_is_a_model_error_before_anything_is_done() -> None:
    agent, device, _ = agent_for([nemotron("pyautogui.click(0.5, 0.5)\npyautogui.click(1500, 20)"), DONE])
    error, finished = run(agent)  # x 1500 lies right of the 1280-pixel-wide screenshot
    assert error.status == "model_error" and device.actions == [] and finished.status == "finished"


def test_a_dry_run_plans_every_action() -> None:
    code = nemotron("pyautogui.click(0.5, 0.3)\npyautogui.write('x')")
    agent, device, _ = agent_for([code, DONE], safety=SafetyConfig(dry_run=True))
    planned, _ = run(agent)
    assert planned.status == "planned" and planned.performed == 2 and device.actions == []


def test_a_recorded_multi_action_step_is_replayed_action_by_action(tmp_path: Path) -> None:
    from tests.agent.test_replay import _RawEncoder  # the test encoder that keeps raw RGB bytes

    code = "pyautogui.click(0.5, 0.3)\npyautogui.write('hello')\npyautogui.moveTo(0.2, 0.5)\npyautogui.dragTo(0.6, 0.5)"
    agent, device, sampler = agent_for([nemotron(code), DONE])
    with TrajectoryWriter(tmp_path / "run", "fill in the form", encoder=_RawEncoder()) as writer:
        steps = list(writer.consume(agent.run("fill in the form", CancelToken())))
    record = json.loads((tmp_path / "run" / "steps.jsonl").read_text().splitlines()[0])
    assert record["performed"] == 3 and len(record["actions"]) == 3 and len(record["patches"]) == 3
    assert record["action"] == record["actions"][0]  # what bundles written before multi-action steps hold
    script = load_replay(tmp_path / "run")
    (only,) = script.steps
    assert [a.kind for a in only.actions] == ["click", "type", "drag"]
    click_at, start, end = (desktop(sampler, F(0.5, 0.3)), desktop(sampler, F(0.2, 0.5)), desktop(sampler, F(0.6, 0.5)))
    locator = FakeTargetLocator(
        {patch.file.name: at for patch, at in zip(only.patches, (click_at, start, end), strict=True)}
    )
    again = RecordingInputDevice()
    replayer = Replayer(
        StaticScreen([make_frame(MONITOR)]),
        locator,
        again,
        ScriptedConfirmer(),
        FakeClock(),
        SafetyPolicy(SafetyConfig()),
    )
    replayed = list(replayer.run(script, CancelToken()))
    assert replayed[0].status == "acted" and replayed[0].performed == 3
    assert again.actions == device.actions[:3] and steps[0].performed == 3
