"""``omnidesk mcp`` over stdio with the official MCP client, on the real X server with the tiny llama.cpp
model: tools listed, tasks run with progress and stopped, masked screenshots, questions about the screen."""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path
from typing import Any

import anyio
import cv2
import numpy as np
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.app.cli_helpers import OMNIDESK, isolated_env
from tests.models.plugin import TinyModel
from tests.rig.plugin import Launcher

pytestmark = [pytest.mark.desktop, pytest.mark.model]
log = logging.getLogger(__name__)

TOOLS = {"run_task", "stop_task", "screenshot", "ask_screen", "list_monitors"}


def _payload(result: Any) -> Any:
    assert not result.is_error, result.content
    if getattr(result, "structured_content", None) is not None:
        content = result.structured_content
        return content.get("result", content) if isinstance(content, dict) else content
    return json.loads(result.content[0].text)


def _png(result: Any) -> np.ndarray:
    """The BGR pixels of a tool's PNG image result."""
    assert not result.is_error, result.content
    image = result.content[0]
    assert image.type == "image" and image.mime_type == "image/png"
    pixels = cv2.imdecode(np.frombuffer(base64.b64decode(image.data), np.uint8), cv2.IMREAD_COLOR)
    assert pixels is not None
    return pixels


def _server(tiny: TinyModel, tmp_path: Path, **env: str) -> StdioServerParameters:
    assert tiny.mmproj is not None
    return StdioServerParameters(
        command=str(OMNIDESK),
        args=["mcp", "--model", str(tiny.model), "--mmproj", str(tiny.mmproj)],
        env=isolated_env(tmp_path, **env),
    )


def test_mcp_server_runs_a_task_with_progress(tiny_omni: TinyModel, target_app: Launcher, tmp_path: Path) -> None:
    target_app()
    reports: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.append((progress, total, message))

    async def session() -> tuple[list[str], Any, Any]:
        async with Client(_server(tiny_omni, tmp_path)) as client:
            tools = await client.list_tools()
            monitors = await client.call_tool("list_monitors", {})
            run = await client.call_tool(
                "run_task", {"task": "press OK", "max_steps": 1}, progress_callback=on_progress
            )
            return [t.name for t in tools.tools], _payload(monitors), _payload(run)

    names, monitors, run = anyio.run(session)
    assert set(names) >= TOOLS
    assert monitors[0]["width"] == 1920 and monitors[0]["height"] == 1080
    assert run["done"] is False and run["status"] == "stopped" and run["stopped_by_request"] is False
    assert run["steps"][0].startswith("1. model_error") and len(run["steps"]) == 2
    assert (Path(run["bundle"]) / "run.json").is_file()
    assert reports == [(1.0, 1.0, run["steps"][0]), (2.0, 1.0, run["steps"][1])]


def test_stop_task_ends_a_long_run(tiny_omni: TinyModel, x_display: object, tmp_path: Path) -> None:
    """A run that would go on for 1000 steps (every output unparsable, retries allowed) is stopped."""
    going = anyio.Event()
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")
        if len(messages) >= 5:  # past the default model_error_retries: only a stop ends it now
            going.set()

    async def session() -> tuple[Any, Any, Any, float]:
        env = {  # the person's limits: a caller may only lower them
            "OMNIDESK_SAFETY__MODEL_ERROR_RETRIES": "1000",
            "OMNIDESK_SAFETY__MAX_SECONDS": "600",
            "OMNIDESK_SAFETY__MAX_STEPS": "1000",
        }
        async with Client(_server(tiny_omni, tmp_path, **env)) as client:
            idle_stop = await client.call_tool("stop_task", {})
            result: dict[str, Any] = {}

            async def run() -> None:
                result["run"] = await client.call_tool(
                    "run_task",
                    {"task": "keep going", "max_steps": 1000, "dry_run": True},
                    progress_callback=on_progress,
                )
                result["ended"] = time.monotonic()

            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                with anyio.fail_after(120):
                    await going.wait()
                busy = await client.call_tool("ask_screen", {"question": "what is here?"})
                started = time.monotonic()
                stop = await client.call_tool("stop_task", {})
            return _payload(idle_stop), (busy, _payload(stop)), _payload(result["run"]), result["ended"] - started

    idle_stop, (busy, stop), run, seconds = anyio.run(session)
    log.info("stop_task → run_task returned in %.3f s after %d steps", seconds, len(run["steps"]))
    assert idle_stop["stopping"] is False
    assert busy.is_error and "busy" in busy.content[0].text
    assert stop["stopping"] is True
    assert run["status"] == "stopped" and run["stopped_by_request"] is True and run["done"] is False
    assert 5 < len(run["steps"]) < 1000 and messages == run["steps"]
    assert seconds <= 1.0


