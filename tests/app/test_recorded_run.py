"""RecordedRun: the one way a task runs and is kept — bundle folder, trajectory, session closed at the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnidesk.agent.config import AgentConfig, SafetyConfig
from omnidesk.agent.loop import Agent
from omnidesk.agent.ports import CancelToken
from omnidesk.app.compose import AgentSession
from omnidesk.app.recorded_run import RecordedRun, bundle_folder
from omnidesk.runtime.png import CvPngEncoder
from tests.fakes import (
    FakeClock,
    FakeModel,
    FakeSampler,
    RecordingInputDevice,
    ScriptedConfirmer,
    StaticScreen,
    make_frame,
)

CLICK = "ok\n## Action:\nclick\n## Code:\npyautogui.click(0.5, 0.5)"
DONE = "ok\n## Action:\nend\n## Code:\ncomputer.terminate(status='success', answer='42')"


def session(script: list[str], closed: list[str]) -> AgentSession:
    model = FakeModel(script)
    sampler = FakeSampler(StaticScreen([make_frame()]))
    agent = Agent(
        model, sampler, RecordingInputDevice(), ScriptedConfirmer(), FakeClock(), AgentConfig(), SafetyConfig()
    )
    return AgentSession(agent, model, sampler, sampler.monitor, [lambda: closed.append("session")])


def summary(folder: Path) -> dict[str, object]:
    return dict(json.loads((folder / "run.json").read_text()))


def test_a_run_is_recorded_in_a_new_folder_and_its_session_closed(tmp_path: Path) -> None:
    closed: list[str] = []
    run = RecordedRun.create(
        session([CLICK, DONE], closed), "press OK", runs_dir=tmp_path, encoder=CvPngEncoder(), dry_run=False, via="cli"
    )
    assert run.folder.parent == tmp_path and run.folder.name.endswith("-press-ok") and not run.folder.exists()
    steps = list(run.steps(CancelToken()))
    assert [s.status for s in steps] == ["acted", "finished"] and closed == ["session"]
    written = summary(run.folder)
    assert written["status"] == "finished" and written["steps"] == 2
    assert written["meta"] == {"model": "fake-nemotron", "monitor": "DUMMY0", "dry_run": False, "via": "cli"}
    assert (run.folder / "step-0000.png").is_file() and (run.folder / "step-0000-p0.png").is_file()


def test_a_run_dropped_between_steps_is_kept_as_stopped(tmp_path: Path) -> None:
    closed: list[str] = []
    folder = tmp_path / "chosen"
    run = RecordedRun.create(
        session([CLICK, DONE], closed),
        "t",
        runs_dir=tmp_path,
        encoder=CvPngEncoder(),
        dry_run=True,
        via="gui",
        folder=folder,
    )
    steps = run.steps(CancelToken())
    assert next(steps).status == "acted"
    steps.close()  # what the GUI's worker does after a stop between steps
    assert summary(folder)["status"] == "stopped" and closed == ["session"]


def test_a_run_that_fails_is_kept_as_crashed(tmp_path: Path) -> None:
    closed: list[str] = []
    run = RecordedRun.create(
        session([], closed), "t", runs_dir=tmp_path, encoder=CvPngEncoder(), dry_run=False, via="mcp"
    )
    with pytest.raises(AssertionError, match="ran out of scripted replies"):  # a bug, not a model error
        list(run.steps(CancelToken()))
    written = summary(run.folder)
    assert written["status"] == "crashed" and "AssertionError" in str(written["error"]) and closed == ["session"]


def test_bundle_folders_are_unique_and_named_after_the_task(tmp_path: Path) -> None:
    first = bundle_folder(tmp_path, "Open the Terminal!", now=0.0)
    first.mkdir()
    second = bundle_folder(tmp_path, "Open the Terminal!", now=0.0)
    assert first.name.endswith("-open-the-terminal") and second.name == first.name + "-2"
    assert bundle_folder(tmp_path, "???", now=0.0).name.endswith("-task")
