"""``omnidesk replay BUNDLE|NAME``: what it replays, and when a missing target may hand over to the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnidesk.agent.errors import ConfigError
from omnidesk.app.automation_run import fallback_wanted
from omnidesk.app.commands.replay import saved_replay
from omnidesk.app.gui.automation_store import Automation, AutomationStore
from omnidesk.app.settings import AppPaths, Settings


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")


def _bundle(paths: AppPaths, name: str) -> Path:
    folder = paths.data_dir / "taught" / name
    folder.mkdir(parents=True)
    return folder


def test_a_name_or_a_folder_finds_the_automation_and_its_description(paths: AppPaths) -> None:
    taught, recorded = _bundle(paths, "taught"), _bundle(paths, "recorded")
    store = AutomationStore(paths.automations_dir)
    store.save(Automation(name="fill", task="Fill", kind="replay", bundle=str(taught), description="Fill the form."))
    store.save(Automation(name="press", task="Press", kind="replay", bundle=str(recorded)))
    assert saved_replay("fill", paths) == (taught, "Fill the form.")
    assert saved_replay(str(taught), paths) == (taught, "Fill the form.")  # the bundle of a taught one
    assert saved_replay("press", paths) == (recorded, "")
    other = _bundle(paths, "other")
    assert saved_replay(str(other), paths) == (other, "")  # a run's bundle: no description, no fallback


def test_an_unknown_name_or_a_prompt_automation_is_a_clear_error(paths: AppPaths) -> None:
    AutomationStore(paths.automations_dir).save(Automation(name="ask", task="Open the mail"))
    with pytest.raises(ConfigError, match="neither a run's bundle folder nor a saved automation"):
        saved_replay("nothing", paths)
    with pytest.raises(ConfigError, match="a task for the model, not a replay: omnidesk run 'Open the mail'"):
        saved_replay("ask", paths)


def test_the_fallback_needs_the_setting_a_description_and_a_model() -> None:
    settings = Settings()
    assert not fallback_wanted(settings, "Fill the form.")  # no model set up
    settings.model.remote_url = "http://127.0.0.1:8000"
    assert fallback_wanted(settings, "Fill the form.")
    assert not fallback_wanted(settings, "  ")
    assert not fallback_wanted(settings, "Fill the form.", override=False)
    settings.replay.model_fallback = False
    assert not fallback_wanted(settings, "Fill the form.")
    assert fallback_wanted(settings, "Fill the form.", override=True)
    settings.model.remote_url = ""
    settings.model.model = "nemotron-3-nano-omni"
    assert fallback_wanted(settings, "Fill the form.", override=True)
