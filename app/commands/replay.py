"""``omnidesk replay BUNDLE``: do a recorded run again without the model.

The engine is :mod:`omnidesk.agent.replay` (each target found again on the current screen; a target that
is gone or ambiguous stops the replay instead of clicking elsewhere; the safety rules apply as in a run),
wired to this desktop by :func:`omnidesk.app.compose.build_replay_session`. This module only handles the
arguments and prints one line (or JSON object) per step; Ctrl+C stops the replay.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from omnidesk.agent.ports import CancelToken, Step
from omnidesk.app.cli_options import JsonOption, MonitorOption, get_context

__all__ = ["register"]


def replay(
    ctx: typer.Context,
    bundle: Annotated[Path, typer.Argument(help="A run's bundle folder (see `omnidesk run`).")],
    *,
    monitor: MonitorOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Find every target, act on none.")] = False,
    min_score: Annotated[float, typer.Option("--min-score", min=0.1, max=1.0, help="Template match needed.")] = 0.8,
    as_json: JsonOption = False,
) -> None:
    """Repeat a recorded run's actions, finding each target again on the current screen."""
    from omnidesk.agent.replay import load_replay
    from omnidesk.agent.trajectory import step_record
    from omnidesk.app.compose import build_replay_session
    from omnidesk.app.instance import InstanceLock
    from omnidesk.app.terminal import TerminalConfirmer, step_line, stop_on_interrupt

    context = get_context(ctx)
    settings = context.settings
    script = load_replay(bundle)
    # One Omnidesk at a time, as for `omnidesk run`: never a second hand on the mouse (held until exit).
    InstanceLock(context.paths.runtime_dir).acquire()
    cancel = CancelToken()
    last: Step | None = None
    session = build_replay_session(settings, confirmer=TerminalConfirmer(), dry_run=dry_run, min_score=min_score)
    with session, stop_on_interrupt(cancel):
        for step in session.replayer.run(script, cancel, monitor=monitor):
            last = step
            typer.echo(json.dumps(step_record(step, None), ensure_ascii=False) if as_json else step_line(step))
    replayed = 0 if last is None else last.index
    typer.echo(f"replayed {replayed} of {len(script.steps)} steps", err=True)
    raise typer.Exit(0 if last is not None and last.status == "finished" else 1)


def register(cli: typer.Typer) -> None:
    cli.command("replay")(replay)
