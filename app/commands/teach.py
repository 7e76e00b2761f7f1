"""``omnidesk teach NAME``: show a task once, and it becomes a replay automation.

Records the monitor, the narration and the person's own clicks and keys (:mod:`omnidesk.app.teaching`)
until the teach hotkey, Ctrl+C or ``--seconds``; turns the input into replay steps with targets cut from
the frame before each click; prints the steps and asks before saving (``--yes`` saves without asking). The
automation is written only then, all of it or nothing; a session killed before leaves its recording (the
segments are crash-safe) and no automation. Typed text is shown on the terminal only, never logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from omnidesk.agent.actions import Action, TypeText
from omnidesk.agent.errors import ConfigError, OmnideskError
from omnidesk.agent.ports import CancelToken
from omnidesk.app.cli_options import (
    MmprojOption,
    ModelOption,
    ModelOptions,
    MonitorOption,
    ProfileOption,
    RemoteOption,
    get_context,
    terminal_consent,
)
from omnidesk.app.terminal import stop_on_signals

if TYPE_CHECKING:
    from omnidesk.agent.geometry import MonitorInfo
    from omnidesk.app.settings import AppPaths, Settings
    from omnidesk.app.teaching.draft import TeachDraft

__all__ = ["register", "teach"]


def teach(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The automation's name (as the tray and hotkeys show it).")],
    *,
    monitor: MonitorOption = None,
    seconds: Annotated[float | None, typer.Option("--seconds", min=0.5, help="Stop after this long.")] = None,
    audio: Annotated[bool, typer.Option("--audio/--no-audio", help="Record your narration too.")] = True,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Save the steps without asking.")] = False,
    describe: Annotated[
        bool, typer.Option("--describe/--no-describe", help="Have the model write what the task is.")
    ] = True,
    model: ModelOption = None,
    mmproj: MmprojOption = None,
    profile: ProfileOption = None,
    remote: RemoteOption = None,
) -> None:
    """Show a task once (screen, voice, your clicks and keys); it is saved as an automation to replay."""
    from omnidesk.app.compose import build_png_encoder
    from omnidesk.app.gui.automation_store import AutomationStore
    from omnidesk.app.teaching.draft import build_draft
    from omnidesk.app.teaching.save import save_draft
    from omnidesk.app.teaching.session import record_demonstration, stop_combos, teach_folder

    context = get_context(ctx)
    settings, paths = context.settings, context.paths
    if not name.strip():
        raise ConfigError("give the automation a name: omnidesk teach NAME")
    folder = teach_folder(paths.recordings_dir, name)
    stop = CancelToken()

    def started(shown: MonitorInfo, with_audio: bool) -> None:
        voice = " and your narration" if with_audio else ""
        typer.echo(
            f"recording monitor {shown.index} ({shown.name}){voice} to {folder}; show the task, then press "
            f"{settings.hotkeys.teach} or Ctrl+C",
            err=True,
        )

    with stop_on_signals(stop):
        demo = record_demonstration(
            settings,
            folder,
            stop=stop,
            monitor=monitor,
            audio=audio,
            seconds=seconds,
            on_started=started,
            on_warning=lambda text: typer.echo(f"warning: {text}", err=True),
        )
    draft = build_draft(demo, name.strip(), encoder=build_png_encoder(), stop_combos=stop_combos(settings))
    if describe and draft.steps:
        _describe(context.settings, context.paths, ModelOptions(model, mmproj, profile, remote), draft)
    for note in draft.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"{len(draft.steps)} steps shown for {draft.name!r}:")
    for number, step in enumerate(draft.steps, 1):
        problem = f"  (!) {step.problem}" if step.problem else ""
        typer.echo(f"{number:3d}  {step.at:7.2f} s  {_shown(step.action)}{problem}")
    if not draft.steps:
        typer.echo(f"nothing to save; the recording is kept in {folder}", err=True)
        raise typer.Exit(1)
    if not yes and not typer.confirm("save these steps as an automation?", default=True, err=True):
        typer.echo(f"not saved; the recording is kept in {folder}", err=True)
        raise typer.Exit(1)
    automation = save_draft(
        draft, store=AutomationStore(paths.automations_dir), taught_dir=paths.taught_dir, secrets=None
    )
    typer.echo(f"saved {automation.name!r}: {automation.bundle}")


def _describe(settings: Settings, paths: AppPaths, options: ModelOptions, draft: TeachDraft) -> None:
    """The model's description of the task into ``draft``; without one (no model, an answer off the asked
    form) the steps are still saved, with no model fallback, and the person is told why."""
    from omnidesk.app.compose import build_model_client
    from omnidesk.app.teaching.describe import describe_demonstration

    typer.echo("the model is watching the recording…", err=True)
    try:
        client = build_model_client(settings, paths, options, consent=terminal_consent())
        try:
            described = describe_demonstration(client, draft.recording, evs=settings.evs)
        finally:
            client.close()
    except OmnideskError as exc:
        typer.echo(f"warning: no description of the task ({exc}); the steps replay without a model fallback", err=True)
        return
    draft.description = described.description
    draft.model_steps = list(described.steps)
    typer.echo(f"task: {described.description}")
    for number, text in enumerate(described.steps, 1):
        typer.echo(f"     {number}. {text}")


def _shown(action: Action) -> str:
    """A step for the person at the terminal: typed text in full (the terminal is theirs; logs never get it)."""
    from omnidesk.agent.describe import describe_action

    if isinstance(action, TypeText):
        return f"type {action.text!r}"
    return describe_action(action)


def register(cli: typer.Typer) -> None:
    cli.command("teach")(teach)
