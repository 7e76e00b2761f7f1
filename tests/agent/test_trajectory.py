"""Trajectory bundles: written step by step, readable after a crash, pictures off the loop's thread."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from omnidesk.agent.actions import Click, Point, TypeText
from omnidesk.agent.config import AgentConfig, SafetyConfig
from omnidesk.agent.errors import RecordingError
from omnidesk.agent.geometry import Rect
from omnidesk.agent.loop import Agent
from omnidesk.agent.ports import CancelToken, Step, WindowInfo
from omnidesk.agent.secrets import SecretBinding
from omnidesk.agent.trajectory import TrajectoryWriter, draw_action, load_bundle
from omnidesk.runtime.png import CvPngEncoder
from tests.fakes import (
    FakeClock,
    FakeModel,
    FakeSampler,
    FakeSecretStore,
    FakeWindowInspector,
    RecordingInputDevice,
    ScriptedConfirmer,
    StaticScreen,
    letterbox,
    make_frame,
)


def code(call: str) -> str:
    return f"ok\n## Action:\nact\n## Code:\n{call}"


def run_agent(script: list[str]) -> list[Step]:
    agent = Agent(
        FakeModel(script),
        FakeSampler(StaticScreen([make_frame()])),
        RecordingInputDevice(),
        ScriptedConfirmer(confirms=[True]),
        FakeClock(),
        AgentConfig(),
        SafetyConfig(),
        windows=FakeWindowInspector([WindowInfo(1, "Login", ("app", "App"), Rect(0, 0, 1920, 1080))]),
        secrets=FakeSecretStore({"pw": "hunter2"}, {"pw": SecretBinding(window_class=("app",))}),
    )
    return list(agent.run("do it", CancelToken()))


def test_bundle_of_a_whole_run(tmp_path: Path) -> None:
    import cv2

    steps = run_agent(
        [
            code("pyautogui.click(0.25, 0.5)"),
            "garbage",
            code("pyautogui.write('{{secret:pw}}')"),
            code("computer.terminate(status='success', answer='ok')"),
        ]
    )
    with TrajectoryWriter(tmp_path / "b", "do it", encoder=CvPngEncoder()) as writer:
        for step in steps:
            writer.record(step)
    bundle = load_bundle(tmp_path / "b")
    assert bundle.summary["status"] == "finished" and bundle.summary["steps"] == 4
    assert [s["status"] for s in bundle.steps] == ["acted", "model_error", "acted", "finished"]
    assert bundle.steps[0]["action"]["kind"] == "click" and bundle.steps[0]["target"] == [480, 540]
    assert bundle.steps[2]["action"]["text"] == "{{secret:pw}}"
    # the frozen (phase, seconds) pairs of a Step stay a JSON object on disk, as in older bundles
    assert bundle.steps[0]["timings"] == dict(steps[0].timings) and "generate" in bundle.steps[0]["timings"]
    assert "hunter2" not in (tmp_path / "b" / "steps.jsonl").read_text()
    picture = cv2.imread(str(tmp_path / "b" / bundle.steps[0]["png"]))
    assert picture.shape == (1080, 1920, 3)  # the whole screenshot the model saw
    # the click is drawn at (480, 540) of the overview: a magenta ring around the point
    assert tuple(picture[540, 480 + 7]) == (255, 0, 255)  # BGR of magenta
    assert not list((tmp_path / "b").glob("*.tmp"))


def test_draw_action_marks_the_point_and_leaves_the_original() -> None:
    image = letterbox(make_frame(), 512)
    drawn = draw_action(image, Click(point=Point(x=0.5, y=0.5, space="fraction")))
    assert (drawn != image.pixels).any() and not (image.pixels == (255, 0, 255)).all(axis=2).any()
    assert (draw_action(image, TypeText(text="x")) == image.pixels).all()
    off = Click(point=Point(x=1.5, y=0.5, space="fraction"))  # off the image: not drawn, no error
    assert (draw_action(image, off) == image.pixels).all()


def test_a_killed_run_leaves_a_valid_bundle(tmp_path: Path) -> None:
    """A writer process is killed with SIGKILL mid-run: JSON parses, PNGs are whole."""
    folder = tmp_path / "crash"
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parents[2])!r})
        from tests.agent.test_trajectory import run_agent, code
        from omnidesk.agent.trajectory import TrajectoryWriter
        from omnidesk.runtime.png import CvPngEncoder
        clicks = [code(f"pyautogui.click(0.{{i + 1}}, 0.5)") for i in range(6)]
        steps = run_agent(clicks + [code("computer.terminate()")])
        from pathlib import Path
        writer = TrajectoryWriter(Path({str(folder)!r}), "t", encoder=CvPngEncoder())
        for n, step in enumerate(steps):
            writer.record(step)
            if n == 4:
                writer._steps.write('{{"index": 5, "stat')  # a torn line, as a kill mid-write leaves it
                writer._steps.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], check=False, timeout=120, capture_output=True, text=True)
    assert result.returncode == -signal.SIGKILL, result.stderr
    bundle = load_bundle(folder)
    assert bundle.summary["status"] == "running" and bundle.summary["steps"] == 5
    assert [s["index"] for s in bundle.steps] == [0, 1, 2, 3, 4]
    import cv2

    for png in folder.glob("*.png"):
        assert cv2.imread(str(png)) is not None, png


def test_crash_inside_the_with_block_is_recorded(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), TrajectoryWriter(tmp_path / "c", "t", encoder=None):
        raise RuntimeError("boom")
    assert json.loads((tmp_path / "c" / "run.json").read_text())["status"] == "crashed"


def test_unwritable_folder_is_a_recording_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(RecordingError):
        TrajectoryWriter(tmp_path / "file" / "b", "t", encoder=None)


def test_pictures_are_encoded_off_the_callers_thread(tmp_path: Path) -> None:
    import threading

    threads: list[str] = []

    class SpyEncoder(CvPngEncoder):
        def encode_png(self, rgb: np.ndarray) -> bytes:  # type: ignore[override]
            threads.append(threading.current_thread().name)
            return super().encode_png(rgb)

    steps = run_agent([code("pyautogui.click(0.25, 0.5)"), code("computer.terminate()")])
    with TrajectoryWriter(tmp_path / "d", "t", encoder=SpyEncoder()) as writer:
        for step in steps:
            writer.record(step)
    assert threads and threading.current_thread().name not in threads
    assert os.path.exists(tmp_path / "d" / "step-0001.png")


def _bundle(folder: Path, step: dict[str, object]) -> Path:
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"task": "t", "status": "finished"}))
    (folder / "steps.jsonl").write_text(json.dumps({"index": 0, "status": "acted", **step}) + "\n")
    return folder


@pytest.mark.parametrize(
    "step",
    [
        {"png": "../outside.png"},
        {"png": "/etc/hostname"},
        {"patches": [{"file": "../outside.png", "anchor": [1, 1], "image_size": [512, 512]}]},
    ],
)
def test_a_bundle_naming_a_file_outside_itself_is_refused(tmp_path: Path, step: dict[str, object]) -> None:
    with pytest.raises(RecordingError, match="outside"):
        load_bundle(_bundle(tmp_path / "b", step))


def test_a_bundle_whose_index_files_link_out_of_it_is_refused(tmp_path: Path) -> None:
    folder = _bundle(tmp_path / "b", {})
    elsewhere = tmp_path / "elsewhere.json"
    (folder / "run.json").rename(elsewhere)
    (folder / "run.json").symlink_to(elsewhere)
    with pytest.raises(RecordingError, match="outside"):
        load_bundle(folder)
