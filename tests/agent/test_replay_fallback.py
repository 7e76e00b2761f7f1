"""The replay's model fallback decided through fakes: the real Replayer on a scripted screen, a locator that
says which targets are gone, and a hand-over that records the task it is given.

Only a missing target hands over, and only with a description and somewhere to hand over to; the model's
task holds the description and the recorded steps without their typed text (a secret by its placeholder).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omnidesk.agent.actions import Click, Done, Hotkey, Point, TypeText
from omnidesk.agent.errors import ActionError, InputError, SafetyStop, TargetNotFoundError
from omnidesk.agent.ports import CancelToken, Step
from omnidesk.agent.replay import load_replay
from omnidesk.agent.replay_fallback import handover_task, replay_with_fallback
from tests.agent.test_replay import FRACTION, patch, replayer, write_bundle
from tests.fakes import FakeTargetLocator, RecordingInputDevice, ScriptedConfirmer

DESCRIPTION = "Fill in the greeting and press OK."
GONE = TargetNotFoundError("the recorded target is not on the screen (best match 0.41 < 0.80)")


class HandOver:
    """A model run that records its task and yields a click and a finished step, numbered from 0."""

    def __init__(self) -> None:
        self.tasks: list[str] = []

    def __call__(self, task: str) -> Iterator[Step]:
        self.tasks.append(task)
        click = Click(point=Point(x=0.5, y=0.5, space="fraction"))
        yield Step(index=0, task=task, started_at=1.0, status="acted", actions=(click,), performed=1)
        yield Step(index=1, task=task, started_at=2.0, status="finished", actions=(Done(answer="ok"),), performed=1)


@pytest.fixture
def taught(tmp_path: Path) -> Path:
    """Click the field, type a greeting, click OK (the step whose target goes missing), type a secret."""
    return write_bundle(
        tmp_path / "taught",
        [
            ("acted", Click(point=FRACTION), [patch("field.png")]),
            ("acted", TypeText(text="Grüße, Welt"), []),
            ("acted", Click(point=Point(x=812, y=604, space="desktop")), [patch("ok.png")]),
            ("acted", TypeText(text="{{secret:github}}"), []),
        ],
    )


def _run(
    bundle: Path,
    found: dict[str, tuple[int, int] | Exception],
    hand_over: HandOver | None,
    *,
    description: str = DESCRIPTION,
    device: RecordingInputDevice | None = None,
    confirmer: ScriptedConfirmer | None = None,
) -> tuple[list[Step], RecordingInputDevice]:
    device = device or RecordingInputDevice()
    script = load_replay(bundle)
    steps = replayer(FakeTargetLocator(found), device, confirmer=confirmer).run(script, CancelToken())
    run = replay_with_fallback(steps, script, description=description, hand_over=hand_over, now=lambda: 9.0)
    return list(run), device


def test_a_missing_target_hands_the_rest_to_the_model_with_the_description(taught: Path) -> None:
    model = HandOver()
    steps, device = _run(taught, {"field.png": (2000, 300), "ok.png": GONE}, model)

    assert [s.status for s in steps] == ["acted", "acted", "handed_over", "acted", "finished"]
    assert [s.index for s in steps] == [0, 1, 2, 3, 4]  # the model's steps numbered on from the replay's
    handed = steps[2]
    assert handed.error == str(GONE) and handed.result.startswith("handed over to the model")
    assert handed.performed == 0 and isinstance(handed.action, Click)  # the step that was not done
    # the replay did its two steps; the model was asked once, after the replay let go of the input
    assert [c[0] for c in device.actions] == ["click", "type"]
    assert device.calls[-1] == ("release_all",)
    (task,) = model.tasks
    assert task.startswith(DESCRIPTION + "\n\n")
    assert "already done again:\n1. click at (0.500, 0.500)\n2. type 11 characters\n\nThe target of step 3" in task
    assert task.endswith("recorded):\n3. click at (812, 604)\n4. type {{secret:github}}")
    assert "Grüße" not in task  # typed text by its length only


def test_the_task_lists_every_step_when_the_first_target_is_missing(taught: Path) -> None:
    script = load_replay(taught)
    task = handover_task(DESCRIPTION, script, 0)
    assert "already done" not in task and "The target of step 1 is not on the screen" in task
    assert task.splitlines()[-4:] == [
        "1. click at (0.500, 0.500)",
        "2. type 11 characters",
        "3. click at (812, 604)",
        "4. type {{secret:github}}",
    ]


def test_a_secret_mixed_with_text_is_described_by_length(tmp_path: Path) -> None:
    bundle = write_bundle(
        tmp_path / "b",
        [
            ("acted", TypeText(text="user {{secret:github}}"), []),
            ("acted", Click(point=FRACTION), [patch("ok.png")]),
        ],
    )
    task = handover_task(DESCRIPTION, load_replay(bundle), 1)
    assert "1. type 22 characters" in task and "{{secret" not in task


@pytest.mark.parametrize("description", ["", "  \n"])
def test_without_a_description_the_missing_target_error_stays(taught: Path, description: str) -> None:
    model = HandOver()
    with pytest.raises(TargetNotFoundError, match="not on the screen") as caught:
        _run(taught, {"field.png": (2000, 300), "ok.png": GONE}, model, description=description)
    assert caught.value.step == 2 and model.tasks == []


def test_without_a_model_the_missing_target_error_stays(taught: Path) -> None:
    with pytest.raises(TargetNotFoundError, match="not on the screen"):
        _run(taught, {"field.png": (2000, 300), "ok.png": GONE}, None)


def test_a_declined_confirmation_is_never_handed_over(tmp_path: Path) -> None:
    bundle = write_bundle(
        tmp_path / "b",
        [("acted", Hotkey(keys=("alt", "f4")), []), ("acted", Click(point=FRACTION), [patch("ok.png")])],
    )
    model = HandOver()
    with pytest.raises(SafetyStop, match="not confirmed"):
        _run(bundle, {"ok.png": GONE}, model, confirmer=ScriptedConfirmer(confirms=[False]))
    assert model.tasks == []


def test_a_refused_secret_fill_is_never_handed_over(tmp_path: Path) -> None:
    """The replay's secret fill is refused (no keyring, no binding): a safety stop, not a missing target."""
    bundle = write_bundle(
        tmp_path / "b",
        [("acted", TypeText(text="{{secret:github}}"), []), ("acted", Click(point=FRACTION), [patch("ok.png")])],
    )
    model = HandOver()
    device = RecordingInputDevice()
    with pytest.raises(SafetyStop):
        _run(bundle, {"ok.png": GONE}, model, device=device)
    assert model.tasks == [] and device.actions == []


def test_an_input_failure_is_never_handed_over(taught: Path) -> None:
    model = HandOver()
    with pytest.raises(ActionError) as caught:
        _run(taught, {"field.png": InputError("the X server refused the click"), "ok.png": GONE}, model)
    assert not isinstance(caught.value, TargetNotFoundError) and model.tasks == []


def test_a_replay_that_finds_every_target_never_asks_the_model(taught: Path, tmp_path: Path) -> None:
    bundle = write_bundle(
        tmp_path / "ok",
        [("acted", Click(point=FRACTION), [patch("field.png")]), ("acted", Hotkey(keys=("ctrl", "s")), [])],
    )
    model = HandOver()
    steps, _ = _run(bundle, {"field.png": (2000, 300)}, model)
    assert [s.status for s in steps] == ["acted", "acted", "finished"] and model.tasks == []
