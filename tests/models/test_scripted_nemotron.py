"""The scripted Nemotron server takes the cookbook's own requests and refuses anything off them."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from tests.models import nemotron_cookbook as cookbook
from tests.models.scripted_nemotron import ScriptedNemotron, press_then_type, scripted_nemotron

SCREEN = (320, 180)
GREEN = "#00c800"


def png_url(width: int, height: int, *, box: bool = True) -> str:
    pixels = np.full((height, width, 3), 40, np.uint8)
    if box:
        pixels[60:90, 200:260] = (0, 200, 0)  # BGR: the green button
    ok, data = cv2.imencode(".png", pixels)
    assert ok
    return "data:image/png;base64," + base64.b64encode(data.tobytes()).decode()


def cookbook_body(steps: int = 1, *, thinking: bool = True) -> dict[str, Any]:
    """A request exactly as the cookbook builds it, for step ``steps``."""
    history = [cookbook.CookbookTurn(png_url(*SCREEN), f"thought {i}", f"action {i}") for i in range(1, steps)]
    messages = cookbook.cookbook_messages(
        "press OK", png_url(*SCREEN), history, password="{{secret:pw}}", thinking=thinking
    )
    body = {
        "model": "vllm_local",
        "messages": messages,
        "temperature": 0.6,
        "top_p": 0.95,
        "max_tokens": 20480,
        "stream": True,
        **cookbook.cookbook_extra_body(thinking=thinking),
    }
    return body


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedNemotron]:
    with scripted_nemotron(press_then_type(GREEN, "#ffff00", "x"), [SCREEN]) as running:
        yield running


def post(server: ScriptedNemotron, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(server.url + "/v1/chat/completions", json=body, timeout=30)


def stream_parts(response: httpx.Response) -> tuple[str, str]:
    reasoning, content = [], []
    for line in response.text.splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:])["choices"]:
                reasoning.append(choice["delta"].get("reasoning_content") or "")
                content.append(choice["delta"].get("content") or "")
    return "".join(reasoning), "".join(content)


@pytest.mark.parametrize("thinking", [True, False])
@pytest.mark.parametrize("steps", [1, 2, 3, 5])
def test_the_cookbooks_own_requests_are_answered_like_the_model(
    server: ScriptedNemotron, steps: int, thinking: bool
) -> None:
    response = post(server, cookbook_body(steps, thinking=thinking))
    assert response.status_code == 200, response.text
    reasoning, content = stream_parts(response)
    assert server.seen[-1].step == steps and len(server.seen[-1].history) == steps - 1
    if thinking:
        assert reasoning and content.startswith("## Action:\n") and "## Code:\n" in content
    else:
        assert not reasoning and content.startswith("## Thought:\n")
    if steps == 1:  # it found the green box in the pixels: centre (230, 75) of 320x180
        assert "pyautogui.click(0.7188, 0.4167)" in content


def _swap_parts(body: dict[str, Any]) -> None:
    body["messages"][-1]["content"].reverse()


def _square(body: dict[str, Any]) -> None:
    body["messages"][-1]["content"][0]["image_url"]["url"] = png_url(512, 512)


def _letterboxed(body: dict[str, Any]) -> None:
    body["messages"][-1]["content"][0]["image_url"]["url"] = png_url(320, 320)


def _jpeg(body: dict[str, Any]) -> None:
    _ok, data = cv2.imencode(".jpg", np.zeros((180, 320, 3), np.uint8))
    body["messages"][-1]["content"][0]["image_url"]["url"] = "data:image/png;base64," + base64.b64encode(data).decode()


def _four_images(body: dict[str, Any]) -> None:
    history = [cookbook.CookbookTurn(png_url(*SCREEN), f"t{i}", f"a{i}") for i in range(1, 4)]
    body["messages"] = cookbook.cookbook_messages(
        "press OK", png_url(*SCREEN), history, password="pw", max_image_history_length=4
    )


def _code_in_history(body: dict[str, Any]) -> None:
    body["messages"][2]["content"] += "## Code:\n```python\npyautogui.click(0.5, 0.5)\n```\n"


def _wrong_step(body: dict[str, Any]) -> None:
    text = body["messages"][-1]["content"][1]
    text["text"] = text["text"].replace("Step 3.", "Step 4.")


def _one_turn_for_all(body: dict[str, Any]) -> None:
    images = [m["content"][0] for m in body["messages"] if m["role"] == "user"]
    body["messages"] = [body["messages"][0], {"role": "user", "content": [*images, body["messages"][-1]["content"][1]]}]


def _omnidesk_internals_in_the_prompt(body: dict[str, Any]) -> None:
    body["messages"][0]["content"] += "\nScreenshots may have black bars."


def _note_outside_the_instruction(body: dict[str, Any]) -> None:
    text = body["messages"][-1]["content"][1]
    text["text"] += "Note: that action was refused.\n"


def _temperature(body: dict[str, Any]) -> None:
    body["temperature"] = 0.0


def _no_budget(body: dict[str, Any]) -> None:
    del body["thinking_token_budget"]


def _string_thinking_switch(body: dict[str, Any]) -> None:
    body["chat_template_kwargs"]["enable_thinking"] = "true"


def _history_thinking_truncated(body: dict[str, Any]) -> None:
    body["chat_template_kwargs"]["truncate_history_thinking"] = True


def _extra_field(body: dict[str, Any]) -> None:
    body["top_k"] = 20


def _text_history_in_the_wrong_turn(body: dict[str, Any]) -> None:
    oldest, current = body["messages"][1]["content"][1], body["messages"][-1]["content"][1]
    block = oldest["text"][oldest["text"].index("# Previous History Actions:") : oldest["text"].index("You are")]
    oldest["text"] = oldest["text"].replace(block, "")
    current["text"] = current["text"].replace("You are", block + "You are")


OFF_FORMAT: list[tuple[Callable[[dict[str, Any]], None], int, str]] = [
    (_swap_parts, 1, "screenshot must come first"),
    (_square, 1, "512x512 screenshot is not a whole monitor"),
    (_letterboxed, 1, "320x320"),
    (_jpeg, 1, "not a PNG"),
    (_four_images, 4, "at most 3"),
    (_code_in_history, 2, "## Code"),
    (_wrong_step, 3, "count up"),
    (_one_turn_for_all, 3, "exactly [screenshot, text]"),
    (_omnidesk_internals_in_the_prompt, 1, "not the cookbook's thinking one"),
    (_note_outside_the_instruction, 1, "is not '# Task Instruction:'"),
    (_temperature, 1, "sampling"),
    (_no_budget, 1, "thinking_token_budget"),
    (_string_thinking_switch, 1, "enable_thinking"),
    (_history_thinking_truncated, 1, "chat_template_kwargs"),
    (_extra_field, 1, "never sends"),
    (_text_history_in_the_wrong_turn, 5, "oldest"),
]


@pytest.mark.parametrize(("mutate", "steps", "reason"), OFF_FORMAT, ids=[m.__name__ for m, _, _ in OFF_FORMAT])
def test_anything_off_the_cookbooks_layout_is_refused(
    server: ScriptedNemotron, mutate: Callable[[dict[str, Any]], None], steps: int, reason: str
) -> None:
    body = copy.deepcopy(cookbook_body(steps))
    mutate(body)
    response = post(server, body)
    assert response.status_code == 400
    assert reason in response.json()["error"]["message"]


def test_it_says_it_is_vllm(server: ScriptedNemotron) -> None:
    models = httpx.get(server.url + "/v1/models", timeout=10).json()
    assert models["data"][0]["owned_by"] == "vllm"
