"""``omnidesk teach``: a person (xdotool) shows a task on the Qt target app while narrating (espeak-ng into
the null-sink microphone); the saved automation, replayed by ``omnidesk replay`` after the window moved,
makes the target app report the same clicks and the exact text. Once the OK button looks different, the
replay cannot find it and hands over: the strict scripted Nemotron gets the saved description and the step
left in its trained layout and clicks the new button, which the target app reports. A killed teach
session leaves a readable recording and no automation."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from omnidesk.agent.replay import load_replay
from omnidesk.app.teaching.describe import QUESTION
from omnidesk.runtime.keymap import SpareKeys
from omnidesk.runtime.recording_reader import open_recording
from tests.app.cli_helpers import isolated_env, run_cli
from tests.models.scripted_nemotron import Answer, Seen, scripted_nemotron
from tests.models.scripted_nemotron_video import Combine, SeenPart, serve
from tests.rig.audio import PulseAudioRig
from tests.rig.plugin import Launcher

pytestmark = [pytest.mark.desktop, pytest.mark.slow]

TEXT = "Grüße <ok> 東京"
_MAIN = "import sys; from omnidesk.app.cli import main; sys.argv[0] = 'omnidesk'; sys.exit(main())"


class Teach:
    """``omnidesk teach`` as a child process; its stderr read on a thread so the test can wait for a line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _MAIN, "teach", *args],
            env={**env, "PYTHONWARNINGS": "error"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr: list[str] = []
        self._recording = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)
            if line.startswith("recording "):
                self._recording.set()
        self._recording.set()  # the process ended: stop waiting

    def wait_recording(self) -> None:
        """Until teach says the first frame is written (what the person does from then on has a picture)."""
        assert self._recording.wait(60), "".join(self.stderr)
        assert self.process.poll() is None, "".join(self.stderr)

    def finish(self) -> tuple[int, str, str]:
        assert self.process.stdout is not None
        out = self.process.stdout.read()  # stderr is the reader thread's alone
        self.process.wait(120)
        self._reader.join(10)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()
        return self.process.returncode, out, "".join(self.stderr)


def _xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, env=dict(os.environ), timeout=30)


DESCRIPTION = "Type the greeting into the form and press OK."


def describe_policy(seen: SeenPart | Combine) -> str:
    """The model: given the demonstration's frames and the narration in the trained video layout (the
    strict server checks the layout), it describes the task — only when it got what teach sends."""
    if not isinstance(seen, SeenPart) or seen.question != QUESTION:
        return "I was not asked about a demonstration."
    loud = float(np.sqrt(np.mean(seen.audio**2))) if len(seen.audio) else 0.0
    if len(seen.frames) < 2 or sum(seen.clips) < 1.0 or loud < 0.005:
        return f"I saw {len(seen.frames)} frames and heard {sum(seen.clips):.1f} s at {loud:.4f}."
    return f"TASK: {DESCRIPTION}\nSTEPS:\n1. Click the text field.\n2. Type the greeting.\n3. Press OK."


def carry_on(ok_color: str) -> Callable[[Seen], Answer]:
    """Nemotron handed the taught task: only when its instruction holds the saved description, the steps
    done and the step left (and never the typed text), it clicks the ``ok_color`` button, then reports
    success."""

    def act(seen: Seen) -> Answer:
        told = seen.instruction
        done = re.search(rf"already done again:\n1\. click at \(\d+, \d+\)\n2\. type {len(TEXT)} characters\n", told)
        left = re.search(r"steps left \(positions are where things were when it was recorded\):\n3\. click at \(", told)
        if DESCRIPTION not in told or done is None or left is None:
            return Answer("This is not the task I was taught.", "Give up.", 'computer.terminate(status="failure")')
        if TEXT in told:
            return Answer("I was told the typed text.", "Give up.", 'computer.terminate(status="failure")')
        if seen.step > 1:
            return Answer("OK was pressed.", "Report success.", 'computer.terminate(status="success", answer="ok")')
        rgb = np.array([int(ok_color[i : i + 2], 16) for i in (1, 3, 5)], np.int16)
        ys, xs = np.nonzero(np.all(np.abs(seen.screen.astype(np.int16) - rgb) <= 8, axis=2))
        if len(xs) < 16:
            return Answer("I cannot see OK.", "Give up.", 'computer.terminate(status="failure", answer="no OK")')
        height, width = seen.screen.shape[:2]
        x, y = (float(np.median(xs)) + 0.5) / width, (float(np.median(ys)) + 0.5) / height
        return Answer("OK is the green button. I click it.", "Click OK.", f"pyautogui.click({x:.4f}, {y:.4f})")

    return act


