"""Saving a taught automation: all of it or nothing, secrets in the keyring and only placeholders on disk."""

from __future__ import annotations

import os
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

from omnidesk.agent.actions import Click, Point, TypeText
from omnidesk.agent.errors import ConfigError
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import WindowInfo
from omnidesk.agent.replay import load_replay
from omnidesk.agent.secrets import SecretBinding
from omnidesk.app.gui.automation_store import AutomationStore
from omnidesk.app.teaching.draft import DraftStep, TargetCut, TeachDraft
from omnidesk.app.teaching.save import save_draft
from omnidesk.runtime.png import CvPngEncoder

TEXT = "Grüße <ok> 東京"
FORM = WindowInfo(9, "Form — Example", ("form", "Form.App"), Rect(100, 100, 700, 500), pid=42)


class Keyring:
    """A SecretWriter that keeps what it is given, or refuses (as a locked keyring does)."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.saved: dict[str, tuple[str, SecretBinding | None]] = {}

    def set(self, name: str, value: str, binding: SecretBinding | None = None) -> None:
        if self.refuse:
            raise ConfigError("the keyring is locked")
        self.saved[name] = (value, binding)


def _draft(*, secret: str = "") -> TeachDraft:
    patch = np.zeros((48, 48, 3), dtype=np.uint8)
    patch[10:30, 5:40] = (0, 200, 0)
    png = CvPngEncoder().encode_png(patch)
    click = DraftStep(
        Click(point=Point(x=400, y=300, space="desktop")), 1.0, FORM, [TargetCut(png, (24, 24), 1920)], png
    )
    typed = DraftStep(TypeText(text=TEXT), 2.0, FORM, [], png, secret=secret)
    monitor = MonitorInfo(1, "screen", Rect(0, 0, 1920, 1080))
    return TeachDraft("Fill the form", Path("recording"), monitor, [click, typed], wall_start=time.time())


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_a_saved_draft_replays_and_a_secret_is_only_a_placeholder(tmp_path: Path) -> None:
    keyring = Keyring()
    store = AutomationStore(tmp_path / "automations")
    automation = save_draft(
        _draft(secret="form_greeting"), store=store, taught_dir=tmp_path / "taught", secrets=keyring
    )
    assert store.get("Fill the form") == automation and automation.kind == "replay"
    script = load_replay(Path(automation.bundle))
    assert [s.actions[0] for s in script.steps][1] == TypeText(text="{{secret:form_greeting}}")
    assert script.steps[0].patches[0].anchor == (24, 24)
    value, binding = keyring.saved["form_greeting"]
    assert value == TEXT and binding == SecretBinding(window_class=("form", r"Form\.App"), alone=True)
    assert TEXT.encode() not in _all_bytes(tmp_path)  # neither the bundle nor the automation file holds it
    assert [p.name for p in (tmp_path / "taught").iterdir()] == [Path(automation.bundle).name]


def test_nothing_is_saved_when_a_part_fails(tmp_path: Path) -> None:
    store = AutomationStore(tmp_path / "automations")
    with pytest.raises(ConfigError, match="keyring is locked"):
        save_draft(_draft(secret="form_greeting"), store=store, taught_dir=tmp_path / "taught", secrets=Keyring(True))
    assert store.list() == [] and list((tmp_path / "taught").iterdir()) == []  # the staged bundle is gone too

    broken = _draft()
    broken.steps[0].targets.clear()
    broken.steps[0].problem = "it is off the recorded monitor"
    with pytest.raises(ConfigError, match=r"step 1 .* cannot be replayed: it is off the recorded monitor; delete it"):
        save_draft(broken, store=store, taught_dir=tmp_path / "taught", secrets=None)
    with pytest.raises(ConfigError, match="no keyring"):
        save_draft(_draft(secret="x"), store=store, taught_dir=tmp_path / "taught", secrets=None)
    assert store.list() == [] and list((tmp_path / "taught").iterdir()) == []


def test_a_save_killed_midway_leaves_a_staging_folder_the_next_save_removes(tmp_path: Path) -> None:
    taught = tmp_path / "taught"
    old, recent = taught / ".staging-1-1", taught / ".staging-2-2"
    for folder in (old, recent):
        folder.mkdir(parents=True)
        (folder / "steps.jsonl").write_text("{", encoding="utf-8")  # cut off by the kill
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    store = AutomationStore(tmp_path / "automations")
    assert store.list() == []  # a killed save left no automation
    automation = save_draft(_draft(), store=store, taught_dir=taught, secrets=None)
    assert not old.exists() and recent.exists()  # a recent one may be another save still running
    saved = tomllib.loads(next((tmp_path / "automations").glob("*.toml")).read_text(encoding="utf-8"))
    assert saved["bundle"] == automation.bundle and Path(automation.bundle).parent == taught.resolve()
