"""``omnidesk doctor``: is this machine ready for the configured mode?"""

from __future__ import annotations

import json
import os

import typer

from omnidesk.app.cli_options import JsonOption, get_context
from omnidesk.app.doctor import Check, as_json, exit_code, render, run_checks
from omnidesk.app.settings import AppPaths, Settings

__all__ = ["register"]


def doctor(ctx: typer.Context, as_json_output: JsonOption = False) -> None:
    """Check Python, packages, GPU, display, input, microphone, accessibility and the model; exit 0 when ready."""
    context = get_context(ctx)
    from omnidesk.app.compose import accessibility_status, list_monitors
    from omnidesk.app.doctor_model import model_checks

    settings = context.settings

    def model_lines(current: Settings, paths: AppPaths) -> list[Check]:
        return model_checks(current, paths, screen=_screen(current))

    checks = run_checks(
        settings,
        context.paths,
        os.environ,
        monitors=lambda: list_monitors(settings),
        model_checks=model_lines,
        accessibility=lambda: accessibility_status(settings),
    )
    if as_json_output:
        typer.echo(json.dumps({"ok": exit_code(checks) == 0, "checks": as_json(checks)}, indent=2))
    else:
        typer.echo(render(checks))
    raise typer.Exit(exit_code(checks))


def _screen(settings: Settings) -> tuple[int, int] | None:
    """The size of the monitor the agent looks at (for screenshot token counts), if a display is there."""
    from omnidesk.agent.errors import OmnideskError
    from omnidesk.app.compose import list_monitors

    try:
        monitors = list_monitors(settings)
    except OmnideskError:
        return None
    primary = next((m for m in monitors if m.primary), monitors[0] if monitors else None)
    return (primary.geometry.width, primary.geometry.height) if primary else None


def register(cli: typer.Typer) -> None:
    cli.command("doctor")(doctor)