def repaint_target(patch: Path, old: str, new: str) -> None:
    """The saved target patch shows the button in ``new`` instead of ``old`` (``#rrggbb``): the look the
    automation was taught no longer exists on the screen, as after an app's restyle."""
    bgr = cv2.imread(str(patch), cv2.IMREAD_COLOR)
    colors = [np.array([int(c[i : i + 2], 16) for i in (5, 3, 1)], np.int16) for c in (old, new)]
    mask = np.all(np.abs(bgr.astype(np.int16) - colors[0]) <= 8, axis=2)
    assert mask.sum() > 100, "the patch does not show the button"
    bgr[mask] = colors[1].astype(np.uint8)
    assert cv2.imwrite(str(patch), bgr)


def _type(text: str) -> None:
    """The person types ``text`` with a keyboard layout that has its characters (as a person's does): the
    spare keycodes are mapped first, as Omnidesk's own typing does, so a loaded app reads every key right."""
    keys = SpareKeys()
    keys.ensure(text)
    try:
        _xdotool("type", "--delay", "40", "--", text)
    finally:
        keys.release_later()


def _click(app: object, widget: str) -> None:
    x, y = app.widget_center(widget)  # type: ignore[attr-defined]
    _xdotool("mousemove", "--sync", str(x), str(y), "click", "1")
    app.wait_for({"type": "mouse_release", "widget": widget}, timeout=15)  # type: ignore[attr-defined]


def test_teach_then_replay_after_the_window_moved(
    x_display: object, window_manager: object, pulse_audio: PulseAudioRig, target_app: Launcher, tmp_path: Path
) -> None:
    with contextlib.ExitStack() as stack:
        _teach_then_replay(stack, pulse_audio, target_app, tmp_path)


