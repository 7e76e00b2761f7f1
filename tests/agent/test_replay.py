"""The replay generator driven through fakes: a scripted screen, a locator that says where each target is now.

It yields the Agent's Step records (so the CLI, the GUI timeline and the trajectory writer consume both the
same way), acts at the points found again, stops on a missing target, asks or refuses as the safety
policy says, and releases the input at the end.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from omnidesk.agent.actions import ACTION_ADAPTER, Action, Click, Done, Drag, Hotkey, Point, TypeText
from omnidesk.agent.config import SafetyConfig
from omnidesk.agent.errors import ActionError, ConfigError, RecordingError, SafetyStop
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import CancelToken, Step
from omnidesk.agent.replay import Replayer, load_replay
from omnidesk.agent.safety import SafetyPolicy
from omnidesk.agent.trajectory import TrajectoryWriter
from tests.fakes import (
    FakeClock,
    FakeTargetLocator,
    MonitorsScreen,
    RecordingInputDevice,
    ScriptedConfirmer,
    StaticScreen,
    make_frame,
)

RIGHT = MonitorInfo(index=2, name="DUMMY1", geometry=Rect(1920, 0, 1280, 1024))
LEFT = MonitorInfo(index=1, name="DUMMY0", geometry=Rect(0, 0, 1920, 1080), primary=True)
FRACTION = Point(x=0.5, y=0.5, space="fraction")


def patch(name: str) -> dict[str, Any]:
    return {"file": name, "anchor": [24.0, 24.0], "image_size": [512, 512]}


def write_bundle(folder: Path, steps: list[tuple[str, Action, list[dict[str, Any]]]], monitor: str = "DUMMY1") -> Path:
    """A bundle as the TrajectoryWriter leaves it (only the fields replay reads)."""
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"task": "press OK", "status": "finished"}))
    lines = []
    for index, (status, action, patches) in enumerate(steps):
        record = {
            "index": index,
            "status": status,
            "action": ACTION_ADAPTER.dump_python(action, mode="json"),
            "observation": {"monitor": {"index": 2, "name": monitor}},
        }
        if patches:
            record["patches"] = patches
        lines.append(json.dumps(record))
    (folder / "steps.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def replayer(
    locator: FakeTargetLocator,
    device: RecordingInputDevice,
    *,
    confirmer: ScriptedConfirmer | None = None,
    dry_run: bool = False,
) -> Replayer:
    return Replayer(
        MonitorsScreen([make_frame(LEFT), make_frame(RIGHT)]),
        locator,
        device,
        confirmer or ScriptedConfirmer(),
        FakeClock(),
        SafetyPolicy(SafetyConfig()),
        dry_run=dry_run,
    )


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    drag = Drag(start=FRACTION, end=Point(x=0.9, y=0.9, space="fraction"))
    return write_bundle(
        tmp_path / "run",
        [
            ("acted", Click(point=FRACTION), [patch("p0.png")]),
            ("model_error", Click(point=FRACTION), []),  # not replayed
            ("acted", TypeText(text="hello"), []),
            ("acted", drag, [patch("d0.png"), patch("d1.png")]),
            ("acted", Hotkey(keys=("ctrl", "s")), []),
            ("finished", Done(answer="ok"), []),
        ],
    )


def test_recorded_steps_are_done_again_where_the_targets_are_now(recorded: Path) -> None:
    locator = FakeTargetLocator({"p0.png": (2500, 300), "d0.png": (2000, 100), "d1.png": (2100, 900)})
    device = RecordingInputDevice()
    steps = list(replayer(locator, device).run(load_replay(recorded), CancelToken()))

    assert [s.status for s in steps] == ["acted", "acted", "acted", "acted", "finished"]
    assert [s.index for s in steps] == [0, 1, 2, 3, 4] and {s.task for s in steps} == {"press OK"}
    assert device.actions == [
        ("click", 2500, 300, "left", 1, ()),
        ("type", "hello"),
        ("drag", 2000, 100, 2100, 900, "left"),
        ("hotkey", ("ctrl", "s")),
    ]
    click = steps[0]
    assert isinstance(click.action, Click) and click.action.point.space == "desktop"
    assert click.target == (2500, 300) and click.result == "found again (match 0.99)"
    assert steps[2].target == (2100, 900)  # the drag's end, as the Agent records it
    assert dict(steps[0].timings).keys() == {"locate", "act", "settle"}
    assert isinstance(steps[-1].action, Done) and steps[-1].action.answer == "replayed 4 steps without the model"
    # every target was looked for on the recorded monitor (DUMMY1), not the primary
    assert {frame.monitor.name for frame, _ in locator.calls} == {"DUMMY1"}
    assert device.calls[-1] == ("release_all",)


def test_a_dry_run_finds_every_target_and_touches_nothing(recorded: Path) -> None:
    locator = FakeTargetLocator({"p0.png": (2500, 300), "d0.png": (2000, 100), "d1.png": (2100, 900)})
    device = RecordingInputDevice()
    steps = list(replayer(locator, device, dry_run=True).run(load_replay(recorded), CancelToken()))
    assert [s.status for s in steps] == ["planned"] * 4 + ["finished"]
    assert len(locator.calls) == 3 and device.calls == []


def test_a_target_that_is_gone_stops_the_replay_before_acting_on_it(recorded: Path) -> None:
    locator = FakeTargetLocator(
        {"p0.png": (2500, 300), "d0.png": ActionError("the recorded target is not on the screen")}
    )
    device = RecordingInputDevice()
    seen: list[Step] = []
    with pytest.raises(ActionError, match="not on the screen"):
        seen.extend(replayer(locator, device).run(load_replay(recorded), CancelToken()))
    assert [s.status for s in seen] == ["acted", "acted"]
    assert [c[0] for c in device.actions] == ["click", "type"]  # no drag anywhere else
    assert device.calls[-1] == ("release_all",)


def test_risky_steps_ask_and_a_no_stops_the_replay(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "run", [("acted", Hotkey(keys=("alt", "f4")), [])])
    asked = ScriptedConfirmer(confirms=[True])
    steps = list(
        replayer(FakeTargetLocator({}), RecordingInputDevice(), confirmer=asked).run(load_replay(bundle), CancelToken())
    )
    assert [s.status for s in steps] == ["acted", "finished"]
    assert asked.requests[0].question.startswith("Replay wants to press alt+f4")

    device = RecordingInputDevice()
    with pytest.raises(SafetyStop, match="step 1 not confirmed"):
        list(
            replayer(FakeTargetLocator({}), device, confirmer=ScriptedConfirmer()).run(
                load_replay(bundle), CancelToken()
            )
        )
    assert device.actions == []


def test_each_action_waits_for_the_screen_to_settle_and_says_when_it_did_not(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "run", [("acted", Hotkey(keys=("ctrl", "s")), [])])
    still = FakeClock()
    steps = list(
        Replayer(
            MonitorsScreen([make_frame(RIGHT)]),
            FakeTargetLocator({}),
            RecordingInputDevice(),
            ScriptedConfirmer(),
            still,
            SafetyPolicy(SafetyConfig()),
        ).run(load_replay(bundle), CancelToken())
    )
    assert steps[0].result == "done" and still.slept == [0.3]

    changing = FakeClock()
    flicker = StaticScreen([make_frame(RIGHT, color=(n, n, n)) for n in range(60)])
    replayer = Replayer(
        flicker,
        FakeTargetLocator({}),
        RecordingInputDevice(),
        ScriptedConfirmer(),
        changing,
        SafetyPolicy(SafetyConfig()),
    )
    (step, _) = replayer.run(load_replay(bundle), CancelToken())
    assert step.status == "acted" and step.result.startswith("done; the screen was still changing after 3.")
    assert 3.0 <= sum(changing.slept) < 3.4


def test_a_stop_request_ends_the_replay_with_a_stopped_step(recorded: Path) -> None:
    cancel = CancelToken()
    device = RecordingInputDevice(on_call=lambda call: cancel.cancel() if call[0] == "type" else None)
    locator = FakeTargetLocator({"p0.png": (2500, 300), "d0.png": (2000, 100), "d1.png": (2100, 900)})
    steps = list(replayer(locator, device).run(load_replay(recorded), cancel))
    assert [s.status for s in steps] == ["acted", "stopped"]
    assert steps[-1].error == "stopped by the user" and steps[-1].result == "stopped during the action"
    assert [c[0] for c in device.actions] == ["click", "type"] and ("release_all",) in device.calls


def test_the_monitor_can_be_chosen_and_must_exist(recorded: Path) -> None:
    locator = FakeTargetLocator({"p0.png": (100, 100), "d0.png": (10, 10), "d1.png": (20, 20)})
    list(replayer(locator, RecordingInputDevice()).run(load_replay(recorded), CancelToken(), monitor="DUMMY0"))
    assert {frame.monitor.name for frame, _ in locator.calls} == {"DUMMY0"}
    with pytest.raises(ConfigError, match="no monitor named 'HDMI-9'"):
        list(replayer(locator, RecordingInputDevice()).run(load_replay(recorded), CancelToken(), monitor="HDMI-9"))


def test_a_bundle_without_target_patches_is_refused_before_anything_happens(tmp_path: Path) -> None:
    bundle = write_bundle(
        tmp_path / "run",
        [("acted", TypeText(text="x"), []), ("acted", Click(point=FRACTION), [])],
    )
    with pytest.raises(RecordingError, match="step 2 has no saved target patches"):
        load_replay(bundle)
    with pytest.raises(RecordingError, match="not a readable trajectory bundle"):
        load_replay(tmp_path / "nowhere")


def test_what_the_trajectory_writer_records_is_what_replay_reads(tmp_path: Path) -> None:
    """The contract from the writing side: an acted click leaves one patch whose anchor is the click."""
    from tests.fakes import letterbox

    frame = make_frame(RIGHT)
    overview = letterbox(frame, 512)
    step = Step(
        index=0,
        task="press OK",
        started_at=0.0,
        status="acted",
        actions=(Click(point=Point(x=0.25, y=0.5, space="fraction")),),
        performed=1,
        observation=_observation(overview),
    )
    encoder = _RawEncoder()
    with TrajectoryWriter(tmp_path / "b", "press OK", encoder=encoder) as writer:
        writer.record(step)
    script = load_replay(tmp_path / "b")
    (only,) = script.steps
    (target,) = only.patches
    assert script.task == "press OK" and script.monitor == "DUMMY1"
    assert target.file == tmp_path / "b" / "step-0000-p0.png" and target.file.is_file()
    assert target.image_size == 512 and target.anchor == (24.0, 24.0)


def _observation(overview: Any) -> Any:
    from omnidesk.agent.ports import Observation

    return Observation((overview,), 0.0, True, 1.0)


class _RawEncoder:
    def encode_png(self, rgb: Any) -> bytes:
        return bytes(rgb.tobytes()[:16])


@pytest.mark.parametrize("name", ["../p0.png", "/etc/p0.png", "sub/../../p0.png"])
def test_a_target_patch_outside_the_bundle_is_refused(tmp_path: Path, name: str) -> None:
    folder = write_bundle(tmp_path / "run", [("acted", Click(point=FRACTION), [patch(name)])])
    with pytest.raises(RecordingError, match="outside"):
        load_replay(folder)
