"""The ``omnidesk`` command line: global options, error handling, and the sub-command registry.

Every sub-command lives in :mod:`omnidesk.app.commands` and exposes ``register(cli)``. Errors become one
line on stderr and an exit code (2 for usage and configuration problems, 1 for other failures); ``-v``
adds the traceback.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Annotated

import typer

from omnidesk.agent.errors import AlreadyRunningError, ConfigError, OmnideskError
from omnidesk.app import __version__
from omnidesk.app.cli_options import CliContext, get_context
from omnidesk.app.commands import ask as ask_command
from omnidesk.app.commands import calibrate as calibrate_command
from omnidesk.app.commands import config as config_command
from omnidesk.app.commands import doctor as doctor_command
from omnidesk.app.commands import eval as eval_command
from omnidesk.app.commands import evs as evs_command
from omnidesk.app.commands import mcp as mcp_command
from omnidesk.app.commands import models as models_command
from omnidesk.app.commands import record as record_command
from omnidesk.app.commands import replay as replay_command
from omnidesk.app.commands import report as report_command
from omnidesk.app.commands import run as run_command
from omnidesk.app.commands import secrets as secrets_command
from omnidesk.app.commands import teach as teach_command
from omnidesk.app.instance import InstanceLock
from omnidesk.app.instance_socket import knock, socket_path
from omnidesk.app.logging_setup import setup_logging
from omnidesk.app.settings import AppPaths

__all__ = ["cli", "main"]

log = logging.getLogger(__name__)

cli = typer.Typer(
    name="omnidesk",
    help="Omnidesk: a private desktop agent that sees your screen and works your mouse and keyboard.\n\n"
    "Run without a command to open the desktop app.",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

for _module in (ask_command, config_command, doctor_command, models_command, run_command):
    _module.register(cli)
record_command.register(cli)
evs_command.register(cli)
report_command.register(cli)
mcp_command.register(cli)
replay_command.register(cli)
calibrate_command.register(cli)
secrets_command.register(cli)
eval_command.register(cli)
teach_command.register(cli)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"omnidesk {__version__}")
        raise typer.Exit()


@cli.callback(invoke_without_command=True)
def _main_callback(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Debug logging and tracebacks.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    paths = AppPaths.from_environment()
    ctx.obj = CliContext(paths=paths, verbose=verbose)
    paths.make_private()
    setup_logging(paths.log_file, verbose=verbose)
    if ctx.invoked_subcommand is None:
        raise typer.Exit(_open_desktop_app(get_context(ctx)))


def _open_desktop_app(context: CliContext) -> int:
    """Open the GUI after checking for a usable display (Qt would abort the process without one)."""
    from omnidesk.app.compose import choose_platform

    choose_platform(os.environ)
    try:
        from omnidesk.app.gui.app import run_gui
    except ImportError as exc:
        typer.echo(
            f"The desktop app cannot start: {exc}. Run `omnidesk doctor` to see what is missing, "
            "or `omnidesk --help` for the command-line tools.",
            err=True,
        )
        return 1
    lock = InstanceLock(context.paths.runtime_dir)
    socket = socket_path(context.paths.runtime_dir)
    try:
        lock.acquire()
    except AlreadyRunningError:
        if knock(socket):
            typer.echo("Omnidesk is already running: its window was brought forward.")
            return 0
        raise
    try:
        return run_gui(context.settings, context.paths, instance_socket=socket)
    finally:
        lock.release()


def _wants_traceback(argv: list[str]) -> bool:
    return any(arg in ("-v", "--verbose") for arg in argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``omnidesk`` console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(cli)
    try:
        result = command.main(args=args, prog_name="omnidesk", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        return 130
    except typer.TyperException as exc:  # click's usage and parameter errors
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        typer.echo(f"omnidesk: {message} (see 'omnidesk --help')", err=True)
        return int(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        return 130
    except OmnideskError as exc:
        if _wants_traceback(args):
            traceback.print_exc()
        typer.echo(f"omnidesk: {exc}", err=True)
        return 2 if isinstance(exc, ConfigError) else 1
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
