"""Saved automations as TOML files, one per automation, in the data dir's ``automations/``.

Two kinds: a ``prompt`` is a named task run with the model (with its dry-run and monitor choice); a
``replay`` is a finished run's trajectory bundle, or a task the person showed (teach mode), done again
without the model (``omnidesk replay``'s engine, which finds each target again on the current screen). A
taught one keeps the model's ``description`` of the task: when the replay cannot find a target, the model
does the task from it. A global hotkey
(``hotkeys.automations`` in the settings) or the tray menu starts one by name. No Qt here.
"""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path
from typing import Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.private_files import private_dir, write_private

__all__ = ["Automation", "AutomationStore", "replay_automation"]

log = logging.getLogger(__name__)


class Automation(BaseModel):
    """A task (``prompt``) or a recorded run (``replay``) saved under a name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    task: str = Field(min_length=1, max_length=10_000)
    dry_run: bool = False
    monitor: str = Field(default="", description="RandR output name; empty = the one picked in the window.")
    kind: Literal["prompt", "replay"] = Field(
        default="prompt", description="prompt: run the task with the model; replay: redo the bundle without it."
    )
    bundle: str = Field(default="", description="The recorded run's trajectory bundle folder (replay only).")
    description: str = Field(
        default="",
        max_length=20_000,
        description="A replay's fallback: the task in words, run with the model when a target is not found.",
    )

    @model_validator(mode="after")
    def _replay_needs_a_bundle(self) -> Automation:
        if self.kind == "replay" and not self.bundle:
            raise ValueError("a replay automation needs the recorded run's bundle folder")
        return self


def replay_automation(name: str, bundle: Path) -> Automation:
    """A replay automation of the finished run recorded in ``bundle``.

    Raises:
        ConfigError: the run did not finish (only a finished run is worth repeating) or cannot be read.
    """
    from omnidesk.agent.errors import RecordingError
    from omnidesk.agent.trajectory import load_bundle

    try:
        summary = load_bundle(bundle).summary
    except RecordingError as exc:
        raise ConfigError(f"cannot save {bundle.name} as an automation: {exc}") from exc
    status = summary.get("status")
    if status != "finished":
        raise ConfigError(f"that run ended {status!r}; only a finished run can be saved to replay")
    task = str(summary.get("task") or bundle.name)
    return Automation(name=name, task=task, kind="replay", bundle=str(bundle.resolve()))


def _file_name(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]
    return f"{slug or 'automation'}.toml"


class AutomationStore:
    """Reads and writes automations in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def list(self) -> list[Automation]:
        """Every readable automation, by name; broken files are skipped with a warning."""
        found: list[Automation] = []
        if not self.folder.is_dir():
            return found
        for path in sorted(self.folder.glob("*.toml")):
            try:
                found.append(Automation.model_validate(tomllib.loads(path.read_text(encoding="utf-8"))))
            except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
                log.warning("skipping automation %s: %s", path.name, exc)
        return sorted(found, key=lambda a: a.name.lower())

    def get(self, name: str) -> Automation | None:
        return next((a for a in self.list() if a.name == name), None)

    def save(self, automation: Automation) -> Path:
        """Write (or overwrite) the automation atomically; returns its file."""
        path = self.folder / _file_name(automation.name)
        try:
            private_dir(self.folder)
            write_private(path, tomli_w.dumps(automation.model_dump()).encode("utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot save the automation to {path}: {exc.strerror}; check the data dir") from exc
        return path

    def delete(self, name: str) -> None:
        path = self.folder / _file_name(name)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot delete {path}: {exc.strerror}") from exc
