"""One way to run a task and keep it: a composed agent session whose steps go into a trajectory bundle.

``omnidesk run``, the MCP server's ``run_task`` and the GUI's runs all go through :class:`RecordedRun`: the
bundle folder in the data dir's ``runs/`` (what the History panel lists and replay automations are saved
from), the :class:`TrajectoryWriter` around the run, and the session closed when the run ends — finished,
failed, stopped, or dropped by its consumer between steps.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from omnidesk.agent.ports import CancelToken, Step
from omnidesk.agent.trajectory import PngEncoder, TrajectoryWriter
from omnidesk.app.compose import AgentSession

__all__ = ["RecordedRun", "bundle_folder"]

log = logging.getLogger(__name__)


def bundle_folder(runs_dir: Path, task: str, now: float | None = None) -> Path:
    """``runs/20260514-101502-open-the-terminal`` (unique: a counter is added if needed)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    slug = re.sub(r"[^a-z0-9]+", "-", task.lower()).strip("-")[:40] or "task"
    folder = runs_dir / f"{stamp}-{slug}"
    n = 2
    while folder.exists():
        folder = runs_dir / f"{stamp}-{slug}-{n}"
        n += 1
    return folder


@dataclass
class RecordedRun:
    """``session``'s agent doing ``task``, recorded into ``folder``; iterate :meth:`steps` once."""

    session: AgentSession
    task: str
    folder: Path
    encoder: PngEncoder
    meta: dict[str, object] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        session: AgentSession,
        task: str,
        *,
        runs_dir: Path,
        encoder: PngEncoder,
        dry_run: bool,
        via: Literal["cli", "mcp", "gui", "eval"],
        folder: Path | None = None,
    ) -> RecordedRun:
        """A run recorded in ``folder``, or in a new dated folder of ``runs_dir``."""
        meta: dict[str, object] = {
            "model": session.model.capabilities.name,
            "monitor": session.monitor.name,
            "dry_run": dry_run,
            "via": via,
        }
        return cls(session, task, folder or bundle_folder(runs_dir, task), encoder, meta)

    def steps(self, cancel: CancelToken) -> Iterator[Step]:
        """Run the task, writing each step to the bundle before passing it on; closes the session at the end."""
        log.info("recording the run in %s", self.folder)
        with self.session, TrajectoryWriter(self.folder, self.task, encoder=self.encoder, meta=self.meta) as writer:
            yield from writer.consume(self.session.agent.run(self.task, cancel))
