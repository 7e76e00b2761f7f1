"""Keeps the automation store, the Automations panel and the tray menu in step.

Saving a prompt stores the task box; saving a replay stores a finished run's trajectory bundle (the run
chosen in History, else the newest one in the data dir's ``runs/``). The window turns an automation into
a :class:`RunRequest` with :func:`automation_request` and starts it like any run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError
from PyQt6.QtCore import QObject, pyqtSignal

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.geometry import MonitorInfo
from omnidesk.app.gui.automation_store import Automation, AutomationStore, replay_automation
from omnidesk.app.gui.automations import AutomationsPanel
from omnidesk.app.gui.controller import RunRequest
from omnidesk.app.gui.history import list_runs
from omnidesk.app.gui.tray import TrayIcon

__all__ = ["SavedAutomations", "automation_request"]

log = logging.getLogger(__name__)


def automation_request(automation: Automation, monitor: MonitorInfo | None) -> RunRequest:
    """The run an automation starts: its task with the model, or its bundle replayed without it (a taught
    one with its description, for the model to carry on from when a target is gone).

    ``monitor`` is where to run (the one picked in the window); a replay with none goes to the monitor it
    was recorded on.
    """
    if automation.kind == "replay":
        bundle, fallback = Path(automation.bundle), automation.description
        return RunRequest(f"Replay: {automation.task}", automation.dry_run, monitor, replay=bundle, fallback=fallback)
    return RunRequest(automation.task, automation.dry_run, monitor)


class SavedAutomations(QObject):
    """Signals:
    status(str): a line for the status bar (saved, not saved and why, not found).
    """

    status = pyqtSignal(str)

    def __init__(
        self,
        store: AutomationStore | None,
        panel: AutomationsPanel,
        tray: TrayIcon | None,
        runs_dir: Path | None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self._panel = panel
        self._tray = tray
        self._runs_dir = runs_dir

    def refresh(self) -> None:
        saved = self.store.list() if self.store is not None else []
        self._panel.show_automations(saved)
        if self._tray is not None:
            self._tray.set_automations([a.name for a in saved])

    def get(self, name: str) -> Automation | None:
        automation = self.store.get(name) if self.store is not None else None
        if automation is None:
            self.status.emit(f"No saved automation named “{name}” (see the Automations tab)")
        return automation

    def save_prompt(self, name: str, task: str, *, dry_run: bool, monitor: str) -> None:
        if self.store is None or not task:
            self.status.emit("Type a task first, then save it under a name")
            return
        self._save(lambda: Automation(name=name, task=task, dry_run=dry_run, monitor=monitor), f"Saved “{name}”")

    def save_replay(self, name: str, chosen: Path | None) -> None:
        """Save ``chosen`` (a run picked in History), else the newest recorded run, to replay."""
        runs = list_runs(self._runs_dir) if self._runs_dir is not None else []
        folder = chosen or (runs[0] if runs else None)
        if self.store is None or folder is None:
            self.status.emit("No recorded run yet: run a task, then save it to replay")
            return
        self._save(lambda: replay_automation(name, folder), f"Saved “{name}”: replays {folder.name} without the model")

    def delete(self, name: str) -> None:
        if self.store is not None:
            try:
                self.store.delete(name)
            except ConfigError as exc:
                self.status.emit(str(exc))
        self.refresh()

    def _save(self, build: Callable[[], Automation], done: str) -> None:
        assert self.store is not None
        try:
            automation = build()
            self.store.save(automation)
        except (ValidationError, ConfigError) as exc:
            self.status.emit(f"Not saved: {exc}")
            return
        self.refresh()
        self._panel.select(automation.name)
        self.status.emit(done)
        log.info("automation %r saved (%s)", automation.name, automation.kind)
