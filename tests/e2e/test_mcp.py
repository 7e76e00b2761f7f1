"""``omnidesk mcp`` over stdio with the official MCP client: tools listed, a task run on the real screen
with the tiny llama.cpp model, monitors reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.app.cli_helpers import OMNIDESK, isolated_env
from tests.models.plugin import TinyModel
from tests.rig.plugin import Launcher

pytestmark = [pytest.mark.desktop, pytest.mark.model]


def _payload(result: Any) -> Any:
    if getattr(result, "structured_content", None) is not None:
        content = result.structured_content
        return content.get("result", content) if isinstance(content, dict) else content
    return json.loads(result.content[0].text)


def test_mcp_server_runs_a_task(tiny_omni: TinyModel, target_app: Launcher, tmp_path: Path) -> None:
    assert tiny_omni.mmproj is not None
    target_app()
    env = isolated_env(tmp_path)
    params = StdioServerParameters(
        command=str(OMNIDESK),
        args=["mcp", "--model", str(tiny_omni.model), "--mmproj", str(tiny_omni.mmproj)],
        env=env,
    )

    async def session() -> tuple[list[str], Any, Any]:
        async with Client(params) as client:
            tools = await client.list_tools()
            monitors = await client.call_tool("list_monitors", {})
            run = await client.call_tool("run_task", {"task": "press OK", "max_steps": 1})
            return [t.name for t in tools.tools], _payload(monitors), _payload(run)

    names, monitors, run = anyio.run(session)
    assert {"run_task", "list_monitors"} <= set(names)
    assert monitors[0]["width"] == 1920 and monitors[0]["height"] == 1080
    assert run["done"] is False and run["status"] == "stopped"
    assert run["steps"][0].startswith("1. model_error") and len(run["steps"]) == 2
    assert (Path(run["bundle"]) / "run.json").is_file()
