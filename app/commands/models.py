"""``omnidesk models list|pull|verify|remove``: the GGUF files in the data dir."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from omnidesk.app.cli_options import JsonOption, MmprojOption, ProfileOption, get_context
from omnidesk.app.model_files import describe_progress

if TYPE_CHECKING:
    from omnidesk.runtime.hub_download import DownloadProgress
    from omnidesk.runtime.model_store import ModelStore

__all__ = ["register"]

models_app = typer.Typer(help="Download, list, check and delete local models.", no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(help="Model name (a folder in the data dir's models/).")]
NameOrPathArgument = Annotated[
    str, typer.Argument(help="Model NAME in the data dir, or a path to a GGUF file (model or mmproj).")
]


def _store(ctx: typer.Context) -> ModelStore:
    from omnidesk.runtime.model_store import ModelStore

    return ModelStore(get_context(ctx).paths.models_dir)


@models_app.command("list")
def list_models(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Installed models with their size and profile."""
    stored = _store(ctx).installed()
    if as_json:
        rows = [
            {
                "name": m.name,
                "model": str(m.model) if m.model else None,
                "mmproj": str(m.mmproj) if m.mmproj else None,
                "size_bytes": m.size_bytes,
                "profile": m.profile,
            }
            for m in stored
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not stored:
        typer.echo("No models installed; run `omnidesk models pull`.")
        return
    for m in stored:
        extra = "" if m.mmproj else "  (no mmproj: text only)"
        typer.echo(f"{m.name}  {m.size_bytes / 2**30:.2f} GiB  {m.profile or '?'}{extra}")


@models_app.command("pull")
def pull(
    ctx: typer.Context,
    profile: ProfileOption = None,
    quant: Annotated[str | None, typer.Option("--quant", help="Quantisation, e.g. Q4_K_M or Q8_0.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Folder name (default PROFILE-QUANT).")] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint", help="Hugging Face Hub mirror URL (default model.hub_endpoint, else huggingface.co)."
        ),
    ] = None,
) -> None:
    """Download the profile's model and mmproj, check them, and make them the configured model.

    An interrupted download (Ctrl-C, a lost connection) continues where it stopped when run again.
    """
    from omnidesk.app.compose import build_model_store
    from omnidesk.app.model_files import configure_model
    from omnidesk.runtime.profiles import load_profile

    context = get_context(ctx)
    settings = context.settings
    chosen = load_profile(profile or settings.model.profile)
    store = build_model_store(settings, context.paths, endpoint=endpoint)
    try:
        stored = store.pull(chosen, quant or settings.model.quant, name=name, progress=_ProgressLine())
    except KeyboardInterrupt:
        typer.echo("\nStopped; run `omnidesk models pull` again to continue where it stopped.", err=True)
        raise typer.Exit(130) from None
    assert stored is not None  # no cancel token: only Ctrl-C stops it
    configure_model(context.paths, model=stored.name, mmproj=stored.mmproj, profile=chosen.name, remote_url="")
    typer.echo(f"\nInstalled {stored.name} ({stored.size_bytes / 2**30:.2f} GiB) and set it as the model.")


class _ProgressLine:
    """One progress line on stderr: rewritten in place on a terminal, a new line each few seconds otherwise."""

    def __init__(self, every: float = 2.0) -> None:
        self._every = every
        self._last = -every
        self._tty = sys.stderr.isatty()

    def __call__(self, progress: DownloadProgress) -> None:
        now = time.monotonic()
        if now - self._last < (0.2 if self._tty else self._every) and progress.done < progress.total:
            return
        self._last = now
        typer.echo(("\r" if self._tty else "") + describe_progress(progress), err=True, nl=not self._tty)


@models_app.command("verify")
def verify(
    ctx: typer.Context,
    name: NameOrPathArgument,
    mmproj: MmprojOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check sizes, checksums and GGUF headers (or a GGUF file given by path); exit 1 when something is wrong."""
    from omnidesk.app.model_files import is_model_path

    if is_model_path(name):
        _verify_path(ctx, Path(name).expanduser(), mmproj, profile, as_json)
        return
    report = _store(ctx).verify(name)
    if as_json:
        typer.echo(json.dumps({"name": report.name, "ok": report.ok, "problems": list(report.problems)}, indent=2))
    else:
        typer.echo(f"{name}: {'OK' if report.ok else 'DAMAGED'}")
        for problem in report.problems:
            typer.echo(f"  - {problem}")
    raise typer.Exit(0 if report.ok else 1)


def _verify_path(ctx: typer.Context, model: Path, mmproj: Path | None, profile: str | None, as_json: bool) -> None:
    """A GGUF by path: the header checks ``--model`` gets, against the profile's (or any profile's) architectures."""
    from omnidesk.app.model_files import find_mmproj
    from omnidesk.runtime.llama.validate import verify_files
    from omnidesk.runtime.profiles import list_profiles, load_profile

    chosen = [profile] if profile else list_profiles()
    architectures = tuple(dict.fromkeys(a for p in chosen for a in load_profile(p).architectures))
    if mmproj is None and "mmproj" not in model.name.lower():
        mmproj = find_mmproj(model)
    findings, problems = verify_files(model, mmproj, architectures)
    ok = not problems
    if as_json:
        payload = {"name": str(model), "ok": ok, "files": findings, "problems": problems}
        typer.echo(json.dumps(payload, indent=2))
    else:
        typer.echo(f"{model}: {'OK' if ok else 'DAMAGED'}")
        for line in findings:
            typer.echo(f"  {line}")
        for problem in problems:
            typer.echo(f"  - {problem}")
    raise typer.Exit(0 if ok else 1)


@models_app.command("remove")
def remove(
    ctx: typer.Context,
    name: NameArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete an installed model."""
    if not yes and not typer.confirm(f"Delete the model {name}?"):
        raise typer.Exit(1)
    freed = _store(ctx).remove(name)
    typer.echo(f"Removed {name} ({freed / 2**30:.2f} GiB freed).")


def register(cli: typer.Typer) -> None:
    cli.add_typer(models_app, name="models")
