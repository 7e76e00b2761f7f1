"""The window's replay automations hand over to the loaded model where a taught one's target is gone: the
timeline gets a ``handed_over`` row and then the model's steps, the model gets the saved description, and
its run is recorded like any run (naming the automation it carried on)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnidesk.agent.actions import Click, Point
from omnidesk.agent.errors import TargetNotFoundError
from omnidesk.agent.ports import CancelToken, Confirmer, ModelRequest, Step, TextPart
from omnidesk.app.gui.agent_runner import GuiAgentRunner
from omnidesk.app.gui.automation_store import Automation
from omnidesk.app.gui.confirmer import QtConfirmer
from omnidesk.app.gui.controller import RunRequest
from omnidesk.app.gui.saved_automations import automation_request
from omnidesk.app.gui.timeline import TimelineWidget
from omnidesk.app.settings import Settings
from tests.agent.test_replay import FRACTION, patch, write_bundle
from tests.app.gui.test_agent_runner import FakeSessions, _load, _paths, _settings
from tests.app.gui.test_with_agent import code
from tests.fakes import FakeModel

DESCRIPTION = "Press OK in the form."


def _gone_after_one(
    settings: Settings, confirmer: Confirmer, request: RunRequest, cancel: CancelToken
) -> Iterator[Step]:
    """A replay that does its first step and then finds the second step's target gone."""
    click = Click(point=Point(x=300, y=200, space="desktop"))
    yield Step(index=0, task="Press OK", started_at=0.0, status="acted", actions=(click,), performed=1)
    raise TargetNotFoundError("the recorded target is not on the screen (best match 0.30 < 0.80)", step=1)


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return write_bundle(
        tmp_path / "taught",
        [("acted", Click(point=FRACTION), [patch("a.png")]), ("acted", Click(point=FRACTION), [patch("b.png")])],
    )


def _text(request: ModelRequest) -> str:
    return "\n".join(p.text for m in request.messages for p in m.parts if isinstance(p, TextPart))


def test_a_taught_replay_hands_over_to_the_loaded_model(tmp_path: Path, bundle: Path) -> None:
    model = FakeModel([code("pyautogui.click(0.5, 0.5)"), code('computer.terminate(status="success")')])
    sessions = FakeSessions()
    runner = GuiAgentRunner(
        _settings(),
        _paths(tmp_path),
        QtConfirmer(),
        model_factory=lambda s, p, c: model,
        session_factory=sessions,
        replayer=_gone_after_one,
    )
    _load(runner)
    automation = Automation(name="ok", task="Press OK", kind="replay", bundle=str(bundle), description=DESCRIPTION)
    request = automation_request(automation, None)
    assert request.fallback == DESCRIPTION
    steps = list(runner(request, CancelToken()))

    assert [(s.index, s.status) for s in steps] == [(0, "acted"), (1, "handed_over"), (2, "acted"), (3, "finished")]
    assert "not on the screen" in steps[1].error
    assert DESCRIPTION in _text(model.requests[0]) and "The target of step 2 is not on the screen" in _text(
        model.requests[0]
    )
    assert sessions.calls[0]["monitor"] == "DUMMY1" and sessions.calls[0]["close_model"] is False
    assert not model.closed  # lent to the run, loaded for the next one
    (run,) = (tmp_path / "d" / "runs").iterdir()
    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))["meta"]
    assert meta["handed_over_from"] == str(bundle) and meta["via"] == "gui"


@pytest.mark.parametrize(("description", "fallback"), [("", True), (DESCRIPTION, False)])
def test_no_description_or_the_setting_off_keeps_the_replay_error(
    tmp_path: Path, bundle: Path, description: str, fallback: bool
) -> None:
    model = FakeModel([code('computer.terminate(status="success")')])
    settings = _settings()
    settings.replay.model_fallback = fallback
    runner = GuiAgentRunner(
        settings, _paths(tmp_path), QtConfirmer(), model_factory=lambda s, p, c: model, replayer=_gone_after_one
    )
    _load(runner)
    request = RunRequest("Replay: Press OK", replay=bundle, fallback=description)
    with pytest.raises(TargetNotFoundError, match="not on the screen"):
        list(runner(request, CancelToken()))
    assert model.requests == []


def test_the_timeline_shows_the_hand_over(qtbot) -> None:
    timeline = TimelineWidget()
    qtbot.addWidget(timeline)
    step = Step(index=1, task="t", started_at=0.0, status="handed_over", error="the target is not on the screen")
    timeline.add_step(step)
    item = timeline.topLevelItem(0)
    assert item is not None and item.text(2) == "handed over"
    assert "not on the screen" in item.toolTip(0)
