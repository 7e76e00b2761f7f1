"""``omnidesk config show|set|path``: read and change the typed settings.

``model.remote_api_key`` is special: ``config set model.remote_api_key -`` reads the key from standard input
(hidden on a terminal; an argument would stay in the shell history and the process list) and stores it in
the system keyring for the engine in ``model.remote_url``; ``config show`` says only whether one is set.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import tomli_w
import typer

from omnidesk.agent.errors import ConfigError
from omnidesk.app.cli_options import JsonOption, get_context, stdin_is_terminal
from omnidesk.app.settings import AppPaths, Settings, load_settings, save_settings, set_value

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
        elif key in _SECRET_KEYS:
            out[key] = "set (environment or settings file)" if value else "unset"
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
    data["model"]["remote_api_key"] = _key_state(settings)  # type: ignore[index]
    typer.echo(json.dumps(data, indent=2) if as_json else tomli_w.dumps(data))


@config_app.command("set")
def set_(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. safety.max_steps or model.gpu_layers.")],
    value: Annotated[str, typer.Argument(help="New value (TOML syntax for numbers, booleans, lists).")],
) -> None:
    """Change one setting and save it (model.remote_api_key: pass - and give the key on standard input)."""
    paths = get_context(ctx).paths
    if key == "model.remote_api_key":
        _store_api_key(paths, value)
        return
    updated = set_value(load_settings(paths, environment=False), key, value)
    file = save_settings(updated, paths)
    from omnidesk.runtime.urls import redact_urls

    typer.echo(f"{key} = {redact_urls(value)}  (saved to {file})")


def _key_state(settings: Settings) -> str:
    """Whether the remote engine has an API key, and where it comes from (never the key)."""
    from omnidesk.app.compose import build_api_key_store

    if settings.model.remote_api_key:
        return "set (environment or settings file)"
    if not settings.model.remote_url:
        return "unset"
    try:
        return "set (keyring)" if build_api_key_store().get(settings.model.remote_url) else "unset"
    except ConfigError:
        return "unknown (no keyring)"


def _store_api_key(paths: AppPaths, value: str) -> None:
    """``config set model.remote_api_key VALUE``: into the keyring for the configured engine."""
    from omnidesk.app.compose import build_api_key_store
    from omnidesk.runtime.urls import origin

    store = build_api_key_store()
    url = load_settings(paths, environment=False, api_keys=store).model.remote_url  # moves an older key first
    if not url:
        raise ConfigError("set model.remote_url first: the API key is kept for that engine only")
    if value == "-":
        value = (
            typer.prompt("API key", hide_input=True, default="", show_default=False, err=True)
            if stdin_is_terminal()
            else sys.stdin.readline()
        ).strip()
    store.set(url, value)
    where = origin(url)
    typer.echo(f"model.remote_api_key {'stored in the keyring' if value else 'removed'} for {where}")


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
