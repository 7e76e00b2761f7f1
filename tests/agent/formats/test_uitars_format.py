"""Golden requests of the UI-TARS-1.5 format, built independently from ByteDance's sources and code.

The expected layout is the official agent loop as ``tests/models/test_scripted_uitars.official_request``
writes it from the sources (prompt from ``tests/models/published``, box tokens by ui-tars 0.1.4's own
``add_box_token``); the strict scripted server's checker must accept every request.
"""

from __future__ import annotations

import pytest

from omnidesk.agent.formats.base import FinishedStep
from omnidesk.agent.formats.uitars import UiTarsFormat, add_box_tokens
from omnidesk.runtime.remote import encode_messages
from tests.agent.formats.test_qwen_format import observation, pixels_of, reply
from tests.models.published import uitars_computer_use
from tests.models.scripted_server import Finish
from tests.models.scripted_uitars import UiTarsModel

TASK = "Open the settings and turn on dark mode."
REPLIES = [
    "Thought: I click the gear.\nAction: click(start_box='(100,200)')",
    "Thought: Drag it.\nAction: drag(start_box='(10,20)', end_box='(30, 40)')",
    "Thought: And there.\nAction: click(start_box='(5,6)')",
    "Thought: I type.\nAction: type(content='Grüße <ok> 東京')",
    "Thought: scroll\nAction: scroll(start_box='(960,540)', direction='down')",
    "Thought: wait\nAction: wait()",
    "Thought: x\nAction: hotkey(key='ctrl c')",
]


MORE = [
    "Action: click(start_box='(1,2)')",
    "Thought: no action here",
    "Thought: Two things.\nAction: click(start_box='(5,6)')\n\ntype(content='abc\\n')",
    "Thought: t\nAction: click(start_box='(5,6)')  \n\n  drag(start_box='(1,2)', end_box='(3,4)')",
]


@pytest.mark.parametrize("text", [*REPLIES, *MORE])
def test_box_tokens_go_back_as_the_official_add_box_token_puts_them(text: str) -> None:
    from ui_tars.action_parser import add_box_token

    assert add_box_tokens(text) == add_box_token(text)


def test_requests_follow_the_official_loop_and_keep_five_screenshots() -> None:
    from ui_tars.action_parser import add_box_token

    fmt = UiTarsFormat()
    chat = fmt.conversation(TASK, fmt.defaults(slow_decoding=False))
    checker = UiTarsModel(TASK, [Finish()], screen=(1920, 1080), history_images=5)
    shots = [observation("2.5") for _ in REPLIES]
    for step, (obs, text) in enumerate(zip(shots, REPLIES, strict=True)):
        wire = encode_messages(chat.request(obs).messages)
        assert checker.check({"messages": wire})[0] == step
        parsed = chat.parse(reply(text))
        chat.record(FinishedStep(step, "acted", text, parsed=parsed))
    final = observation("2.5")
    wire = encode_messages(chat.request(final).messages)
    prompt = uitars_computer_use().replace("{language}", "English").replace("{instruction}", TASK)
    assert wire[:2] == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": prompt},
    ]
    # 7 earlier steps: the oldest 3 as text only, the newest 4 with their screenshots, then the current one
    roles = [m["role"] for m in wire[2:]]
    assert roles == ["assistant"] * 3 + ["user", "assistant"] * 4 + ["user"]
    assistants = [m["content"] for m in wire[2:] if m["role"] == "assistant"]
    assert assistants == [add_box_token(text) for text in REPLIES]
    images = [m["content"] for m in wire[2:] if m["role"] == "user"]
    assert all(len(c) == 1 and c[0]["type"] == "image_url" for c in images)
    for content, obs in zip(images, [*shots[3:], final], strict=True):
        assert (pixels_of(content[0]) == obs.images[0].pixels).all()
    assert checker.check({"messages": wire})[0] == len(REPLIES)


def test_notes_go_inside_the_instruction_and_the_sampling_is_greedy() -> None:
    fmt = UiTarsFormat()
    settings = fmt.defaults(slow_decoding=False)
    chat = fmt.conversation(TASK, settings)
    request = chat.request(observation("2.5"), notes=("the last click did nothing",))
    wire = encode_messages(request.messages)
    assert wire[1]["content"].endswith(f"## User Instruction\n{TASK}\n\nNote: the last click did nothing\n")
    assert UiTarsModel(TASK, [Finish()]).check({"messages": wire})[0] == 0
    assert request.temperature == 0.0 and not request.enable_thinking
    assert fmt.image_sizing.size_for(1920, 1080) == (1932, 1092)
