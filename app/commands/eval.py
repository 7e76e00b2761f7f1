"""``omnidesk eval``: measure a model on this machine.

- ``eval grounding SET`` — a ScreenSpot-style set (screenshots of real applications, targets from their
  accessibility trees): the share of points the model names inside the target's box, by application,
  resolution, scale, monitors and element size. The model is reached as ``omnidesk run`` reaches it
  (``--model`` / ``--profile`` / ``--remote``, the profile's format).
- ``eval tasks`` — OSWorld-style tasks on real applications (editors, a calculator, forms): each set up in a
  private home folder, run as ``omnidesk run`` runs a task, and checked from the world (saved files, the
  accessibility tree).
- ``eval compare A.json B.json`` — two runs side by side.

Every run writes ``summary.json`` (versioned schema) and ``report.html`` to ``--out``, rewritten after each
item: Ctrl+C leaves a valid partial report.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.ports import CancelToken

if TYPE_CHECKING:
    from omnidesk.agent.evaluation.records import ItemResult, RunSummary
    from omnidesk.app.evaluation.driver import EvalRunner
    from omnidesk.app.settings import Settings

__all__ = ["eval_app", "register"]

eval_app = typer.Typer(
    help="Measure a model on this machine: grounding on real applications, tasks, comparisons.",
    no_args_is_help=True,
)


def _default_out(data_dir: Path, kind: str) -> Path:
    return data_dir / "evals" / f"{kind}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"


def describe_model(settings: Settings) -> str:
    """How a report names the model: the profile and the file or the engine's URL."""
    section = settings.model
    where = section.remote_url or (str(section.model) if section.model else "default model")
    return f"{section.profile} @ {where}" + (f" ({section.remote_model})" if section.remote_model else "")


@eval_app.command("grounding")
def grounding(
    ctx: typer.Context,
    set_dir: Annotated[Path, typer.Argument(help="The grounding set folder (holds set.json and screenshots).")],
    *,
    out: Annotated[Path | None, typer.Option("--out", help="Report folder (default: data dir evals/).")] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Evaluate this many items, drawn by seed.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Which items --limit draws.")] = 0,
    model: Annotated[str | None, typer.Option("--model", help="Model NAME in the data dir, or a GGUF path.")] = None,
    mmproj: Annotated[Path | None, typer.Option("--mmproj", help="Path to the mmproj GGUF.")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="Model profile (its format is used).")] = None,
    remote: Annotated[str | None, typer.Option("--remote", help="URL of an OpenAI-compatible engine.")] = None,
) -> None:
    """Point at each item's target; report the share of points inside the boxes."""
    from omnidesk.agent.evaluation.grounding import load_grounding_set, pick_cases
    from omnidesk.app.cli_options import ModelOptions, get_context, terminal_consent
    from omnidesk.app.compose import build_model_client, build_model_format, build_shot_files
    from omnidesk.app.evaluation.grounding import GroundingRunner

    context = get_context(ctx)
    set_file = set_dir / "set.json"
    try:
        text = set_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{set_file} cannot be read ({exc.strerror}); pass a grounding set folder") from exc
    grounding_set = load_grounding_set(text, source=str(set_file))
    chosen = pick_cases(grounding_set.cases, limit, seed)
    settings = ModelOptions(model=model, mmproj=mmproj, profile=profile, remote=remote).apply(context.settings)
    out_dir = out or _default_out(context.paths.data_dir, "grounding")
    client = build_model_client(settings, context.paths, consent=terminal_consent())
    try:
        fmt, format_settings = build_model_format(settings, client.capabilities)
        runner = GroundingRunner(
            grounding_set,
            set_dir,
            out_dir,
            client,
            fmt,
            format_settings,
            build_shot_files(),
            describe_model(settings),
            chosen,
            seed,
            time.monotonic,
        )
        summary = _drive(runner, out_dir)
    finally:
        client.close()
    _print_result(summary, out_dir)
    raise typer.Exit(130 if summary.interrupted else 0)


