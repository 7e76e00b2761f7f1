"""Options shared by every command that talks to a model or watches a monitor, and the CLI context."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from omnidesk.app.settings import AppPaths, Settings, load_settings

__all__ = [
    "CliContext",
    "JsonOption",
    "MmprojOption",
    "ModelOption",
    "ModelOptions",
    "MonitorOption",
    "ProfileOption",
    "RemoteOption",
    "get_context",
    "stdin_is_terminal",
    "terminal_consent",
]

ModelOption = Annotated[
    str | None, typer.Option("--model", help="Model NAME in the data dir, or a path to a GGUF file.")
]
MmprojOption = Annotated[
    Path | None, typer.Option("--mmproj", help="Path to the mmproj GGUF (vision + audio encoders).")
]
ProfileOption = Annotated[
    str | None, typer.Option("--profile", help="Model profile (e.g. nemotron-3-nano-omni, qwen3-vl).")
]
RemoteOption = Annotated[
    str | None,
    typer.Option("--remote", help="URL of an OpenAI-compatible engine (llama.cpp server, vLLM, NIM)."),
]
MonitorOption = Annotated[
    int | None,
    typer.Option("--monitor", min=0, help="Monitor number as mss counts them (1..n); default: primary."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


@dataclass(frozen=True, slots=True)
class ModelOptions:
    """The shared model options as given on the command line (None = use settings)."""

    model: str | None = None
    mmproj: Path | None = None
    profile: str | None = None
    remote: str | None = None

    def apply(self, settings: Settings) -> Settings:
        """Settings with these options laid over the model section (validated)."""
        section = settings.model.model_copy()
        if self.model is not None:
            section.model = self.model
        if self.mmproj is not None:
            section.mmproj = self.mmproj
        if self.profile is not None:
            section.profile = self.profile
        if self.remote is not None:
            section.remote_url = self.remote
        return settings.model_copy(update={"model": section})


@dataclass
class CliContext:
    """What every command gets: paths, flags, and settings loaded on first use."""

    paths: AppPaths
    verbose: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from omnidesk.app.compose import build_api_key_store

            self._settings = load_settings(self.paths, api_keys=build_api_key_store())
        return self._settings


def get_context(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):
        raise RuntimeError("the CLI context was not set up by the main callback")
    return obj


def stdin_is_terminal() -> bool:
    """Whether a person can answer on standard input (it may be closed altogether, e.g. under CI)."""
    stdin = sys.stdin
    try:
        return stdin is not None and stdin.isatty()
    except ValueError:  # closed file
        return False


def terminal_consent() -> Callable[[str], bool] | None:
    """A yes/no question on the terminal for remote-engine consent; None without a terminal to ask on."""
    if not stdin_is_terminal():
        return None
    return lambda question: typer.confirm(question, default=False, err=True)
