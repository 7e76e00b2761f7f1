"""Saved automations: named tasks (with their dry-run and monitor choice) as TOML files, one per task.

They live in the data dir's ``automations/``; a global hotkey can start one by name
(``hotkeys.automations`` in the settings). No Qt here.
"""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from omnidesk.agent.errors import ConfigError

__all__ = ["Automation", "AutomationStore"]

log = logging.getLogger(__name__)


class Automation(BaseModel):
    """A task saved under a name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    task: str = Field(min_length=1, max_length=10_000)
    dry_run: bool = False
    monitor: str = Field(default="", description="RandR output name; empty = the one picked in the window.")


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
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".toml.tmp")
            tmp.write_text(tomli_w.dumps(automation.model_dump()), encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            raise ConfigError(f"cannot save the automation to {path}: {exc.strerror}; check the data dir") from exc
        return path

    def delete(self, name: str) -> None:
        path = self.folder / _file_name(name)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot delete {path}: {exc.strerror}") from exc
