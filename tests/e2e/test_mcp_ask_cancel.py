"""MCP ``ask_screen`` can be stopped (issue 14, finding 9): by ``stop_task``, or by the client cancelling the
call (the SDK sends ``notifications/cancelled``) — the question's request to the engine ends at once.

The server is ``omnidesk mcp --remote URL`` on the rig's X server; the engine on loopback takes the
question and then says nothing.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.app.cli_helpers import OMNIDESK, isolated_env
from tests.rig.plugin import Launcher
from tests.runtime.hostile_engine import Connection, Engine, Request, hostile_engine, sse, sse_headers

pytestmark = pytest.mark.desktop


def _payload(result: Any) -> Any:
    assert not result.is_error, result.content
    content = result.structured_content
    return content.get("result", content) if isinstance(content, dict) else content


def _server(url: str, tmp_path: Path) -> StdioServerParameters:
    return StdioServerParameters(command=str(OMNIDESK), args=["mcp", "--remote", url], env=isolated_env(tmp_path))


def _stall_first(asked: threading.Event) -> Any:
    """The first question gets no answer at all; later ones a short one."""

    def behaviour(request: Request, conn: Connection) -> None:
        if not asked.is_set():
            asked.set()
            conn.hold()
            return
        conn.send(sse_headers() + sse({"choices": [{"delta": {"content": "a window"}, "finish_reason": "stop"}]}))

    return behaviour


async def _asked(asked: threading.Event) -> None:
    assert await anyio.to_thread.run_sync(asked.wait, 60)


async def _hung_up(engine: Engine) -> bool:
    return await anyio.to_thread.run_sync(engine.client_hung_up, 30.0)


def test_stop_task_stops_a_question_in_flight(target_app: Launcher, tmp_path: Path) -> None:
    target_app()
    asked = threading.Event()

    async def session(engine: Engine) -> tuple[Any, Any, Any, bool]:
        async with Client(_server(engine.url, tmp_path)) as client:
            results: dict[str, Any] = {}

            async def ask() -> None:
                results["ask"] = await client.call_tool("ask_screen", {"question": "what is open?"})

            async with anyio.create_task_group() as group:
                group.start_soon(ask)
                await _asked(asked)
                stop = await client.call_tool("stop_task", {})
            hung_up = await _hung_up(engine)
            for _ in range(100):  # the stopped question's worker lets go of the model just after the engine notices
                again = await client.call_tool("ask_screen", {"question": "and now?"})
                if not (again.is_error and "busy" in again.content[0].text):
                    break
                await anyio.sleep(0.05)
            return results["ask"], stop, again, hung_up

    with hostile_engine(_stall_first(asked)) as engine:
        ask, stop, again, hung_up = anyio.run(session, engine)
    assert _payload(stop)["stopping"] is True
    assert ask.is_error and "stopped" in ask.content[0].text
    assert hung_up
    assert _payload(again)["answer"] == "a window"


def test_a_cancelled_call_stops_the_question(target_app: Launcher, tmp_path: Path) -> None:
    target_app()
    asked = threading.Event()

    async def session(engine: Engine) -> bool:
        async with Client(_server(engine.url, tmp_path)) as client:
            async with anyio.create_task_group() as group:
                group.start_soon(client.call_tool, "ask_screen", {"question": "what is open?"})
                await _asked(asked)
                group.cancel_scope.cancel()  # the SDK tells the server with notifications/cancelled
            return await _hung_up(engine)

    with hostile_engine(_stall_first(asked)) as engine:
        assert anyio.run(session, engine)
