"""Golden requests of the Qwen2.5-VL / Qwen3-VL formats, built independently from the cookbooks.

The expected messages come from ``tests/models/published.py`` (the cookbooks' own tool classes run through
qwen-agent's ``NousFnCallPrompt``), never from Omnidesk; the wire form is what ``runtime/remote.py`` sends,
and the strict scripted server's checker (``tests/models/scripted_qwen.py``) must accept it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from omnidesk.agent.actions import Action, Click
from omnidesk.agent.formats.base import FinishedStep
from omnidesk.agent.formats.qwen import QwenFormat
from omnidesk.agent.geometry import ImageTransform, MonitorInfo, Rect
from omnidesk.agent.parsing import Parsed
from omnidesk.agent.ports import ModelImage, ModelReply, Observation
from omnidesk.runtime.remote import encode_messages
from tests.models.published import qwen_system_text
from tests.models.scripted_qwen import QwenModel
from tests.models.scripted_server import Finish
from tests.oracles import qwen_vl_utils_smart_resize

TASK = "Open the settings and turn on dark mode."
SMART = qwen_vl_utils_smart_resize()
PROGRESS = "Task progress (You have done the following operation on the current device): "


def observation(version: str, screen: tuple[int, int] = (1920, 1080)) -> Observation:
    """The overview the sampler makes for this format: the whole screen at its smart_resize size."""
    height, width = SMART(screen[1], screen[0], 28 if version == "2.5" else 32, 3136, 12845056)
    monitor = MonitorInfo(1, "DUMMY0", Rect(0, 0, *screen), primary=True)
    scale_x, scale_y = screen[0] / width, screen[1] / height
    transform = ImageTransform(monitor, width, height, Rect(0, 0, width, height), scale_x, scale_y, 0, 0)
    pixels = np.random.default_rng(7).integers(0, 255, (height, width, 3), dtype=np.uint8)
    return Observation((ModelImage(pixels, transform, "overview", 0.0),), 0.0, True, 1.0)


@dataclass(frozen=True)
class EngineToolCall:
    """An OpenAI tool call as an engine's tool parser returns it (``arguments``: a JSON string)."""

    name: str
    arguments: str


@dataclass(frozen=True)
class ToolParserReply:
    """A reply whose call an engine's tool parser split off the text (what the remote client hands on)."""

    tool_calls: tuple[EngineToolCall, ...]
    text: str = ""
    reasoning: str = ""


def first_action(parsed: Parsed) -> Action:
    """The first action of a parse (one per reply before multi-action replies, several after)."""
    actions = getattr(parsed, "actions", None)
    return actions[0] if actions else parsed.action  # type: ignore[no-any-return, attr-defined]


def reply(text: str) -> ModelReply:
    return ModelReply(text, "", 0, 0, 0, 0.0, 0.0, "stop")


def pixels_of(part: dict[str, object]) -> np.ndarray:
    url = part["image_url"]["url"]  # type: ignore[index]
    data = base64.b64decode(url.split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]


@pytest.mark.parametrize(("version", "stated"), [("2.5", (1932, 1092)), ("3", (1000, 1000))])
def test_the_first_request_is_the_cookbooks(version: str, stated: tuple[int, int]) -> None:
    fmt = QwenFormat(version)  # type: ignore[arg-type]
    obs = observation(version)
    chat = fmt.conversation(TASK, fmt.defaults(slow_decoding=False))
    wire = encode_messages(chat.request(obs).messages)
    assert wire[0] == {"role": "system", "content": qwen_system_text(version, *stated)}  # type: ignore[arg-type]
    assert [p["type"] for p in wire[1]["content"]] == ["image_url", "text"]
    assert wire[1]["content"][1]["text"] == TASK
    assert np.array_equal(pixels_of(wire[1]["content"][0]), obs.images[0].pixels)
    assert len(wire) == 2
    checker = QwenModel(version, TASK, [Finish()], screen=(1920, 1080))  # type: ignore[arg-type]
    assert checker.check({"messages": wire})[0] == 0


def test_qwen25_states_the_size_of_the_image_it_sends() -> None:
    fmt = QwenFormat("2.5")
    chat = fmt.conversation(TASK, fmt.defaults(slow_decoding=False))
    for screen, stated in [((2560, 1440), "2548x1428"), ((1280, 1024), "1288x1036"), ((3840, 2160), "3836x2156")]:
        system = chat.request(observation("2.5", screen)).messages[0].parts[0]
        assert f"The screen's resolution is {stated}." in system.text  # type: ignore[union-attr]


def test_the_history_is_the_mobile_cookbooks_task_progress() -> None:
    fmt = QwenFormat("2.5")
    chat = fmt.conversation(TASK, fmt.defaults(slow_decoding=False))
    obs = observation("2.5")
    chat.request(obs)
    click = '{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [860, 520]}}'
    parsed = chat.parse(reply(f"<tool_call>\n{click}\n</tool_call>"))
    assert isinstance(first_action(parsed), Click)
    chat.record(FinishedStep(0, "acted", f"<tool_call>\n{click}\n</tool_call>", parsed=parsed))
    chat.request(obs)
    typed = {"action": "type", "text": "Grüße <ok> 東京"}
    tool = EngineToolCall("computer_use", json.dumps(typed, ensure_ascii=False))
    parsed = chat.parse(ToolParserReply((tool,)))  # type: ignore[arg-type]  # an engine's tool parser
    chat.record(FinishedStep(1, "acted", "", parsed=parsed))
    wire = encode_messages(chat.request(obs, notes=("your last action did not change the screen",)).messages)
    typed_json = json.dumps({"name": "computer_use", "arguments": typed}, ensure_ascii=False)
    query = f"{TASK}\n\nNote: your last action did not change the screen"
    progress = f"{PROGRESS}Step 1: {click}; Step 2: {typed_json}; "
    assert wire[1]["content"][1]["text"] == f"The user query: {query}\n{progress}"
    assert QwenModel("2.5", TASK, [Finish()]).check({"messages": wire})[0] == 2


def test_an_unusable_output_stays_out_of_the_history() -> None:
    fmt = QwenFormat("3")
    chat = fmt.conversation(TASK, fmt.defaults(slow_decoding=False))
    obs = observation("3")
    chat.request(obs)
    with pytest.raises(Exception, match="tool"):
        chat.parse(reply("I would click OK."))
    chat.record(FinishedStep(0, "model_error", "I would click OK.", parsed=None))
    wire = encode_messages(chat.request(obs).messages)
    assert wire[1]["content"][1]["text"] == TASK


def test_qwen3_points_are_thousandths_and_qwen25_points_pixels() -> None:
    click = '{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [500, 250]}}'
    call = f"<tool_call>\n{click}\n</tool_call>"
    for version, space in (("2.5", "image_pixels"), ("3", "thousandths")):
        fmt = QwenFormat(version)  # type: ignore[arg-type]
        chat = fmt.conversation(TASK, fmt.defaults(slow_decoding=False))
        chat.request(observation(version))
        action = first_action(chat.parse(reply(call)))
        assert isinstance(action, Click) and action.point.space == space
        assert fmt.image_sizing.size_for(1920, 1080) == ((1932, 1092) if version == "2.5" else (1920, 1088))
