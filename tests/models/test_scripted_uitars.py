"""The strict UI-TARS server: it accepts the official agents' layout, answers like the model, refuses the rest."""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

import httpx
import pytest

from tests.models.published import uitars_computer_use
from tests.models.scripted_server import ClickOn, Finish, TypeText, scripted_server
from tests.models.scripted_uitars import UiTarsModel
from tests.models.test_scripted_qwen import data_url, screenshot
from tests.oracles import ui_tars_smart_resize

GREEN = "#00c800"
TASK = "Press OK, then type into the field."
TEXT = "Grüße <ok> 東京"
PLAN = [ClickOn(GREEN), ClickOn(GREEN), TypeText(TEXT), Finish("it's done")]
SMART = ui_tars_smart_resize()
H, W = SMART(1080, 1920)


@cache
def _screen_url() -> str:
    return data_url(screenshot(W, H, (800, 500, 120, 40)))


def image_turn() -> dict[str, Any]:
    url = _screen_url()
    return {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}


def official_request(replies: list[str], kept: int = 5) -> dict[str, Any]:
    """OSWorld's UI-TARS agent loop, written from its description: prompt, then per earlier step its screenshot
    (newest ``kept - 1`` only) and its reply with box tokens put back, then the current screenshot."""
    from ui_tars.action_parser import add_box_token

    prompt = uitars_computer_use().format(language="English", instruction=TASK)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": prompt},
    ]
    for i, reply in enumerate(replies):
        if i + kept > len(replies):
            messages.append(image_turn())
        messages.append({"role": "assistant", "content": add_box_token(reply)})
    messages.append(image_turn())
    return {"model": "ui-tars", "messages": messages, "temperature": 0}


def ask(server_url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(server_url + "/v1/chat/completions", json=body, timeout=30)


def test_the_prompt_is_the_published_text() -> None:
    text = uitars_computer_use()
    digest = "5363caa4e115ab3da862dd7a0cf8bf2859c7611ac8551e0336901bb0776ddd34"  # the runtime value at 6b315cc
    assert hashlib.sha256(text.encode()).hexdigest() == digest
    assert "content. \nscroll(" in text and text.endswith("## User Instruction\n{instruction}\n")


def test_a_run_in_the_official_layout_clicks_types_and_finishes() -> None:
    from ui_tars.action_parser import parse_action_to_structure_output

    model = UiTarsModel(TASK, PLAN, screen=(1920, 1080), history_images=5)
    replies: list[str] = []
    with scripted_server(model) as server:
        for _ in range(len(PLAN)):
            response = ask(server.url, official_request(replies))
            assert response.status_code == 200, response.text
            replies.append(response.json()["choices"][0]["message"]["content"])
    assert replies[0] == "Thought: I click the button.\nAction: click(start_box='(860,520)')"
    (typed,) = parse_action_to_structure_output(replies[2], 1000, H, W)
    assert typed["action_type"] == "type" and typed["action_inputs"]["content"] == TEXT
    (done,) = parse_action_to_structure_output(replies[3], 1000, H, W)
    assert done["action_type"] == "finished" and done["action_inputs"]["content"] == "it's done"


def test_six_steps_keep_five_screenshots() -> None:
    replies = ["Thought: t\nAction: click(start_box='(10,20)')"] * 6
    model = UiTarsModel(TASK, [Finish()], history_images=5)
    with scripted_server(model) as server:
        assert ask(server.url, official_request(replies)).status_code == 200
        too_many = official_request(replies, kept=6)
        response = ask(server.url, too_many)
    assert response.status_code == 400 and "at most 5" in response.json()["error"]["message"]


def _mutations() -> list[tuple[str, Any]]:
    def no_box_tokens(b: dict[str, Any]) -> None:
        reply = b["messages"][3]["content"]
        b["messages"][3]["content"] = reply.replace("<|box_start|>", "").replace("<|box_end|>", "")

    def prompt_with_image(b: dict[str, Any]) -> None:
        prompt = {"type": "text", "text": b["messages"][1]["content"]}
        b["messages"][1]["content"] = [prompt, image_turn()["content"][0]]

    def own_system(b: dict[str, Any]) -> None:
        b["messages"][0]["content"] = "You are a desktop agent."

    def edited_prompt(b: dict[str, Any]) -> None:
        b["messages"][1]["content"] = b["messages"][1]["content"].replace("content. \n", "content.\n")

    def other_task(b: dict[str, Any]) -> None:
        b["messages"][1]["content"] = b["messages"][1]["content"].replace(TASK, "Press Cancel.")

    def letterbox(b: dict[str, Any]) -> None:
        b["messages"][-1]["content"][0]["image_url"]["url"] = data_url(screenshot(512, 512, (0, 0, 9, 9)))

    def whole_screen_unresized(b: dict[str, Any]) -> None:
        b["messages"][-1]["content"][0]["image_url"]["url"] = data_url(screenshot(1920, 1080, (0, 0, 9, 9)))

    def text_with_screenshot(b: dict[str, Any]) -> None:
        b["messages"][-1]["content"].append({"type": "text", "text": "What next?"})

    def reply_before_its_screenshot(b: dict[str, Any]) -> None:
        b["messages"][2], b["messages"][3] = b["messages"][3], b["messages"][2]

    def bad_reply(b: dict[str, Any]) -> None:
        b["messages"][3]["content"] = "I clicked OK."

    return [
        ("add_box_token", no_box_tokens),
        ("COMPUTER_USE prompt with the instruction, as text", prompt_with_image),
        ("no system prompt of its own", own_system),
        ("COMPUTER_USE prompt, verbatim", edited_prompt),
        ("instruction 'Press OK", other_task),
        ("smart_resize size", letterbox),
        ("smart_resize size", whole_screen_unresized),
        ("only that image", text_with_screenshot),
        ("followed by that step's reply", reply_before_its_screenshot),
        ("official parser", bad_reply),
    ]


@pytest.mark.parametrize(("reason", "mutate"), _mutations(), ids=[m[0][:24] for m in _mutations()])
def test_every_request_off_the_layout_is_refused(reason: str, mutate: Any) -> None:
    body = official_request(["Thought: I click OK.\nAction: click(start_box='(860,520)')"])
    model = UiTarsModel(TASK, PLAN, screen=(1920, 1080))
    with scripted_server(model) as server:
        assert ask(server.url, body).status_code == 200
        mutate(body)
        response = ask(server.url, body)
    assert response.status_code == 400
    assert reason in response.json()["error"]["message"]
