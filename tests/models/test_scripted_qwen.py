"""The strict Qwen server: it accepts the cookbook's own request, answers like the model, refuses the rest."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from tests.models.published import SYSTEM_SHA256, qwen_function, qwen_system_text
from tests.models.scripted_qwen import QwenModel
from tests.models.scripted_server import ClickOn, Finish, TypeText, scripted_server
from tests.oracles import qwen_vl_utils_smart_resize

GREEN = "#00c800"
TASK = "Press OK, then type into the field."
PLAN = [ClickOn(GREEN), TypeText("Grüße <ok> 東京"), Finish()]
SMART = qwen_vl_utils_smart_resize()


def screenshot(width: int, height: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """A dark screen with a green button at ``box`` (x, y, w, h)."""
    pixels = np.full((height, width, 3), 40, np.uint8)
    x, y, w, h = box
    pixels[y : y + h, x : x + w] = (0, 200, 0)
    return pixels


def data_url(pixels: np.ndarray) -> str:
    ok, png = cv2.imencode(".png", pixels[:, :, ::-1])
    assert ok
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode()


def cookbook_request(version: str, pixels: np.ndarray, text: str = TASK) -> dict[str, Any]:
    """The request the cookbook's API path sends (image already smart-resized), built from the sources."""
    height, width = pixels.shape[:2]
    stated = (width, height) if version == "2.5" else (1000, 1000)
    image = {"type": "image_url", "image_url": {"url": data_url(pixels)}}
    return {
        "model": "qwen",
        "messages": [
            {"role": "system", "content": qwen_system_text(version, *stated)},  # type: ignore[arg-type]
            {
                "role": "user",
                "content": [image, {"type": "text", "text": text}],
            },
        ],
    }


def at_smart_size(version: str, width: int, height: int, box: tuple[int, int, int, int]) -> np.ndarray:
    h, w = SMART(height, width, 28 if version == "2.5" else 32, 3136, 12845056)
    return screenshot(w, h, box)


def test_the_published_system_texts_are_the_cookbooks_bytes() -> None:
    for (version, width, height), digest in SYSTEM_SHA256.items():
        text = qwen_system_text(version, width, height)  # type: ignore[arg-type]
        assert hashlib.sha256(text.encode()).hexdigest() == digest
    assert "The screen's resolution is 1932x1092." in qwen_system_text("2.5", 1932, 1092)
    assert '"triple_click"' not in qwen_system_text("2.5", 10, 10)
    assert '"answer"' in qwen_system_text("3", 1000, 1000)


@pytest.mark.parametrize("version", ["2.5", "3"])
def test_the_cookbook_request_gets_a_click_where_the_button_is(version: str) -> None:
    model = QwenModel(version, TASK, PLAN, screen=(1920, 1080))  # type: ignore[arg-type]
    pixels = at_smart_size(version, 1920, 1080, (800, 500, 120, 40))
    with scripted_server(model) as server:
        reply = httpx.post(server.url + "/v1/chat/completions", json=cookbook_request(version, pixels)).json()
    content = reply["choices"][0]["message"]["content"]
    assert content.startswith("<tool_call>\n{") and content.endswith("}\n</tool_call>")
    call = json.loads(content.removeprefix("<tool_call>\n").removesuffix("\n</tool_call>"))
    assert call["name"] == "computer_use" and call["arguments"]["action"] == "left_click"
    x, y = call["arguments"]["coordinate"]
    if version == "2.5":  # pixels of the 1932x1092 image it was sent
        assert (x, y) == (860, 520)
    else:  # thousandths
        assert (x, y) == (round(860 / 1920 * 1000), round(520 / 1088 * 1000))


def test_the_history_moves_the_model_on_and_the_text_keeps_its_unicode() -> None:
    model = QwenModel("2.5", TASK, PLAN)
    pixels = at_smart_size("2.5", 1280, 1024, (10, 10, 50, 50))
    step1 = '{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [35, 35]}}'
    progress = "Task progress (You have done the following operation on the current device): "
    text = f"The user query: {TASK}\n{progress}Step 1: {step1}; "
    with scripted_server(model) as server:
        body = cookbook_request("2.5", pixels, text) | {"stream": True}
        with httpx.stream("POST", server.url + "/v1/chat/completions", json=body) as response:
            events = [json.loads(line[5:]) for line in response.iter_lines() if line.startswith("data: {")]
    content = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert json.loads(content.split("\n")[1]) == {
        "name": "computer_use",
        "arguments": {"action": "type", "text": "Grüße <ok> 東京"},
    }
    assert "Grüße <ok> 東京" in content  # raw, as the model writes it (ensure_ascii=False)