def _drive(runner: EvalRunner[Any], out_dir: Path) -> RunSummary:
    """Run with a progress bar; Ctrl+C stops after the item in flight (the report stays valid)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from omnidesk.app.evaluation.driver import run_evaluation
    from omnidesk.app.terminal import stop_on_interrupt

    cancel = CancelToken()
    console = Console(stderr=True)
    counts = {"pass": 0, "fail": 0, "errored": 0}
    with (
        stop_on_interrupt(cancel),
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[tally]}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        task = progress.add_task(runner.header.kind, total=len(runner.cases()), tally="")

        def on_item(n: int, total: int, item: ItemResult) -> None:
            counts[item.status] += 1
            tally = f"pass {counts['pass']} · fail {counts['fail']} · errored {counts['errored']}"
            progress.update(task, completed=n, tally=tally)

        return run_evaluation(runner, out_dir, cancel=cancel, on_item=on_item)


def _print_result(summary: RunSummary, out_dir: Path) -> None:
    from omnidesk.app.evaluation.report import pct

    t = summary.total
    state = "interrupted: partial report" if summary.interrupted else "complete"
    interval = "" if t.low is None or t.high is None else f" (95 % {pct(t.low)}–{pct(t.high)})"
    typer.echo(
        f"{summary.kind}: {pct(t.rate)}{interval} of {t.measured} measured, {t.errored} errored; {state}\n"
        f"report: {out_dir / 'report.html'}\nsummary: {out_dir / 'summary.json'}"
    )


@eval_app.command("tasks")
def tasks(
    ctx: typer.Context,
    *,
    only: Annotated[
        list[str] | None, typer.Option("--task", help="Run only this task (repeat for several); default: all.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Report folder (default: data dir evals/).")] = None,
    monitor: Annotated[
        int | None, typer.Option("--monitor", min=0, help="Monitor number (1..n); default: primary.")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model NAME in the data dir, or a GGUF path.")] = None,
    mmproj: Annotated[Path | None, typer.Option("--mmproj", help="Path to the mmproj GGUF.")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="Model profile (its format is used).")] = None,
    remote: Annotated[str | None, typer.Option("--remote", help="URL of an OpenAI-compatible engine.")] = None,
    list_tasks: Annotated[bool, typer.Option("--list", help="List the tasks, run none.")] = False,
) -> None:
    """Carry out everyday tasks in real applications; report the share the checks find done."""
    from omnidesk.agent.eval_catalog import TASKS, task_by_id

    if list_tasks:
        for spec in TASKS:
            typer.echo(f"{spec.id:<26} {spec.app:<11} {spec.instruction}")
        return
    try:
        specs = [task_by_id(t) for t in only] if only else list(TASKS)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None
    import os

    from omnidesk.app.cli_options import ModelOptions, get_context, terminal_consent
    from omnidesk.app.compose import (
        build_agent_session,
        build_model_client,
        build_model_format,
        build_png_encoder,
        build_task_desktop,
        choose_platform,
    )
    from omnidesk.app.evaluation.tasks import TaskRunner, TasksEvalRunner
    from omnidesk.app.instance import InstanceLock

    context = get_context(ctx)
    choose_platform(os.environ)  # before loading a model: say at once when there is no desktop to work on
    InstanceLock(context.paths.runtime_dir).acquire()  # one hand on the mouse, as for omnidesk run
    settings = ModelOptions(model=model, mmproj=mmproj, profile=profile, remote=remote).apply(context.settings)
    out_dir = out or _default_out(context.paths.data_dir, "tasks")
    client = build_model_client(settings, context.paths, consent=terminal_consent())
    try:
        with build_task_desktop(settings) as desktop:
            fmt, _ = build_model_format(settings, client.capabilities)
            runner = TaskRunner(
                settings,
                model=client,
                apps=desktop.apps,
                build_session=build_agent_session,
                encoder=build_png_encoder(),
                out_dir=out_dir,
                monitor=monitor,
            )
            summary = _drive(TasksEvalRunner(runner, specs, out_dir, describe_model(settings), fmt.name), out_dir)
    finally:
        client.close()
    _print_result(summary, out_dir)
    raise typer.Exit(130 if summary.interrupted else 0)


@eval_app.command("compare")
def compare(
    a: Annotated[Path, typer.Argument(help="The first run's summary.json.")],
    b: Annotated[Path, typer.Argument(help="The second run's summary.json.")],
) -> None:
    """Two runs side by side: each rate with its interval, and the difference."""
    from rich.console import Console

    from omnidesk.agent.evaluation.records import load_summary
    from omnidesk.app.evaluation.compare import comparison_table

    summaries = []
    for path in (a, b):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path} cannot be read ({exc.strerror}); pass two eval summary.json files") from exc
        summaries.append(load_summary(text, source=str(path)))
    first, second = summaries
    if first.kind != second.kind:
        raise ConfigError(f"{a} is a {first.kind} run and {b} a {second.kind} run; compare runs of one kind")
    Console(width=160).print(comparison_table(first, second))


def register(cli: typer.Typer) -> None:
    cli.add_typer(eval_app, name="eval")
