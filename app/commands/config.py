"""``omnidesk config show|set|path``: read and change the typed settings."""

from __future__ import annotations

import json
from typing import Annotated

import tomli_w
import typer

from omnidesk.app.cli_options import JsonOption, get_context
from omnidesk.app.settings import load_settings, save_settings, set_value

__all__ = ["register"]

config_app = typer.Typer(help="Show and change settings (stored as TOML in your config directory).")

_SECRET_KEYS = {"remote_api_key"}
_URL_KEYS = {"remote_url", "remote_confirmed"}


def _redacted(data: dict[str, object]) -> dict[str, object]:
    """Settings as shown: secrets as ``***``, URLs without their credentials."""
    from omnidesk.runtime.urls import redact_url

    out: dict[str, object] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out[key] = _redacted(value)
        elif key in _SECRET_KEYS and value:
            out[key] = "***"
        elif key in _URL_KEYS and isinstance(value, str):
            out[key] = redact_url(value) if value else value
        elif key in _URL_KEYS and isinstance(value, list):
            out[key] = [redact_url(str(v)) for v in value]
        else:
            out[key] = value
    return out


@config_app.command("show")
def show(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Print the effective settings (file + OMNIDESK_* environment + defaults)."""
    settings = get_context(ctx).settings
    data = _redacted(settings.model_dump(mode="json", exclude_none=True))
    typer.echo(json.dumps(data, indent=2) if as_json else tomli_w.dumps(data))


@config_app.command("set")
def set_(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. safety.max_steps or model.gpu_layers.")],
    value: Annotated[str, typer.Argument(help="New value (TOML syntax for numbers, booleans, lists).")],
) -> None:
    """Change one setting and save it."""
    paths = get_context(ctx).paths
    updated = set_value(load_settings(paths, environment=False), key, value)
    file = save_settings(updated, paths)
    from omnidesk.runtime.urls import redact_urls

    typer.echo(f"{key} = {redact_urls(value)}  (saved to {file})")


@config_app.command("path")
def path(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Print where settings, data, models, recordings and logs live."""
    paths = get_context(ctx).paths
    places = {
        "settings": str(paths.settings_file),
        "data": str(paths.data_dir),
        "models": str(paths.models_dir),
        "recordings": str(paths.recordings_dir),
        "runs": str(paths.runs_dir),
        "logs": str(paths.log_file),
    }
    if as_json:
        typer.echo(json.dumps(places, indent=2))
    else:
        for name, place in places.items():
            typer.echo(f"{name:<11}{place}")


def register(cli: typer.Typer) -> None:
    cli.add_typer(config_app, name="config")
