"""``omnidesk mcp``: Omnidesk as a Model Context Protocol server over stdio (the official ``mcp`` SDK).

Another agent (an IDE assistant, a chat client) can hand desktop tasks to Omnidesk: ``run_task`` runs
the local agent and streams its steps as progress, ``stop_task`` stops it, ``screenshot`` and
``ask_screen`` show a monitor or ask the model about it, ``list_monitors`` says which screens there are.
The server itself is in :mod:`omnidesk.app.commands.mcp_server`, imported only when it starts.
Risky actions that need a person's confirmation are refused (there is no one to ask over stdio), and
every run leaves a trajectory bundle like ``omnidesk run``.
"""

from __future__ import annotations

import logging

import typer

from omnidesk.app.cli_options import (
    MmprojOption,
    ModelOption,
    ModelOptions,
    ProfileOption,
    RemoteOption,
    get_context,
)

__all__ = ["register"]

log = logging.getLogger(__name__)


def mcp(
    ctx: typer.Context,
    *,
    model: ModelOption = None,
    mmproj: MmprojOption = None,
    profile: ProfileOption = None,
    remote: RemoteOption = None,
) -> None:
    """Serve Omnidesk to other AI tools over MCP (stdio): run_task, stop_task, screenshot, ask_screen."""
    from omnidesk.app.commands.mcp_server import build_server

    context = get_context(ctx)
    settings = ModelOptions(model=model, mmproj=mmproj, profile=profile, remote=remote).apply(context.settings)
    server, runner = build_server(settings, context.paths)
    try:
        server.run("stdio")
    finally:
        runner.close()


def register(cli: typer.Typer) -> None:
    cli.command("mcp")(mcp)
