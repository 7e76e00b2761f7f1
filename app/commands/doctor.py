"""``omnidesk doctor``: is this machine ready for the configured mode?"""

from __future__ import annotations

import json
import os

import typer

from omnidesk.app.cli_options import JsonOption, get_context
from omnidesk.app.doctor import as_json, exit_code, render, run_checks

__all__ = ["register"]


def doctor(ctx: typer.Context, as_json_output: JsonOption = False) -> None:
    """Check Python, packages, GPU, display, input, microphone and the model; exit 0 when ready."""
    context = get_context(ctx)
    from omnidesk.app.compose import list_monitors
    from omnidesk.app.doctor_model import model_checks

    settings = context.settings
    checks = run_checks(
        settings, context.paths, os.environ, monitors=lambda: list_monitors(settings), model_checks=model_checks
    )
    if as_json_output:
        typer.echo(json.dumps({"ok": exit_code(checks) == 0, "checks": as_json(checks)}, indent=2))
    else:
        typer.echo(render(checks))
    raise typer.Exit(exit_code(checks))


def register(cli: typer.Typer) -> None:
    cli.command("doctor")(doctor)
