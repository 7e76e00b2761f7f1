"""A strict scripted model behind an OpenAI-compatible ``/v1/chat/completions`` on 127.0.0.1.

The common part of the per-family servers (``scripted_qwen.py``, ``scripted_uitars.py``, …): HTTP, SSE
streaming like vLLM and llama.cpp's server, the refusal of off-format requests (HTTP 400 with the reason,
as a real engine answers a malformed request), and the helpers a scripted model uses to *look* at the
screenshot it was sent. A family module supplies one function, ``answer(body) -> Answer``, which checks
the request against that family's published layout and raises :class:`Refusal` when it is off format.

Every request body and every refusal is kept (``server.requests``, ``server.refusals``) so a test can
show what went over the wire.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "RGB",
    "Answer",
    "ClickOn",
    "Finish",
    "PlanStep",
    "Refusal",
    "ScriptedServer",
    "ToolCall",
    "TypeText",
    "check_fields",
    "color_center",
    "decode_image_part",
    "png_data_url",
    "scripted_server",
    "text_of",
]

RGB = npt.NDArray[np.uint8]


class Refusal(Exception):
    """The request is off the family's published format; ``str()`` is the reason sent back."""


@dataclass(frozen=True)
class ToolCall:
    """An OpenAI tool call as an engine's tool parser returns it (``arguments`` is a JSON *string*)."""

    name: str
    arguments: str


@dataclass(frozen=True)
class Answer:
    """What the scripted model says: ``content`` and/or ``tool_calls`` (and optional reasoning)."""

    content: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None


@dataclass(frozen=True)
class ClickOn:
    """Click the widget painted ``color`` (found in the screenshot's pixels, never at a known place)."""

    color: str
    what: str = "the button"


@dataclass(frozen=True)
class TypeText:
    text: str


@dataclass(frozen=True)
class Finish:
    answer: str = "done"


PlanStep = ClickOn | TypeText | Finish
"""What a scripted model does at each step of its task, in family-neutral terms; the family server says it
in its own syntax. The step number comes from the request's history, as a real model reads it."""


@dataclass
class ScriptedServer:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)


def text_of(content: object) -> str | None:
    """A message's text if it is text only (a string, or a list of text parts), else None."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "".join(str(p.get("text", "")) for p in content)
    return None


def decode_image_part(part: dict[str, Any]) -> RGB:
    """The RGB pixels of an OpenAI ``image_url`` part carrying a base64 PNG/JPEG data URL.

    Raises:
        Refusal: not an image part, not a data URL, or not a decodable image.
    """
    if part.get("type") != "image_url" or not isinstance(part.get("image_url"), dict):
        raise Refusal(f"expected an image_url part, got {str(part)[:80]}")
    url = str(part["image_url"].get("url", ""))
    head, _, data = url.partition(",")
    if not head.startswith("data:image/") or not head.endswith(";base64"):
        raise Refusal(f"images must be base64 data URLs, got {url[:40]!r}")
    try:
        raw = np.frombuffer(base64.b64decode(data, validate=True), np.uint8)
    except ValueError as exc:
        raise Refusal(f"the image's base64 does not decode: {exc}") from exc
    bgr = cv2.imdecode(raw, cv2.IMREAD_COLOR)
    if bgr is None:
        raise Refusal("the image data is not a PNG/JPEG the server can read")
    return np.ascontiguousarray(bgr[:, :, ::-1])


PNG_URL = "data:image/png;base64,"


def check_fields(body: dict[str, Any], allowed: set[str], *, error: type[Exception] = Refusal) -> None:
    """Refuse body fields outside ``allowed`` (what the family's published client sends)."""
    unknown = set(body) - allowed
    if unknown:
        raise error(f"fields the format's client never sends: {sorted(unknown)}")


def png_data_url(url: object, what: str = "an image", *, error: type[Exception] = Refusal) -> RGB:
    """The RGB pixels of a ``data:image/png;base64,`` URL (the PNG signature checked), else ``error``."""
    if not isinstance(url, str) or not url.startswith(PNG_URL):
        raise error(f"{what} must be a PNG data URL (data:image/png;base64,...)")
    try:
        data = base64.b64decode(url[len(PNG_URL) :], validate=True)
    except ValueError as exc:
        raise error(f"{what}'s base64 does not decode") from exc
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise error(f"{what} is not a PNG")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise error(f"{what} PNG does not decode")
    return np.ascontiguousarray(image[:, :, ::-1])


def color_center(pixels: RGB, color: str, *, tolerance: int = 8, min_pixels: int = 16) -> tuple[float, float] | None:
    """The centre (pixel-centre convention, image pixels) of where ``color`` (``#rrggbb``) shows, or None.

    What a scripted model "sees": the median of the matching pixels, so a thin border elsewhere in the
    same colour does not pull the point off the widget.
    """
    target = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], np.int16)
    match = np.all(np.abs(pixels.astype(np.int16) - target) <= tolerance, axis=2)
    ys, xs = np.nonzero(match)
    if len(xs) < min_pixels:
        return None
    return float(np.median(xs)) + 0.5, float(np.median(ys)) + 0.5


