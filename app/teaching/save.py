"""Saving a reviewed draft as an automation — all of it, or nothing.

The replay bundle (``agent/replay.py``'s contract: ``run.json``, ``steps.jsonl``, one target patch per
point) is written into a hidden staging folder, read back with :func:`load_replay` (so what is saved is
known to replay), made durable, and renamed into the data dir's ``taught/`` in one step; only then is the
automation's file written (atomically, ``AutomationStore.save``). A kill at any moment leaves either no
automation or a complete one — at worst a staging folder, removed by the next save. Typed texts the person
marked as secrets go to the keyring first (value and window binding, ``agent/secrets.py``) and the bundle
only holds their ``{{secret:NAME}}`` placeholders.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any, Protocol

from omnidesk.agent.actions import ACTION_ADAPTER, TypeText
from omnidesk.agent.errors import ConfigError, RecordingError
from omnidesk.agent.private_files import private_dir, write_private
from omnidesk.agent.secrets import NAME_PATTERN, SecretBinding
from omnidesk.app.gui.automation_store import Automation, AutomationStore
from omnidesk.app.teaching.draft import DraftStep, TeachDraft

__all__ = ["SecretWriter", "fallback_task", "save_draft", "secret_binding"]

log = logging.getLogger(__name__)

_STAGING_PREFIX = ".staging-"
_STALE_STAGING_SECONDS = 3600.0


class SecretWriter(Protocol):
    """Where a typed text marked as a secret goes (the keyring: ``KeyringSecretStore``)."""

    def set(self, name: str, value: str, binding: SecretBinding | None = None) -> None: ...


def secret_binding(step: DraftStep) -> SecretBinding:
    """The windows a marked secret may be typed into: the WM_CLASS of the window it was typed into when
    shown (exactly), or its title when it had no class.

    Raises:
        ConfigError: the window is unknown, so there is nothing to bind the secret to.
    """
    window = step.window
    classes = tuple(re.escape(p) for p in (window.wm_class if window is not None else ()) if p)
    if classes:
        return SecretBinding(window_class=classes, alone=step.secret_alone)
    if window is not None and window.title.strip():
        return SecretBinding(title=(re.escape(window.title.strip()),), alone=step.secret_alone)
    raise ConfigError("the window this text was typed into is unknown, so it cannot be bound as a secret")


def fallback_task(draft: TeachDraft) -> str:
    """The task a model-driven run gets when the replay cannot find a target: the description, and the
    steps as the model read them ("" without a description: no fallback)."""
    description = draft.description.strip()
    if not description:
        return ""
    lines = [f"{n}. {text}" for n, text in enumerate((s for s in draft.model_steps if s.strip()), 1)]
    shown = "\n\nAs it was shown:\n" + "\n".join(lines) if lines else ""
    return f"{description}{shown}\n\n(Some of it may be done already: look at the screen first.)"


def _check(draft: TeachDraft) -> None:
    if not draft.name.strip():
        raise ConfigError("give the automation a name")
    if not draft.steps:
        raise ConfigError("there are no steps to save (the demonstration recorded no clicks or keys)")
    for number, step in enumerate(draft.steps, 1):
        points = _points(step)
        if len(step.targets) != points:
            raise ConfigError(f"step {number} ({step.summary}) cannot be replayed: {step.problem}; delete it")
        if step.secret:
            if not isinstance(step.action, TypeText):
                raise ConfigError(f"step {number} types no text, so it cannot be a secret")
            if NAME_PATTERN.fullmatch(step.secret) is None:
                raise ConfigError(f"a secret's name is 1-64 letters, digits, '_', '.' or '-', not {step.secret!r}")


def _points(step: DraftStep) -> int:
    from omnidesk.agent.safety import action_points

    return len(action_points(step.action))


def _step_line(index: int, step: DraftStep, draft: TeachDraft, patches: list[dict[str, Any]]) -> dict[str, Any]:
    action = step.action
    if step.secret:
        action = TypeText(text="{{secret:" + step.secret + "}}")
    data = ACTION_ADAPTER.dump_python(action, mode="json")
    geometry = draft.monitor.geometry
    window = step.window
    return {
        "index": index,
        "status": "acted",
        "started_at": draft.wall_start + step.at,
        "action": data,
        "actions": [data],
        "performed": 1,
        "result": "shown by the person",
        "observation": {
            "timestamp": step.at,
            "monitor": {
                "index": draft.monitor.index,
                "name": draft.monitor.name,
                "geometry": [geometry.x, geometry.y, geometry.width, geometry.height],
            },
        },
        "patches": patches,
        "taught": {
            "at": round(step.at, 3),
            "label": step.label,
            "problem": step.problem,
            "window": None if window is None else {"title": window.title, "wm_class": list(window.wm_class)},
        },
    }


def _write_bundle(folder: Path, draft: TeachDraft, task: str) -> None:
    lines = []
    for index, step in enumerate(draft.steps):
        patches = []
        for n, target in enumerate(step.targets):
            name = f"step-{index:04d}-p{n}.png"
            write_private(folder / name, target.png, durable=False)
            patches.append({"file": name, "anchor": list(target.anchor), "image_size": [target.image_size] * 2})
        lines.append(json.dumps(_step_line(index, step, draft, patches), ensure_ascii=False))
    write_private(folder / "steps.jsonl", ("\n".join(lines) + "\n").encode("utf-8"), durable=False)
    summary = {
        "schema": 1,
        "task": task,
        "status": "finished",
        "steps": len(lines),
        "statuses": {"acted": len(lines)},
        "error": "",
        "meta": {"via": "teach", "recording": str(draft.recording), "monitor": draft.monitor.name},
        "tokens": {"prompt": 0, "completion": 0, "reused": 0},
    }
    write_private(folder / "run.json", json.dumps(summary, indent=2, ensure_ascii=False).encode("utf-8"))
    for path in folder.iterdir():  # the patches were written without waiting: make them durable now
        with path.open("rb") as fh:
            os.fsync(fh.fileno())


def _remove_stale(taught_dir: Path) -> None:
    now = time.time()
    for path in taught_dir.glob(f"{_STAGING_PREFIX}*"):
        try:
            if now - path.stat().st_mtime > _STALE_STAGING_SECONDS:
                shutil.rmtree(path)
                log.info("removed %s, left by a save that did not finish", path.name)
        except OSError as exc:
            log.warning("could not remove %s: %s", path, exc)


def _final_folder(taught_dir: Path, name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "automation"
    folder, n = taught_dir / f"{stamp}-{slug}", 2
    while folder.exists():
        folder, n = taught_dir / f"{stamp}-{slug}-{n}", n + 1
    return folder


def save_draft(
    draft: TeachDraft, *, store: AutomationStore, taught_dir: Path, secrets: SecretWriter | None
) -> Automation:
    """Save ``draft`` as a replay automation (see the module doc); returns it.

    Raises:
        ConfigError: the draft cannot be saved as it is (the message says what to change), the keyring
            refused a secret, or the data dir is not writable.
    """
    from omnidesk.agent.replay import load_replay

    _check(draft)
    marked = [step for step in draft.steps if step.secret]
    if marked and secrets is None:
        raise ConfigError("no keyring to store the secrets in; unmark them or set up a keyring")
    bindings = [(step, secret_binding(step)) for step in marked]
    task = (draft.description.strip().splitlines() or [draft.name.strip()])[0][:500]
    try:
        private_dir(taught_dir)
        _remove_stale(taught_dir)
        staging = taught_dir / f"{_STAGING_PREFIX}{os.getpid()}-{time.monotonic_ns()}"
        private_dir(staging)
        try:
            _write_bundle(staging, draft, task)
            load_replay(staging)  # what is saved is known to replay
            for step, binding in bindings:
                assert secrets is not None and step.typed_text is not None
                secrets.set(step.secret, step.typed_text, binding)
            final = _final_folder(taught_dir, draft.name)
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        dir_fd = os.open(taught_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except RecordingError as exc:
        raise ConfigError(f"the taught steps did not make a replayable bundle ({exc}); this is a bug") from exc
    except OSError as exc:
        raise ConfigError(f"cannot save the taught automation in {taught_dir}: {exc.strerror or exc}") from exc
    automation = Automation(
        name=draft.name.strip(),
        task=task,
        kind="replay",
        bundle=str(final.resolve()),
        monitor=draft.monitor.name,
        description=fallback_task(draft),
    )
    store.save(automation)
    log.info("teach: saved %r (%d steps, %d secrets) in %s", automation.name, len(draft.steps), len(marked), final)
    return automation
