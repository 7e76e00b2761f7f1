"""Golden requests: Omnidesk's Nemotron format against the cookbook's own ``build_messages``, re-stated in
``tests/models/nemotron_cookbook.py`` from NVIDIA's source (not from the module under test)."""

from __future__ import annotations

import base64
import hashlib
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from omnidesk.agent.config import AgentConfig
from omnidesk.agent.errors import ModelOutputError
from omnidesk.agent.formats import FinishedStep, FormatSettings, get_format, resolve_settings
from omnidesk.agent.formats.nemotron import NemotronFormat
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import ImagePart, ModelReply, ModelRequest, Observation, TextPart
from omnidesk.runtime.remote import encode_messages
from tests.fakes import make_frame, whole_image
from tests.models import nemotron_cookbook as cookbook

MONITOR = MonitorInfo(1, "DUMMY0", Rect(0, 0, 1920, 1080), primary=True)
SMALL = MonitorInfo(1, "DUMMY0", Rect(0, 0, 64, 36), primary=True)  # layout tests need no big frames
PASSWORD = "{{secret:computer_password}}"
TASK = "Open the settings {and} press OK"  # braces must pass through str.format untouched


def observation(step: int) -> Observation:
    image = replace(whole_image(make_frame(SMALL, color=(step, step, step))), label=f"shot-{step}")
    return Observation((image,), float(step), True, 1.0)


def reply(thought: str, action: str) -> ModelReply:
    text = f"## Action:\n{action}\n## Code:\n```python\npyautogui.click(0.5, 0.5)\n```"
    return ModelReply(text, thought, 10, 10, 0, 0.0, 0.0, "stop")


def as_openai(request: ModelRequest) -> list[dict[str, Any]]:
    """The request as OpenAI messages, each image replaced by its label (the cookbook's PNG stand-in)."""
    out: list[dict[str, Any]] = []
    for message in request.messages:
        parts: list[dict[str, Any]] = []
        for part in message.parts:
            if isinstance(part, TextPart):
                parts.append({"type": "text", "text": part.text})
            elif isinstance(part, ImagePart):
                parts.append({"type": "image_url", "image_url": {"url": part.image.label}})
        if all(p["type"] == "text" for p in parts):
            out.append({"role": message.role, "content": "".join(p["text"] for p in parts)})
        else:
            out.append({"role": message.role, "content": parts})
    return out


def settings(*, thinking: bool = True, screenshots: int = 3) -> FormatSettings:
    fmt = NemotronFormat()
    return replace(fmt.defaults(slow_decoding=False), thinking=thinking, screenshots=screenshots)


@pytest.mark.parametrize("thinking", [True, False])
@pytest.mark.parametrize("screenshots", [1, 2, 3])
def test_every_step_is_the_cookbooks_request(thinking: bool, screenshots: int) -> None:
    chat = NemotronFormat().conversation(TASK, settings(thinking=thinking, screenshots=screenshots))
    history: list[cookbook.CookbookTurn] = []
    for step in range(1, 7):
        request = chat.request(observation(step))
        expected = cookbook.cookbook_messages(
            TASK,
            f"shot-{step}",
            history,
            password=PASSWORD,
            thinking=thinking,
            max_image_history_length=screenshots,
        )
        assert as_openai(request) == expected, f"step {step}"
        thought, action = f"thought {step}\nover two lines", f"Click the button {{{step}}}."
        parsed = chat.parse(reply(thought, action) if thinking else reply("", action))
        if not thinking:  # the non-thinking thought comes from the content's ## Thought section
            parsed = chat.parse(
                ModelReply(f"## Thought:\n{thought}\n\n" + reply("", action).text, "", 1, 1, 0, 0, 0, "stop")
            )
        chat.record(FinishedStep(step - 1, "acted", parsed=parsed))
        history.append(cookbook.CookbookTurn(f"shot-{step}", thought, action))


def test_the_system_prompts_are_the_cookbooks_verbatim_with_the_secret_placeholder() -> None:
    stored = tomllib.loads((Path(__file__).parents[3] / "assets/prompts/nemotron_cua.toml").read_text("utf-8"))
    assert stored["commit"] == cookbook.COMMIT
    for key in ("thinking", "non_thinking"):
        assert hashlib.sha256(stored[key].encode()).hexdigest() == cookbook.PROMPT_SHA256[key]
    for thinking, prompt in [(True, cookbook.SYSTEM_PROMPT_THINKING), (False, cookbook.SYSTEM_PROMPT_NON_THINKING)]:
        chat = NemotronFormat().conversation(TASK, replace(settings(thinking=thinking), password_secret="login"))
        system = chat.request(observation(1)).messages[0]
        assert as_openai(chat.request(observation(1)))[0] == {
            "role": "system",
            "content": prompt.replace("{password}", "{{secret:login}}"),
        }
        assert "passoword" in system.parts[0].text  # type: ignore[union-attr]


