"""``omnidesk run "task"``: carry out a task on this desktop from the command line.

Each step prints one line (or one JSON object with ``--json``); every run leaves a trajectory bundle
(``steps.jsonl``, ``run.json``, PNGs of what the model saw) in the data dir's ``runs/`` folder. Ctrl+C
stops the run: the generation in flight is aborted and held keys and buttons are released.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from omnidesk.agent.actions import Done
from omnidesk.agent.ports import CancelToken, Step
from omnidesk.app.cli_options import (
    JsonOption,
    MmprojOption,
    ModelOption,
    ModelOptions,
    MonitorOption,
    ProfileOption,
    RemoteOption,
    get_context,
    terminal_consent,
)
from omnidesk.app.instance import InstanceLock
from omnidesk.app.terminal import TerminalConfirmer, step_line, stop_on_interrupt

__all__ = ["register"]


def _json(step: Step, png: str | None) -> dict[str, Any]:
    from omnidesk.agent.trajectory import step_record

    return step_record(step, png)


def run(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="What to do, in plain words.")],
    *,
    monitor: MonitorOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan and show actions, never carry them out.")] = False,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1, help="Stop after this many steps.")] = None,
    trajectory: Annotated[
        Path | None, typer.Option("--trajectory", help="Folder for the run's bundle (default: data dir runs/).")
    ] = None,
    model: ModelOption = None,
    mmproj: MmprojOption = None,
    profile: ProfileOption = None,
    remote: RemoteOption = None,
    as_json: JsonOption = False,
) -> None:
    """Carry out TASK with the mouse and keyboard; exit 0 when the model reports it done."""
    context = get_context(ctx)
    from omnidesk.app.compose import build_agent_session, build_model_client, build_png_encoder, choose_platform
    from omnidesk.app.recorded_run import RecordedRun

    choose_platform(os.environ)  # before loading a model: say at once when there is no screen to work on
    # One Omnidesk at a time: never a second model or a second hand on the mouse (held until exit).
    InstanceLock(context.paths.runtime_dir).acquire()
    options = ModelOptions(model=model, mmproj=mmproj, profile=profile, remote=remote)
    settings = options.apply(context.settings)
    client = build_model_client(settings, context.paths, consent=terminal_consent())
    session = build_agent_session(
        settings,
        model=client,
        confirmer=TerminalConfirmer(),
        monitor=monitor,
        dry_run=dry_run or None,
        max_steps=max_steps,
    )
    recorded = RecordedRun.create(
        session,
        task,
        runs_dir=context.paths.runs_dir,
        folder=trajectory,
        encoder=build_png_encoder(),
        dry_run=dry_run,
        via="cli",
    )
    cancel = CancelToken()
    last: Step | None = None
    with stop_on_interrupt(cancel):
        if not as_json:
            where = f"monitor {session.monitor.index} ({session.monitor.name})"
            typer.echo(f"running on {where}; bundle: {recorded.folder}", err=True)
        for step in recorded.steps(cancel):
            last = step
            if as_json:
                png = f"step-{step.index:04d}.png" if step.observation is not None else None
                typer.echo(json.dumps(_json(step, png), ensure_ascii=False))
            else:
                typer.echo(step_line(step))
    succeeded = last is not None and last.status == "finished" and isinstance(last.final, Done)
    if as_json:
        typer.echo(
            json.dumps(
                {"done": succeeded, "bundle": str(recorded.folder), "steps": 0 if last is None else last.index + 1}
            )
        )
    raise typer.Exit(0 if succeeded else 1)


def register(cli: typer.Typer) -> None:
    cli.command("run")(run)
