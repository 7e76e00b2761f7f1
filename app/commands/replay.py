"""``omnidesk replay BUNDLE|NAME``: do a recorded run, or a saved replay automation, again without the model.

The engine is :mod:`omnidesk.agent.replay` (each target found again on the current screen; a target that
is gone or ambiguous stops the replay instead of clicking elsewhere; the safety rules apply as in a run),
wired to this desktop by :mod:`omnidesk.app.automation_run`. A taught automation keeps the model's
description of its task: when a target is gone, the configured model carries on from it (setting
``replay.model_fallback``, ``--no-fallback``), in a run recorded like ``omnidesk run``'s. This module only
handles the arguments and prints one line (or JSON object) per step; Ctrl+C stops the replay.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from omnidesk.agent.actions import Done
from omnidesk.agent.errors import ConfigError
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

if TYPE_CHECKING:
    from omnidesk.app.settings import AppPaths

__all__ = ["register", "saved_replay"]


def saved_replay(target: str, paths: AppPaths) -> tuple[Path, str]:
    """The bundle folder ``target`` names (a folder, or a saved replay automation's name) and the task
    description kept with it for a model fallback ("" when none).

    Raises:
        ConfigError: neither a folder nor a saved replay automation.
    """
    from omnidesk.app.gui.automation_store import AutomationStore

    store = AutomationStore(paths.automations_dir)
    folder = Path(target).expanduser()
    if folder.is_dir():
        resolved = folder.resolve()
        saved = next((a for a in store.list() if a.kind == "replay" and Path(a.bundle) == resolved), None)
        return folder, saved.description if saved is not None else ""
    automation = store.get(target)
    if automation is None:
        raise ConfigError(
            f"{target!r} is neither a run's bundle folder nor a saved automation (they are in {store.folder})"
        )
    if automation.kind != "replay":
        raise ConfigError(f"{target!r} is a task for the model, not a replay: omnidesk run {automation.task!r}")
    return Path(automation.bundle), automation.description


def replay(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(metavar="BUNDLE|NAME", help="A run's bundle folder, or a saved replay automation's name.")
    ],
    *,
    monitor: MonitorOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Find every target, act on none.")] = False,
    min_score: Annotated[float, typer.Option("--min-score", min=0.1, max=1.0, help="Template match needed.")] = 0.8,
    fallback: Annotated[
        bool | None,
        typer.Option(
            "--fallback/--no-fallback",
            help="When a taught automation's target is gone, let the model carry on from its description "
            "(default: setting replay.model_fallback).",
            show_default=False,
        ),
    ] = None,
    model: ModelOption = None,
    mmproj: MmprojOption = None,
    profile: ProfileOption = None,
    remote: RemoteOption = None,
    as_json: JsonOption = False,
) -> None:
    """Repeat a recorded run's actions, finding each target again on the current screen."""
    from omnidesk.agent.replay import load_replay
    from omnidesk.agent.replay_fallback import replay_with_fallback
    from omnidesk.agent.trajectory import step_record
    from omnidesk.app.automation_run import fallback_wanted, model_hand_over, replay_steps
    from omnidesk.app.compose import build_model_client
    from omnidesk.app.instance import InstanceLock
    from omnidesk.app.terminal import TerminalConfirmer, step_line, stop_on_interrupt

    context = get_context(ctx)
    settings = ModelOptions(model=model, mmproj=mmproj, profile=profile, remote=remote).apply(context.settings)
    bundle, description = saved_replay(target, context.paths)
    script = load_replay(bundle)
    # One Omnidesk at a time, as for `omnidesk run`: never a second hand on the mouse (held until exit).
    InstanceLock(context.paths.runtime_dir).acquire()
    cancel = CancelToken()
    confirmer = TerminalConfirmer()
    handed: list[Path] = []
    hand_over = None
    if fallback_wanted(settings, description, override=fallback):
        hand_over = model_hand_over(
            settings,
            model=lambda: build_model_client(settings, context.paths, consent=terminal_consent()),
            confirmer=confirmer,
            cancel=cancel,
            origin=bundle,
            monitor=monitor if monitor is not None else script.monitor,
            dry_run=dry_run,
            runs_dir=context.paths.runs_dir,
            via="cli",
            on_bundle=handed.append,
        )
    last: Step | None = None
    replayed = len(script.steps)
    steps = replay_steps(
        settings, script, cancel, confirmer=confirmer, monitor=monitor, dry_run=dry_run, min_score=min_score
    )
    with stop_on_interrupt(cancel):
        for step in replay_with_fallback(steps, script, description=description, hand_over=hand_over, now=time.time):
            if step.status == "handed_over":
                replayed = step.index
                typer.echo(
                    f"step {step.index + 1}'s target is not on the screen; the model carries on from the saved "
                    "description",
                    err=True,
                )
            last = step
            typer.echo(json.dumps(step_record(step, None), ensure_ascii=False) if as_json else step_line(step))
    if handed:
        typer.echo(f"replayed {replayed} of {len(script.steps)} steps; the model's run: {handed[0]}", err=True)
    else:
        typer.echo(f"replayed {0 if last is None else last.index} of {len(script.steps)} steps", err=True)
    raise typer.Exit(0 if last is not None and last.status == "finished" and isinstance(last.final, Done) else 1)


def register(cli: typer.Typer) -> None:
    cli.command("replay")(replay)