def _teach_then_replay(
    stack: contextlib.ExitStack, pulse_audio: PulseAudioRig, target_app: Launcher, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path)
    app = target_app(x=150, y=120, width=700, height=500, title="Form")
    narration = pulse_audio.speak("type the greeting into the field and press OK")
    model = stack.enter_context(serve(describe_policy, (1920, 1080)))
    teach = Teach(["fill the form", "--yes", "--remote", model.url], env)
    teach.wait_recording()
    speech = pulse_audio.play_async(narration)  # the person narrates while showing
    _click(app, "text_field")
    _type(TEXT)
    app.wait_for({"type": "text", "text": TEXT}, timeout=30)
    _click(app, "ok_button")
    app.wait_for({"type": "clicked", "widget": "ok_button"}, timeout=15)
    speech.wait()
    _xdotool("key", "ctrl+alt+shift+m")  # the teach hotkey ends the demonstration
    code, out, err = teach.finish()
    assert code == 0, err
    assert "3 steps shown" in out and f"type {TEXT!r}" in out, out
    assert "(!)" not in out, out  # every click has a target that is found again
    assert model.refusals == [] and f"task: {DESCRIPTION}" in out, [describe_policy(s) for s in model.seen]
    automations = list((tmp_path / "data" / "automations").glob("*.toml"))
    assert len(automations) == 1
    saved = tomllib.loads(automations[0].read_text(encoding="utf-8"))
    assert (saved["name"], saved["kind"]) == ("fill the form", "replay")
    assert saved["description"].startswith(DESCRIPTION + "\n\nAs it was shown:\n1. Click the text field.")
    script = load_replay(Path(saved["bundle"]))
    assert [s.actions[0].kind for s in script.steps] == ["click", "type", "click"]
    recording = open_recording(next((tmp_path / "data" / "recordings").glob("teach-*-fill-the-form")))
    assert recording.has_audio and recording.duration > 1.0
    assert TEXT not in (tmp_path / "data" / "logs" / "omnidesk.log").read_text(encoding="utf-8")
    app.close()

    moved = target_app(x=1000, y=450, width=700, height=500, title="Form")  # a fresh form, somewhere else
    result = run_cli(["replay", saved["bundle"], "--json"], env)
    assert result.returncode == 0, result.stderr
    press = moved.wait_for({"type": "mouse_press", "widget": "text_field"}, timeout=15)
    assert press["x"] > 1000
    moved.wait_for({"type": "text", "text": TEXT}, timeout=30)
    moved.wait_for({"type": "clicked", "widget": "ok_button"}, timeout=15)
    assert [e["text"] for e in moved.events if e["type"] == "text"][-1] == TEXT
    moved.close()

    # The OK button's taught look is gone: the replay does what it finds and the model does the rest.
    changed = target_app(x=500, y=300, width=700, height=500, title="Form")
    ok_color = changed.ready["colors"]["ok_button"]
    repaint_target(script.steps[2].patches[0].file, ok_color, "#8000ff")
    with scripted_nemotron(carry_on(ok_color), [(1920, 1080)]) as nemotron:
        result = run_cli(["replay", "fill the form", "--remote", nemotron.url, "--json"], env, timeout=240)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    brief = [(line["status"], line.get("result"), line.get("error")) for line in lines]
    assert result.returncode == 0, (result.stderr[-2000:], brief, nemotron.refusals)
    assert [line["status"] for line in lines] == ["acted", "acted", "handed_over", "acted", "finished"], lines
    assert "not on the screen" in lines[2]["error"] and "the model carries on" in result.stderr
    assert nemotron.refusals == [] and [seen.step for seen in nemotron.seen] == [1, 2]
    changed.wait_for({"type": "text", "text": TEXT}, timeout=30)  # replayed before the hand-over
    press = changed.wait_for({"type": "mouse_press", "widget": "ok_button"}, timeout=15)
    assert press["x"] > 500
    changed.wait_for({"type": "clicked", "widget": "ok_button"}, timeout=15)
    (run,) = (tmp_path / "data" / "runs").iterdir()
    assert json.loads((run / "run.json").read_text(encoding="utf-8"))["meta"]["handed_over_from"] == saved["bundle"]


def test_a_killed_teach_session_leaves_its_recording_and_no_automation(
    x_display: object, window_manager: object, target_app: Launcher, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path)
    config = tmp_path / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.toml").write_text("[recording]\nsegment_seconds = 2\n", encoding="utf-8")
    app = target_app(x=150, y=120, width=700, height=500, title="Form")
    teach = Teach(["half shown", "--yes", "--no-audio", "--no-describe"], env)
    teach.wait_recording()
    _click(app, "text_field")
    _type("half")
    app.wait_for({"type": "text", "text": "half"}, timeout=30)
    segments = tmp_path / "data" / "recordings"
    while len(list(segments.glob("teach-*/*.mkv"))) < 3:  # two closed segments and the open one
        _click(app, "text_field")
    teach.process.send_signal(signal.SIGKILL)
    code, _, err = teach.finish()
    assert code == -signal.SIGKILL, err
    recording = open_recording(next(segments.glob("teach-*-half-shown")))
    assert recording.duration >= 2.0
    assert not list((tmp_path / "data" / "automations").glob("*.toml"))
    assert not (tmp_path / "data" / "taught").exists()
