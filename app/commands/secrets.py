"""``omnidesk secrets set|bind|show|remove``: secrets in the keyring, each bound to the windows where it may
be typed.

The model types a secret by writing ``{{secret:NAME}}``; Omnidesk fills the value in only where the
secret's binding allows (a focused window whose WM_CLASS part matches ``--window-class`` and whose title
matches ``--title``; ``--alone``: the placeholder and nothing else, as in a password field) and only after
the person's yes. A value is never an argument (it would show in the process list): it is asked for on
the terminal, hidden, or read from standard input with ``--stdin``.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from pydantic import ValidationError

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.secrets import NAME_PATTERN, SecretBinding
from omnidesk.app.cli_options import JsonOption

__all__ = ["register"]

secrets_app = typer.Typer(
    help="Store secrets for the agent to type, each bound to the windows where it may be typed.",
    no_args_is_help=True,
)

NameArgument = Annotated[str, typer.Argument(help="The secret's name; the model types it as {{secret:NAME}}.")]
ClassOption = Annotated[
    list[str] | None,
    typer.Option(
        "--window-class",
        help="A WM_CLASS part (regex, whole word) of windows where it may be typed, e.g. firefox; repeatable. "
        "`xprop WM_CLASS` shows a window's.",
    ),
]
TitleOption = Annotated[
    list[str] | None,
    typer.Option("--title", help="A window title pattern (regex, whole words) where it may be typed; repeatable."),
]
AloneOption = Annotated[
    bool, typer.Option("--alone", help="Only typed on its own (the placeholder and nothing else): a password field.")
]


def _name(name: str) -> str:
    if NAME_PATTERN.fullmatch(name) is None:
        raise ConfigError(f"a secret's name is 1-64 letters, digits, '_', '.' or '-', not {name!r}")
    return name


def _binding(window_class: list[str] | None, title: list[str] | None, alone: bool) -> SecretBinding:
    try:
        return SecretBinding(window_class=tuple(window_class or ()), title=tuple(title or ()), alone=alone)
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]) for e in exc.errors())
        raise ConfigError(f"invalid binding: {problems}; give --window-class CLASS and/or --title TITLE") from exc


@secrets_app.command("set")
def set_secret(
    name: NameArgument,
    window_class: ClassOption = None,
    title: TitleOption = None,
    alone: AloneOption = False,
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the value from standard input.")] = False,
) -> None:
    """Store a secret and where it may be typed (the value is asked for, hidden)."""
    from omnidesk.app.compose import build_secret_store

    binding = _binding(window_class, title, alone)
    if stdin:
        value = sys.stdin.read().rstrip("\r\n")
    else:
        value = str(typer.prompt(f"Value of {_name(name)}", hide_input=True, confirmation_prompt=True, err=True))
    if not value:
        raise ConfigError("an empty secret is not stored")
    build_secret_store().set(_name(name), value, binding)
    typer.echo(f"stored {name}; it may be typed into {binding.describe()}, after you confirm")


@secrets_app.command("bind")
def bind_secret(
    name: NameArgument, window_class: ClassOption = None, title: TitleOption = None, alone: AloneOption = False
) -> None:
    """Set where a stored secret may be typed (secrets stored before bindings existed need this)."""
    from omnidesk.app.compose import build_secret_store

    store = build_secret_store()
    binding = _binding(window_class, title, alone)
    if store.get(_name(name)) is None:
        raise ConfigError(f"there is no secret {name!r}; store it with `omnidesk secrets set {name} --window-class …`")
    store.bind(name, binding)
    typer.echo(f"{name} may be typed into {binding.describe()}, after you confirm")


@secrets_app.command("show")
def show_secret(name: NameArgument, as_json: JsonOption = False) -> None:
    """Where a secret may be typed (never its value)."""
    from omnidesk.app.compose import build_secret_store

    store = build_secret_store()
    stored = store.get(_name(name)) is not None
    binding = store.binding(name)
    if as_json:
        typer.echo(json.dumps({"name": name, "stored": stored, "binding": binding.model_dump() if binding else None}))
    elif not stored:
        typer.echo(f"there is no secret {name!r}")
    elif binding is None:
        typer.echo(f"{name} has no binding and is never typed; bind it with `omnidesk secrets bind {name} …`")
    else:
        typer.echo(f"{name} may be typed into {binding.describe()}")
    raise typer.Exit(0 if stored else 1)


@secrets_app.command("remove")
def remove_secret(name: NameArgument) -> None:
    """Delete a secret and its binding from the keyring."""
    from omnidesk.app.compose import build_secret_store

    if not build_secret_store().delete(_name(name)):
        typer.echo(f"there was no secret {name!r}")
        raise typer.Exit(1)
    typer.echo(f"removed {name}")


def register(cli: typer.Typer) -> None:
    cli.add_typer(secrets_app, name="secrets")