def test_screenshot_is_masked_and_ask_screen_answers(
    tiny_omni: TinyModel, x_display: object, window_manager: object, target_app: Launcher, tmp_path: Path
) -> None:
    secret = target_app(x=100, y=100, width=600, height=400, title="KeePassXC - Passwords")
    normal = target_app(x=900, y=300, width=600, height=400, title="Notes")

    async def session() -> tuple[Any, Any]:
        async with Client(_server(tiny_omni, tmp_path)) as client:
            shot = await client.call_tool("screenshot", {"monitor": 1})
            answer = await client.call_tool("ask_screen", {"question": "Which windows are open?", "max_tokens": 8})
            return shot, _payload(answer)

    shot, answer = anyio.run(session)
    pixels = _png(shot)
    assert pixels.shape == (1080, 1920, 3)

    def black(rect: tuple[int, int, int, int]) -> float:
        x, y, w, h = rect
        return float((pixels[y : y + h, x : x + w] == 0).all(axis=2).mean())

    assert black(secret.widget_rect("window")) == 1.0
    assert black(normal.widget_rect("window")) < 0.05
    assert isinstance(answer["answer"], str) and answer["completion_tokens"] >= 1
    assert answer["images"] == 1 and answer["monitor"] == 1


def test_run_task_is_refused_while_another_omnidesk_works(
    tiny_omni: TinyModel, x_display: object, tmp_path: Path
) -> None:
    from omnidesk.app.instance import InstanceLock

    async def session() -> Any:
        async with Client(_server(tiny_omni, tmp_path)) as client:
            return await client.call_tool("run_task", {"task": "press OK", "max_steps": 1})

    with InstanceLock(tmp_path / "run"):  # the runtime dir of isolated_env: as if the GUI were running
        run = anyio.run(session)
    assert run.is_error and "already running" in run.content[0].text


def test_screenshot_of_the_second_monitor(
    tiny_omni: TinyModel, dual_monitor_display: object, target_app: Launcher, tmp_path: Path
) -> None:
    app = target_app(x=100, y=100, width=600, height=400, screen="DUMMY1")

    async def session() -> tuple[Any, Any]:
        async with Client(_server(tiny_omni, tmp_path)) as client:
            return await client.call_tool("screenshot", {"monitor": 2}), await client.call_tool(
                "screenshot", {"monitor": 3}
            )

    shot, missing = anyio.run(session)
    pixels = _png(shot)
    assert pixels.shape == (1024, 1280, 3)
    x, y, w, h = app.widget_rect("ok_button")  # desktop coordinates; the monitor starts at x = 1920
    ok = pixels[y + h // 2, x - 1920 + w // 2][::-1]
    assert tuple(int(v) for v in ok) == tuple(int(app.ready["colors"]["ok_button"][i : i + 2], 16) for i in (1, 3, 5))
    assert missing.is_error and "no monitor 3" in missing.content[0].text


def test_an_unconfirmed_remote_engine_never_gets_the_screen(x_display: object, tmp_path: Path) -> None:
    """Over MCP there is no one to ask: a remote engine off this machine is refused before any request."""
    params = StdioServerParameters(
        command=str(OMNIDESK), args=["mcp", "--remote", "http://192.0.2.7:8080/v1"], env=isolated_env(tmp_path)
    )

    async def session() -> Any:
        async with Client(params) as client:
            return await client.call_tool("ask_screen", {"question": "what is on the screen?"})

    answer = anyio.run(session)
    assert answer.is_error and "without your consent" in answer.content[0].text
