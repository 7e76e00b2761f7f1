"""Template matching behind the TargetLocator port, on a recording made by the agent itself (no display).

A run clicks a two-coloured button; the button then moves; the replay engine with the real locator finds
the recorded patch again and clicks the button's new place — the whole bundle → replay contract, in memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from omnidesk.agent.config import AgentConfig, SafetyConfig
from omnidesk.agent.errors import RecordingError, TargetNotFoundError
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.loop import Agent
from omnidesk.agent.ports import CancelToken, Frame, TargetPatch
from omnidesk.agent.replay import Replayer, load_replay
from omnidesk.agent.safety import SafetyPolicy
from omnidesk.agent.trajectory import TrajectoryWriter
from omnidesk.runtime.png import CvPngEncoder
from omnidesk.runtime.template_locator import TemplateLocator, find_patch
from tests.fakes import (
    FakeClock,
    FakeModel,
    FakeSampler,
    RecordingInputDevice,
    ScriptedConfirmer,
    StaticScreen,
    make_frame,
)

# A square monitor of the model's image size: the overview is the frame itself, pixel for pixel.
SQUARE = MonitorInfo(index=1, name="DUMMY0", geometry=Rect(0, 0, 512, 512), primary=True)
RED, BLUE = (220, 30, 30), (30, 30, 220)


def button_at(x: int, y: int) -> Frame:
    return make_frame(SQUARE, boxes=[(Rect(x, y, 60, 30), RED), (Rect(x + 40, y + 5, 14, 20), BLUE)])


DONE = "done\n## Action:\nend\n## Code:\ncomputer.terminate(status='success')"


def click_at(x: float, y: float) -> str:
    return f"the red button\n## Action:\nclick\n## Code:\npyautogui.click(x={x / 512:.4f}, y={y / 512:.4f})"


def test_a_recorded_click_is_replayed_on_the_moved_button(tmp_path: Path) -> None:
    recording = RecordingInputDevice()
    model = FakeModel([click_at(130, 95), DONE])
    agent = Agent(
        model,
        FakeSampler(StaticScreen([button_at(100, 80)])),
        recording,
        ScriptedConfirmer(),
        FakeClock(),
        AgentConfig(),
        SafetyConfig(),
    )
    with TrajectoryWriter(tmp_path / "run", "press it", encoder=CvPngEncoder()) as writer:
        steps = list(writer.consume(agent.run("press it", CancelToken())))
    assert [s.status for s in steps] == ["acted", "finished"]
    (recorded_click,) = recording.actions

    device = RecordingInputDevice()
    replayer = Replayer(
        StaticScreen([button_at(300, 400)]),
        TemplateLocator(),
        device,
        ScriptedConfirmer(),
        FakeClock(),
        SafetyPolicy(SafetyConfig()),
    )
    replayed = list(replayer.run(load_replay(tmp_path / "run"), CancelToken()))
    assert [s.status for s in replayed] == ["acted", "finished"]
    (click,) = device.actions
    assert click[1] == recorded_click[1] + 200 and click[2] == recorded_click[2] + 320
    assert replayed[0].result.startswith("found again (match 1.00")


def test_find_patch_rejects_ambiguous_and_featureless_targets() -> None:
    rng = np.random.default_rng(1)
    patch = rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)
    screen = np.zeros((200, 300, 3), np.uint8)
    screen[50:70, 80:100] = patch
    assert find_patch(screen, patch)[:2] == (80.0, 50.0)
    screen[120:140, 200:220] = patch
    with pytest.raises(TargetNotFoundError, match="two places"):
        find_patch(screen, patch)
    with pytest.raises(TargetNotFoundError, match="no features"):
        find_patch(screen, np.full((20, 20, 3), 7, np.uint8))
    with pytest.raises(TargetNotFoundError, match="not on the screen"):
        find_patch(np.zeros((200, 300, 3), np.uint8) + 90, patch)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not a png at all", "not a target patch PNG"),
        # a header that claims 60000×60000 pixels: refused before the decoder allocates anything
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (60000).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00", "larger"),
    ],
)
def test_a_crafted_patch_file_is_a_recording_error(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "p0.png"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match=expected):
        TemplateLocator().locate(button_at(100, 100), TargetPatch(path, (5.0, 5.0), 512))