def test_request_settings_are_the_cookbooks() -> None:
    fmt = get_format("nemotron")
    thinking = fmt.conversation(TASK, resolve_settings(fmt, AgentConfig())).request(observation(1))
    assert (thinking.temperature, thinking.top_p, thinking.max_tokens) == (0.6, 0.95, 20480)
    extra = cookbook.cookbook_extra_body(thinking=True)
    assert thinking.enable_thinking is True and thinking.reasoning_budget == extra["thinking_token_budget"]
    assert {"enable_thinking": True, **thinking.template_kwargs} == extra["chat_template_kwargs"]
    plain = fmt.conversation(TASK, resolve_settings(fmt, AgentConfig(enable_thinking=False))).request(observation(1))
    assert plain.enable_thinking is False and plain.reasoning_budget is None
    assert {"enable_thinking": False, **plain.template_kwargs} == cookbook.cookbook_extra_body(thinking=False)[
        "chat_template_kwargs"
    ]


def test_on_a_slow_machine_the_default_is_the_trained_non_thinking_variant() -> None:
    fmt = get_format("nemotron")
    chosen = resolve_settings(fmt, AgentConfig(), slow_decoding=True)
    assert chosen.thinking is False and chosen.max_tokens <= 2048
    system = fmt.conversation(TASK, chosen).request(observation(1)).messages[0].parts[0]
    assert system == TextPart(cookbook.SYSTEM_PROMPT_NON_THINKING.replace("{password}", PASSWORD))
    # thinking asked for anyway: a small budget, not the 16k one
    forced = resolve_settings(fmt, AgentConfig(enable_thinking=True), slow_decoding=True)
    assert forced.thinking_limit is not None and forced.thinking_limit <= 1024


def test_the_screenshot_goes_out_as_a_whole_png_first_in_its_turn() -> None:
    frame = make_frame(MONITOR, boxes=[(Rect(1500, 900, 40, 20), (0, 200, 0))])
    chat = NemotronFormat().conversation(TASK, settings())
    request = chat.request(Observation((whole_image(frame),), 0.0, True, 1.0))
    *_, current = encode_messages(request.messages)
    image, text = current["content"]
    assert image["type"] == "image_url" and text["type"] == "text"
    url = image["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    png = cv2.imdecode(np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    assert png.shape == (1080, 1920, 3)  # native size: no 512² letterbox
    assert np.array_equal(png, frame.pixels[:, :, :3])  # BGR on both sides: the very pixels captured


def test_notes_go_only_inside_the_task_instruction_of_their_step() -> None:
    chat = NemotronFormat().conversation(TASK, settings())
    first = as_openai(chat.request(observation(1), ["that action was refused: a deny-listed window"]))
    text = first[-1]["content"][1]["text"]
    assert text.startswith(f"# Task Instruction:\n{TASK}\n\nNote: that action was refused: a deny-listed window\n\n")
    chat.record(FinishedStep(0, "refused", parsed=chat.parse(reply("t", "a"))))
    second = as_openai(chat.request(observation(2)))
    assert "Note:" in second[1]["content"][1]["text"]  # the turn as it was sent then
    assert "Note:" not in second[-1]["content"][1]["text"]


def test_an_unusable_output_is_not_a_step_of_the_history() -> None:
    chat = NemotronFormat().conversation(TASK, settings())
    chat.request(observation(1))
    with pytest.raises(ModelOutputError):
        chat.parse(ModelReply("no action here", "thinking...", 1, 1, 0, 0, 0, "stop"))
    chat.record(FinishedStep(0, "model_error", reply_text="no action here"))
    request = as_openai(chat.request(observation(2), ["your last output could not be used: ..."]))
    assert len(request) == 2 and request[-1]["content"][1]["text"].endswith("You are currently on Step 1.\n")


def test_in_thinking_mode_the_answer_is_found_in_the_reasoning_only_under_an_action_heading() -> None:
    chat = NemotronFormat().conversation(TASK, settings())
    chat.request(observation(1))
    code = "## Action: Click OK.\n## Code:\n```python\npyautogui.click(0.25, 0.75)\n```"
    parsed = chat.parse(ModelReply("", "I should click OK.\n" + code, 1, 1, 0, 0, 0, "stop"))
    assert parsed.summary == "Click OK." and parsed.thought == "I should click OK."
    with pytest.raises(ModelOutputError):  # an example inside the thought, without the heading, is not an answer
        chat.parse(ModelReply("", "maybe pyautogui.click(0.25, 0.75)", 1, 1, 0, 0, 0, "stop"))
    plain = NemotronFormat().conversation(TASK, settings(thinking=False))
    plain.request(observation(1))
    with pytest.raises(ModelOutputError):  # never in non-thinking mode
        plain.parse(ModelReply("", code, 1, 1, 0, 0, 0, "stop"))
