"""``omnidesk mcp``: Omnidesk as a Model Context Protocol server over stdio (the official ``mcp`` SDK).

Another agent (an IDE assistant, a chat client) can hand desktop tasks to Omnidesk: ``run_task`` runs
the local agent to the end and returns what happened; ``list_monitors`` says which screens there are.
Risky actions that need a person's confirmation are refused (there is no one to ask over stdio), and
every run leaves a trajectory bundle like ``omnidesk run``.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import typer

from omnidesk.app.cli_options import (
    MmprojOption,
    ModelOption,
    ModelOptions,
    ProfileOption,
    RemoteOption,
    get_context,
)

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from omnidesk.agent.ports import ModelClient
    from omnidesk.app.settings import AppPaths, Settings

__all__ = ["build_server", "register"]

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Omnidesk operates this computer's desktop with a local vision model: it looks at the screen and uses "
    "the mouse and keyboard. Give run_task one concrete task at a time (e.g. 'open Settings and turn on "
    "dark mode'). It returns when the task is done, failed, or a limit was reached."
)


class _Agents:
    """Builds the model once (on the first task) and one agent session per task; one task at a time."""

    def __init__(self, settings: Settings, paths: AppPaths) -> None:
        self._settings = settings
        self._paths = paths
        self._model: ModelClient | None = None
        self._lock = threading.Lock()

    def _client(self) -> ModelClient:
        if self._model is None:
            from omnidesk.app.compose import build_model_client

            self._model = build_model_client(self._settings, self._paths)
        return self._model

    def run(self, task: str, max_steps: int, dry_run: bool, monitor: int | None) -> dict[str, Any]:
        from omnidesk.agent.loop import describe_action
        from omnidesk.agent.ports import CancelToken
        from omnidesk.agent.trajectory import TrajectoryWriter
        from omnidesk.app.commands.run import TerminalConfirmer, bundle_folder
        from omnidesk.app.compose import build_agent_session
        from omnidesk.runtime.png import CvPngEncoder

        with self._lock:
            client = self._client()
            session = build_agent_session(
                self._settings,
                model=client,
                confirmer=TerminalConfirmer(interactive=False),
                monitor=monitor,
                dry_run=dry_run,
                max_steps=max_steps,
                close_model=False,
            )
            folder = bundle_folder(self._paths.runs_dir, task)
            lines: list[str] = []
            last = None
            with session, TrajectoryWriter(folder, task, encoder=CvPngEncoder(), meta={"via": "mcp"}) as writer:
                for step in writer.consume(session.agent.run(task, CancelToken())):
                    last = step
                    what = describe_action(step.action) if step.action is not None else "-"
                    lines.append(f"{step.index + 1}. {step.status}: {what} {step.error or step.result}".strip())
        done = last is not None and last.status == "finished" and last.action is not None and last.action.kind == "done"
        answer = getattr(last.action, "answer", "") if last is not None and last.action is not None else ""
        return {
            "done": done,
            "status": "no steps" if last is None else last.status,
            "answer": answer,
            "steps": lines,
            "bundle": str(folder),
        }

    def close(self) -> None:
        if self._model is not None:
            self._model.close()
            self._model = None


def build_server(settings: Settings, paths: AppPaths) -> tuple[MCPServer, _Agents]:
    """The MCP server and the agent runner behind it (close the runner when the server ends)."""
    from mcp.server.mcpserver import MCPServer

    agents = _Agents(settings, paths)
    server = MCPServer(name="omnidesk", instructions=INSTRUCTIONS)

    @server.tool(description="Carry out one task on this computer's desktop with the mouse and keyboard.")
    def run_task(task: str, max_steps: int = 20, dry_run: bool = False, monitor: int | None = None) -> dict[str, Any]:
        return agents.run(task, max_steps, dry_run, monitor)

    @server.tool(description="The monitors Omnidesk can work on (index, name, geometry, primary).")
    def list_monitors() -> list[dict[str, Any]]:
        from omnidesk.runtime.capture import MssScreen

        return [
            {
                "index": m.index,
                "name": m.name,
                "x": m.geometry.x,
                "y": m.geometry.y,
                "width": m.geometry.width,
                "height": m.geometry.height,
                "primary": m.primary,
            }
            for m in MssScreen().monitors()
        ]

    return server, agents


def mcp(
    ctx: typer.Context,
    *,
    model: ModelOption = None,
    mmproj: MmprojOption = None,
    profile: ProfileOption = None,
    remote: RemoteOption = None,
) -> None:
    """Serve Omnidesk to other AI tools over MCP (stdio): tools run_task and list_monitors."""
    context = get_context(ctx)
    settings = ModelOptions(model=model, mmproj=mmproj, profile=profile, remote=remote).apply(context.settings)
    server, agents = build_server(settings, context.paths)
    try:
        server.run("stdio")
    finally:
        agents.close()


def register(cli: typer.Typer) -> None:
    cli.command("mcp")(mcp)