def test_tool_parser_engines_answer_with_tool_calls() -> None:
    model = QwenModel("3", TASK, PLAN, tool_parser="when_tools")
    pixels = at_smart_size("3", 1920, 1080, (800, 500, 120, 40))
    body = cookbook_request("3", pixels)
    body["messages"][0]["content"] = "You are a helpful assistant."
    body["tools"] = [{"type": "function", "function": qwen_function("3", 1000, 1000)}]
    with scripted_server(model) as server:
        message = httpx.post(server.url + "/v1/chat/completions", json=body).json()["choices"][0]["message"]
        plain = httpx.post(server.url + "/v1/chat/completions", json=cookbook_request("3", pixels)).json()
    assert message["content"] is None
    (call,) = message["tool_calls"]
    assert call["function"]["name"] == "computer_use"
    assert json.loads(call["function"]["arguments"])["action"] == "left_click"  # a JSON string, as vLLM's hermes
    assert plain["choices"][0]["message"]["content"].startswith("<tool_call>")  # no tools sent: text, as vLLM


def _mutations(version: str) -> list[tuple[str, Any]]:
    """(reason fragment, a function that breaks the cookbook request in one way)."""

    def text_first(b: dict[str, Any]) -> None:
        b["messages"][1]["content"].reverse()

    def split_system(b: dict[str, Any]) -> None:
        text = b["messages"][0]["content"]
        cut = text.index("\n\n# Tools")
        b["messages"][0]["content"] = [{"type": "text", "text": text[:cut]}, {"type": "text", "text": text[cut:]}]

    def wrong_resolution(b: dict[str, Any]) -> None:
        b["messages"][0]["content"] = b["messages"][0]["content"].replace("resolution is", "resolution is 1")

    def letterbox(b: dict[str, Any]) -> None:
        b["messages"][1]["content"][0]["image_url"]["url"] = data_url(screenshot(512, 512, (10, 10, 40, 40)))

    def not_smart(b: dict[str, Any]) -> None:
        b["messages"][1]["content"][0]["image_url"]["url"] = data_url(screenshot(1920, 1080, (10, 10, 40, 40)))

    def three_messages(b: dict[str, Any]) -> None:
        b["messages"].insert(1, {"role": "user", "content": "hello"})

    def other_system(b: dict[str, Any]) -> None:
        b["messages"][0]["content"] = b["messages"][0]["content"].replace("helpful assistant.", "desktop agent.")

    def bad_history(b: dict[str, Any]) -> None:
        b["messages"][1]["content"][1]["text"] = f"Task: {TASK}\nPrevious steps: clicked OK"

    def tools_field(b: dict[str, Any]) -> None:
        b["tools"] = [{"type": "function", "function": qwen_function("3", 1000, 1000)}]

    def two_images(b: dict[str, Any]) -> None:
        b["messages"][1]["content"].insert(0, copy.deepcopy(b["messages"][1]["content"][0]))

    return [
        ("screenshot comes first", text_first),
        ("as one text", split_system),
        ("NousFnCallPrompt text", wrong_resolution),
        ("smart_resize size" if version == "2.5" else "whole 1920x1080", letterbox),
        ("not at its smart_resize size", not_smart),
        ("exactly [system, user]", three_messages),
        ("NousFnCallPrompt text", other_system),
        ("'The user query", bad_history),
        ("no tool parser", tools_field),
        ("[image_url, text]", two_images),
    ]


@pytest.mark.parametrize("version", ["2.5", "3"])
def test_every_step_off_the_cookbook_is_refused(version: str) -> None:
    model = QwenModel(version, TASK, PLAN, screen=(1920, 1080))  # type: ignore[arg-type]
    pixels = at_smart_size(version, 1920, 1080, (800, 500, 120, 40))
    with scripted_server(model) as server:
        url = server.url + "/v1/chat/completions"
        assert httpx.post(url, json=cookbook_request(version, pixels)).status_code == 200
        for reason, mutate in _mutations(version):
            body = cookbook_request(version, pixels)
            mutate(body)
            response = httpx.post(server.url + "/v1/chat/completions", json=body)
            assert response.status_code == 400, reason
            assert reason in response.json()["error"]["message"], (reason, response.json())
        assert len(server.refusals) == len(_mutations(version))


def test_qwen25_refuses_tools_even_from_a_tool_parser_engine() -> None:
    model = QwenModel("2.5", TASK, PLAN, tool_parser="when_tools")
    body = cookbook_request("2.5", at_smart_size("2.5", 1920, 1080, (0, 0, 40, 40)))
    body["tools"] = [{"type": "function", "function": qwen_function("2.5", 1932, 1092)}]
    with scripted_server(model) as server:
        response = httpx.post(server.url + "/v1/chat/completions", json=body)
    assert response.status_code == 400 and "ignores `tools`" in response.json()["error"]["message"]
