"""``omnidesk mcp`` with the person's limits: a caller may only tighten them, and an action that needs the
person's yes is refused and named in the result (nobody is there to ask over MCP).

The engine is a scripted OpenAI-compatible server on loopback that answers in the Nemotron computer-use
format and refuses requests that are not streamed chat completions with the screenshot in the last user
turn (what ``runtime/remote.py`` must send).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.app.cli_helpers import OMNIDESK, isolated_env

pytestmark = [pytest.mark.desktop]


def code(call: str) -> str:
    return f"I act.\n## Action:\nact\n## Code:\n```python\n{call}\n```"


DONE = code("computer.terminate(status='success', answer='ok')")


class ScriptedEngine(ThreadingHTTPServer):
    """Replies with ``replies`` in turn (the last one forever); ``problems`` lists requests it refused."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replies = replies
        self.requests = 0
        self.problems: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


def _problem(body: dict[str, Any]) -> str | None:
    messages = body.get("messages")
    if body.get("stream") is not True or not isinstance(messages, list) or not messages:
        return "not a streamed chat completion"
    if any(m.get("role") not in {"system", "user", "assistant"} for m in messages):
        return "a message with an unknown role"
    last = messages[-1]
    parts = last.get("content") if last.get("role") == "user" else None
    if not isinstance(parts, list) or not any(
        p.get("type") == "image_url" and str(p["image_url"]["url"]).startswith("data:image/png;base64,") for p in parts
    ):
        return "no screenshot in the last user turn"
    return None


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedEngine

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        problem = _problem(body) if self.path.endswith("/chat/completions") else f"unknown path {self.path}"
        if problem is not None:
            self.server.problems.append(problem)
            self.send_response(400)
            self.end_headers()
            self.wfile.write(json.dumps({"error": {"message": problem}}).encode())
            return
        reply = self.server.replies[min(self.server.requests, len(self.server.replies) - 1)]
        self.server.requests += 1
        events = [
            {"choices": [{"delta": {"content": reply}, "finish_reason": None}]},
            {"choices": [{"delta": {}, "finish_reason": "stop"}]},
            {"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 20}},
        ]
        data = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(data.encode())))
        self.end_headers()
        self.wfile.write(data.encode())


def engine(replies: list[str]) -> Iterator[ScriptedEngine]:
    server = ScriptedEngine(replies)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def call(server: ScriptedEngine, tmp_path: Path, arguments: list[dict[str, Any]], **env: str) -> list[Any]:
    params = StdioServerParameters(
        command=str(OMNIDESK),
        args=["mcp", "--remote", server.url],
        env=isolated_env(tmp_path, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", **env),
    )

    async def session() -> list[Any]:
        async with Client(params) as client:
            return [await client.call_tool("run_task", args) for args in arguments]

    return anyio.run(session)


def payload(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    content = result.structured_content
    return dict(content.get("result", content))


def test_a_caller_may_only_tighten_the_persons_limits(x_display: object, tmp_path: Path) -> None:
    for server in engine([code("computer.wait(seconds=0.1)")]):
        too_many, off, tightened = call(
            server,
            tmp_path,
            [
                {"task": "wait", "max_steps": 5000},
                {"task": "wait", "dry_run": False},
                {"task": "wait", "max_steps": 2, "dry_run": True},
            ],
            OMNIDESK_SAFETY__DRY_RUN="true",
            OMNIDESK_SAFETY__MAX_STEPS="30",
        )
        assert server.problems == []
    assert too_many.is_error and "above the person's limit of 30" in too_many.content[0].text
    assert off.is_error and "only the person can switch it off" in off.content[0].text
    run = payload(tightened)
    assert run["max_steps"] == 2 and run["dry_run"] is True
    assert [line.split(":")[0] for line in run["steps"]] == ["1. planned", "2. planned", "3. stopped"]


def test_an_action_that_needs_a_yes_is_refused_and_named(x_display: object, tmp_path: Path) -> None:
    for server in engine([code("pyautogui.write('ls\\n')"), code("pyautogui.hotkey('ctrl', 'alt', 't')"), DONE]):
        (result,) = call(server, tmp_path, [{"task": "list the files"}])
        assert server.problems == []
    run = payload(result)
    assert run["done"] is True
    assert [line.split(":")[0] for line in run["steps"]] == ["1. refused", "2. refused", "3. finished"]
    refused = run["refused_for_confirmation"]
    assert [(r["action"], r["rules"]) for r in refused] == [
        ("type 3 characters", ["line_break"]),
        ("press ctrl+alt+t", ["system_hotkey"]),
    ]
    assert "line break" in refused[0]["reason"]
