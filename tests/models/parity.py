"""Helpers to put the same OpenAI request to the in-process session and to llama.cpp's server.

The request goes to the server the way Omnidesk's remote client sends it (``runtime.remote.encode_messages``:
PNG data URLs, adjacent text merged), and to :class:`OmniSession` as the :class:`ChatMessage` s it was made
from, so a difference anywhere on the way (template variables, part joining, image sizing, tokenization,
positions) shows in the rendered prompt, the prompt's token count or the first token's log-probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from omnidesk.agent.geometry import ImageTransform, MonitorInfo, Rect
from omnidesk.agent.ports import ChatMessage, ImagePart, ModelImage, ModelRequest, TextPart
from omnidesk.runtime.llama.session import OmniSession
from omnidesk.runtime.remote import encode_messages

__all__ = ["ServerAnswer", "ask_server", "incomplete_utf8_tokens", "screenshot", "three_step_request"]

INSTRUCTION = (
    "# Task Instruction:\nOpen the settings dialog and turn on dark mode.\n\nPlease generate the next move "
    "according to the screenshot, task instruction and previous steps (if provided).\n"
)


def screenshot(width: int, height: int, seed: int) -> ImagePart:
    """A desktop-like picture (flat background, windows, bars, text-like rows) at native size."""
    rng = np.random.default_rng(seed)
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[:] = rng.integers(20, 235, 3, dtype=np.uint8)
    pixels[: height // 30] = (40, 40, 48)
    for _ in range(12):
        w, h = int(rng.integers(width // 8, width // 2)), int(rng.integers(height // 8, height // 2))
        x, y = int(rng.integers(0, width - w)), int(rng.integers(height // 30, height - h))
        pixels[y : y + h, x : x + w] = rng.integers(0, 255, 3, dtype=np.uint8)
        for row in range(y + 8, y + h - 8, 24):
            pixels[row : row + 10, x + 12 : x + w // 2] = rng.integers(0, 255, 3, dtype=np.uint8)
    monitor = MonitorInfo(1, "DUMMY0", Rect(0, 0, width, height))
    transform = ImageTransform(monitor, width, height, Rect(0, 0, width, height), 1.0, 1.0, 0.0, 0.0)
    return ImagePart(ModelImage(pixels, transform, "overview", float(seed)))


def three_step_request(width: int, height: int, *, thinking: bool) -> ModelRequest:
    """Step 3 of a run in the trained computer-use layout: three screenshots, each first in its user turn."""
    shots = [screenshot(width, height, seed) for seed in range(3)]
    history = "# Previous History Actions:\n# Step 1:\n## Thought:\nThe menu is closed.\n\n## Action:\nopen it\n"
    messages = (
        ChatMessage.text("system", "You are a GUI agent. You are given an instruction and a screenshot."),
        ChatMessage("user", (shots[0], TextPart(INSTRUCTION + history + "\nYou are currently on Step 2.\n"))),
        ChatMessage.text("assistant", "<think>\nThe gear icon opens settings.\n</think>\n## Action:\nclick gear\n"),
        ChatMessage("user", (shots[1], TextPart(INSTRUCTION + "You are currently on Step 3.\n"))),
        ChatMessage.text("assistant", "<think>\nDark mode is a toggle.\n</think>\n## Action:\nclick toggle\n"),
        ChatMessage("user", (shots[2], TextPart(INSTRUCTION + "You are currently on Step 4.\n"))),
    )
    return ModelRequest(messages, max_tokens=1, enable_thinking=thinking)


def incomplete_utf8_tokens(session: OmniSession) -> list[int]:
    """Tokens whose text is not whole UTF-8 (byte tokens): the server gives no log-probabilities for them."""
    engine = session._engine  # test hook: the vocabulary is only reachable through the engine
    out = []
    for token in range(engine.n_vocab):
        try:
            engine.piece(token).decode("utf-8")
        except UnicodeDecodeError:
            out.append(token)
    return out


@dataclass(frozen=True, slots=True)
class ServerAnswer:
    prompt: str
    prompt_tokens: int
    top_logprobs: list[tuple[int, float]]


def ask_server(client: httpx.Client, url: str, request: ModelRequest, banned: list[int]) -> ServerAnswer:
    """``/apply-template`` and a one-token completion with the first token's top-10 log-probabilities.

    ``banned`` tokens are kept from being *sampled* (never from the log-probabilities, which the server takes
    from the raw logits), so the first sampled token is whole UTF-8 and gets its log-probability entry.
    """
    body: dict[str, Any] = {
        "messages": encode_messages(request.messages),
        "chat_template_kwargs": {"enable_thinking": bool(request.enable_thinking)},
    }
    prompt = client.post(f"{url}/apply-template", json=body).raise_for_status().json()["prompt"]
    completion = (
        client.post(
            f"{url}/v1/chat/completions",
            json={
                **body,
                "max_tokens": 1,
                "temperature": 0.0,
                "logprobs": True,
                "top_logprobs": 10,
                "logit_bias": [[token, False] for token in banned],
            },
        )
        .raise_for_status()
        .json()
    )
    entry = completion["choices"][0]["logprobs"]["content"][0]
    top = [(int(e["id"]), float(e["logprob"])) for e in entry["top_logprobs"]]
    return ServerAnswer(prompt, int(completion["usage"]["prompt_tokens"]), top)