def _sse(handler: BaseHTTPRequestHandler, answer: Answer, body: dict[str, Any]) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Cache-Control", "no-cache")
    handler.end_headers()
    created = int(time.time())

    def send(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> None:
        event = {
            "id": "chatcmpl-scripted",
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        handler.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
        handler.wfile.flush()

    send({"role": "assistant", "content": None})
    if answer.reasoning:
        send({"reasoning_content": answer.reasoning})
    if answer.content:
        # in a few pieces, as a real stream arrives (a split may fall inside a tag)
        text = answer.content
        cut = [0, len(text) // 3, 2 * len(text) // 3, len(text)]
        for a, b in itertools.pairwise(cut):
            if b > a:
                send({"content": text[a:b]})
    for index, call in enumerate(answer.tool_calls):
        head = {"index": index, "id": f"call_{index}", "type": "function", "function": {"name": call.name}}
        send({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
        half = len(call.arguments) // 2
        for piece in (call.arguments[:half], call.arguments[half:]):
            send({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    send({}, "tool_calls" if answer.tool_calls else "stop")
    usage = {"prompt_tokens": 1000, "completion_tokens": 20, "total_tokens": 1020}
    event = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "choices": [], "usage": usage}
    handler.wfile.write(f"data: {json.dumps(event)}\n\ndata: [DONE]\n\n".encode())
    handler.wfile.flush()


def _json_reply(handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
    data = json.dumps(payload, ensure_ascii=False).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _completion(answer: Answer, body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.content}
    if answer.reasoning:
        message["reasoning_content"] = answer.reasoning
    if answer.tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for i, c in enumerate(answer.tool_calls)
        ]
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "scripted"),
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if answer.tool_calls else "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 20, "total_tokens": 1020},
    }


@contextmanager
def scripted_server(answer: Callable[[dict[str, Any]], Answer]) -> Iterator[ScriptedServer]:
    """Serve ``answer`` at ``server.url`` (the root to pass as ``--remote``) until the block ends."""
    lock = threading.Lock()
    state: ScriptedServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_POST(self) -> None:
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                _json_reply(self, 404, {"error": {"message": f"no route {self.path}", "code": 404}})
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length))
                if not isinstance(body, dict):
                    raise Refusal("the request body must be a JSON object")
                with lock:
                    state.requests.append(body)
                result = answer(body)
            except (Refusal, json.JSONDecodeError) as exc:
                reason = str(exc)
                with lock:
                    state.refusals.append(reason)
                _json_reply(self, 400, {"error": {"message": reason, "type": "invalid_request_error", "code": 400}})
                return
            with lock:
                state.answers.append(result)
            if body.get("stream"):
                _sse(self, result, body)
            else:
                _json_reply(self, 200, _completion(result, body))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = ScriptedServer(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, name="scripted-model", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
