"""``omnidesk models list|pull|verify|remove``: the GGUF files in the data dir."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from omnidesk.app.cli_options import JsonOption, ProfileOption, get_context

if TYPE_CHECKING:
    from omnidesk.runtime.model_store import ModelStore

__all__ = ["register"]

models_app = typer.Typer(help="Download, list, check and delete local models.", no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(help="Model name (a folder in the data dir's models/).")]


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
        str | None, typer.Option("--endpoint", help="Hugging Face Hub mirror URL (default huggingface.co).")
    ] = None,
) -> None:
    """Download the profile's model and mmproj, check them, and make them the configured model."""
    from omnidesk.app.settings import save_settings
    from omnidesk.runtime.model_store import ModelStore
    from omnidesk.runtime.profiles import load_profile

    context = get_context(ctx)
    settings = context.settings
    chosen = load_profile(profile or settings.model.profile)
    store = ModelStore(context.paths.models_dir, endpoint=endpoint)
    stored = store.pull(chosen, quant or settings.model.quant, name=name)
    section = settings.model.model_copy(update={"model": stored.name, "mmproj": stored.mmproj, "profile": chosen.name})
    save_settings(settings.model_copy(update={"model": section}), context.paths)
    typer.echo(f"Installed {stored.name} ({stored.size_bytes / 2**30:.2f} GiB) and set it as the model.")


@models_app.command("verify")
def verify(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Check sizes, checksums and GGUF headers; exit 1 when something is wrong."""
    report = _store(ctx).verify(name)
    if as_json:
        typer.echo(json.dumps({"name": report.name, "ok": report.ok, "problems": list(report.problems)}, indent=2))
    else:
        typer.echo(f"{name}: {'OK' if report.ok else 'DAMAGED'}")
        for problem in report.problems:
            typer.echo(f"  - {problem}")
    raise typer.Exit(0 if report.ok else 1)


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
