"""``omnidesk ask --recording`` end to end: a recording written by the real recorder, the installed console
script, and a strict scripted Nemotron that takes frames only in vLLM's video layout and checks what it got —
the frames' time labels against when the screen changed, the sound against when the beep was, the parts of
a long recording and the request that merges them. Bad recordings get one clear line and stay byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import signal
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import Frame
from omnidesk.runtime.recording import SegmentedRecorder
from tests.app.cli_helpers import isolated_env, run_cli
from tests.models.plugin import TinyModel
from tests.models.scripted_nemotron_video import Combine, SeenPart, serve

SCREEN = (640, 360)
MONITOR = MonitorInfo(1, "x", Rect(0, 0, *SCREEN))
RED_AT, BLUE_AT, BEEP_AT, LENGTH = 2.0, 5.0, 3.0, 8.0


def _screen(t: float) -> np.ndarray:
    px = np.full((SCREEN[1], SCREEN[0], 4), 40, np.uint8)
    if t >= RED_AT:
        px[100:200, 100:300, :3] = (0, 0, 230)  # BGRA: red
    if t >= BLUE_AT:
        px[220:320, 360:560, :3] = (230, 0, 0)  # blue
    return px


def make_recording(out: Path, *, audio: bool = True, fps: float = 10.0) -> Path:
    """LENGTH seconds: a red box from RED_AT, a blue one from BLUE_AT, a 0.5 s beep at BEEP_AT."""
    recorder = SegmentedRecorder(out, monitor={"index": 1}, size=SCREEN, fps=fps, audio=audio, segment_seconds=3.0)
    t_audio = np.arange(int(LENGTH * 16000)) / 16000
    beep = (0.5 * np.sin(2 * np.pi * 440 * t_audio) * ((t_audio >= BEEP_AT) & (t_audio < BEEP_AT + 0.5))).astype(
        np.float32
    )
    for i in range(int(LENGTH * fps)):
        t = i / fps
        recorder.add_frame(Frame(_screen(t), 1000.0 + t, MONITOR, i + 1))
        if audio:
            recorder.add_audio(beep[int(t * 16000) : int((t + 1 / fps) * 16000)], 1000.0 + t)
    recorder.close()
    return out


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _first(seen: SeenPart, channel: int) -> float | None:
    """The label of the first frame showing the red (0) / blue (2) box."""
    for t, rgb in zip(seen.times, seen.frames, strict=True):
        if np.count_nonzero((rgb[:, :, channel] > 150) & (rgb[:, :, 1] < 80)) > 1000:
            return t
    return None


def _mmss(t: float) -> str:
    return f"{int(t) // 60:02d}:{int(t) % 60:02d}"


def policy(seen: SeenPart | Combine) -> str:
    """Says when each box first shows, citing the frame labels; merges parts keeping each box's earliest time."""
    if isinstance(seen, Combine):
        earliest: dict[str, str] = {}
        for name, at in re.findall(r"(red|blue) box at (\d\d:\d\d)", seen.text):
            earliest[name] = min(earliest.get(name, at), at)
        return "Together: " + "; ".join(f"{name} box at {at}" for name, at in earliest.items()) + "."
    found = [(name, _first(seen, ch)) for name, ch in (("red", 0), ("blue", 2))]
    told = [f"{name} box at {_mmss(t)}" for name, t in found if t is not None]
    return ("I saw the " + " and the ".join(told) + ".") if told else "Nothing appeared."


def _ask(url: str, env: dict[str, str], *args: str) -> tuple[dict[str, object], str]:
    result = run_cli(["ask", "When did the boxes appear?", "--remote", url, "--json", *args], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def _onset(samples: np.ndarray) -> float:
    env = np.sqrt((samples[: len(samples) // 160 * 160].reshape(-1, 160) ** 2).mean(axis=1))
    return float(np.flatnonzero(env > 0.5 * env.max())[0]) / 100


def test_frames_at_their_times_and_the_sound_with_them(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec")
    before = _digests(folder)
    with serve(policy, SCREEN, crops=True) as model:
        reply, _ = _ask(model.url, isolated_env(tmp_path), "--recording", str(folder))
        _ask(model.url, isolated_env(tmp_path), "--recording", str(folder), "--crops")
    assert model.refusals == []
    seen, cropped = model.seen
    assert isinstance(seen, SeenPart) and isinstance(cropped, SeenPart)
    # Opted in: the regions that changed, each labelled with its frame's time (none for the start frame).
    assert cropped.times == seen.times and cropped.crop_times == seen.times[1:]
    red, blue = _first(seen, 0), _first(seen, 2)
    # The frame that first shows a box is labelled with a time after the box appeared and within the
    # moment EVS waits for the screen to settle (analysed at 4 fps).
    assert red is not None and RED_AT <= red <= RED_AT + 0.6, seen.times
    assert blue is not None and BLUE_AT <= blue <= BLUE_AT + 0.6, seen.times
    assert seen.times[0] == 0.0 and len(seen.times) == 3
    # The sound of the same time: all 8 s, the beep where it was played.
    assert sum(seen.clips) == pytest.approx(LENGTH, abs=0.15)
    assert _onset(seen.audio) == pytest.approx(BEEP_AT, abs=0.05)
    assert seen.span == ("00:00", "00:08", "00:08")
    assert reply["answer"] == "I saw the red box at 00:02 and the blue box at 00:05."
    assert [p["frames"] for p in reply["parts"]] == [seen.times]  # type: ignore[index]
    assert _digests(folder) == before


def test_a_range_and_a_long_recording_in_parts(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec")
    before = _digests(folder)
    env = isolated_env(tmp_path)
    with serve(policy, SCREEN) as model:
        ranged, _ = _ask(model.url, env, "--recording", str(folder), "--from", "00:04", "--to", "7.5")
        parted, _ = _ask(model.url, env, "--recording", str(folder), "--budget", "700")
    assert model.refusals == []
    first = model.seen[0]
    assert isinstance(first, SeenPart) and first.times[0] == pytest.approx(4.0, abs=0.11)
    assert (
        sum(first.clips) == pytest.approx(3.5, abs=0.15)
        and ranged["answer"] == "I saw the red box at 00:04 and the blue box at 00:05."
    )
    # 286 tokens a frame (vLLM's image tiler on 672x384) and 12.5 a second of sound: two frames a part.
    parts = [s for s in model.seen[1:] if isinstance(s, SeenPart)]
    combine = model.seen[-1]
    assert len(parts) == 2 and isinstance(combine, Combine)
    assert [len(p.times) for p in parts] == [2, 1]
    spans = [(p["from"], p["to"]) for p in parted["parts"]]  # type: ignore[index]
    assert spans[0][0] == 0.0 and spans[0][1] == spans[1][0] == parts[1].times[0] and spans[1][1] == LENGTH
    assert sum(parts[0].clips) + sum(parts[1].clips) == pytest.approx(LENGTH, abs=0.2)
    assert "I saw the red box at 00:02" in combine.text and "[00:00–00:05]" in combine.text
    assert parted["answer"] == "Together: red box at 00:02; blue box at 00:05."
    assert _digests(folder) == before


def test_bad_recordings_get_one_clear_line_and_stay_unchanged(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    silent = make_recording(tmp_path / "silent", audio=False)
    cut = make_recording(tmp_path / "cut")
    index = json.loads((cut / "index.json").read_text())
    last = cut / index["segments"][-1]["file"]
    index["segments"], index["complete"] = index["segments"][:-1], False  # as a recorder killed mid-segment leaves it
    (cut / "index.json").write_text(json.dumps(index))
    last.write_bytes(last.read_bytes()[: last.stat().st_size * 2 // 3])
    empty = tmp_path / "empty.mkv"
    empty.touch()
    crafted = tmp_path / "crafted.mkv"
    data = (silent / "segment-00000.mkv").read_bytes()
    crafted.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_OMNIDESK/XYZW"))
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for path in (silent, cut, empty, crafted):
        shutil.move(path, inputs / path.name)
    silent, cut, empty, crafted = (inputs / p.name for p in (silent, cut, empty, crafted))
    before = _digests(inputs)
    with serve(policy, SCREEN) as model:
        quiet, quiet_err = _ask(model.url, env, "--recording", str(silent))
        cutoff, cut_err = _ask(model.url, env, "--recording", str(cut))
        failures = {
            name: run_cli(["ask", "What happened?", "--remote", model.url, "--recording", str(path)], env)
            for name, path in (("empty", empty), ("codec", crafted), ("missing", tmp_path / "nothing.mkv"))
        }
    assert model.refusals == []
    assert "has no sound" in quiet_err and isinstance(model.seen[0], SeenPart) and model.seen[0].clips == []
    assert quiet["answer"] == "I saw the red box at 00:02 and the blue box at 00:05."
    assert "cut off, or still being written" in cut_err and float(str(cutoff["to"])) > 6.0
    expected = {"empty": r"empty \(0 bytes\)", "codec": "codec this build cannot decode", "missing": "does not exist"}
    for name, result in failures.items():
        assert result.returncode == 1, (name, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and re.search(expected[name], lines[0]) and "Traceback" not in result.stderr, name
    assert _digests(inputs) == before


_LIVE_WRITER = """
import sys, time
import numpy as np
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import Frame
from omnidesk.runtime.recording import SegmentedRecorder
mon = MonitorInfo(1, "x", Rect(0, 0, 640, 360))
rec = SegmentedRecorder(sys.argv[1], monitor={}, size=(640, 360), fps=10, audio=False, segment_seconds=2.0)
for i in range(60):  # two closed segments, 2 s into the third; a red box from 4.5 s
    px = np.full((360, 640, 4), 40, np.uint8)
    if i >= 45:
        px[100:200, 100:300, :3] = (0, 0, 230)
    rec.add_frame(Frame(px, 100.0 + i / 10, mon, i + 1))
print("written", flush=True)
time.sleep(120)
"""


def test_what_just_happened_reads_the_recording_being_written(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    folder = tmp_path / "data" / "recordings" / "20261202-201500"
    child = subprocess.Popen([sys.executable, "-c", _LIVE_WRITER, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "written"
        with serve(policy, SCREEN) as model:
            reply, err = _ask(model.url, env, "--last", "0.05")  # the last 3 s of the newest recording
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    assert model.refusals == [] and "still being written" in err
    (seen,) = model.seen
    assert isinstance(seen, SeenPart)
    # The open segment is read as far as it was flushed (clusters of at most 1 s): the box at 4.5 s is in it.
    red = _first(seen, 0)
    assert red is not None and 4.5 <= red <= 5.1 and seen.times[0] >= 1.5, seen.times
    assert reply["answer"] == f"I saw the red box at {_mmss(red)}." and reply["recording"] == str(folder)


@pytest.mark.model
def test_the_in_process_model_gets_the_frames_and_the_sound(tiny_omni: TinyModel, tmp_path: Path) -> None:
    assert tiny_omni.mmproj is not None
    files = ["--model", str(tiny_omni.model), "--mmproj", str(tiny_omni.mmproj)]
    parts = {}
    for audio in (True, False):
        folder = make_recording(tmp_path / f"rec-{audio}", audio=audio)
        args = ["ask", "What happened?", "--recording", str(folder), "--json", "--max-tokens", "4", *files]
        result = run_cli(args, isolated_env(tmp_path))
        assert result.returncode == 0, result.stderr
        (parts[audio],) = json.loads(result.stdout)["parts"]
    assert parts[True]["frames"] == parts[False]["frames"] and len(parts[True]["frames"]) == 3
    assert parts[True]["audio_seconds"] == pytest.approx(LENGTH, abs=0.15) and parts[False]["audio_seconds"] == 0
    # The sound costs what the audio encoder makes of 8 s (12.5 tokens a second: 100); the one line saying it
    # follows the frames (at most a token a byte) comes on top.
    line = "\nThe recording's sound from 00:00–00:08 follows the frames, in order."
    extra = parts[True]["prompt_tokens"] - parts[False]["prompt_tokens"]
    assert 100 + 5 <= extra <= 100 + len(line.encode()), parts


def _question_wav(path: Path, seconds: float, rate: int = 16000) -> Path:
    """A tone standing in for a spoken question (300 Hz, 0.3 loud)."""
    samples = (0.3 * np.sin(2 * np.pi * 300 * np.arange(round(seconds * rate)) / rate) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return path


def test_a_spoken_question_from_a_wav_goes_as_its_own_audio(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec")
    env = isolated_env(tmp_path)
    with serve(policy, SCREEN) as model:
        question = _question_wav(tmp_path / "question.wav", 2.0)
        args = ["ask", "--recording", str(folder), "--audio", str(question), "--remote", model.url, "--json"]
        result = run_cli(args, env)
        assert result.returncode == 0, result.stderr
        wrong_rate = _question_wav(tmp_path / "cd.wav", 1.0, rate=44100)
        refused = run_cli(["ask", "--recording", str(folder), "--audio", str(wrong_rate), "--remote", model.url], env)
        nothing = run_cli(["ask", "--recording", str(folder), "--remote", model.url], env)
    assert model.refusals == []
    (seen,) = model.seen
    assert isinstance(seen, SeenPart) and seen.spoken is not None and len(seen.spoken) == 2 * 16000
    assert float(np.abs(seen.spoken).max()) == pytest.approx(0.3, abs=0.01)
    assert seen.question.startswith("the one the person spoke") and sum(seen.clips) == pytest.approx(LENGTH, abs=0.15)
    assert json.loads(result.stdout)["answer"] == "I saw the red box at 00:02 and the blue box at 00:05."
    assert (
        refused.returncode != 0
        and "cd.wav is 44100 Hz; a spoken question goes to the model at 16 kHz" in refused.stderr
    )
    assert nothing.returncode != 0 and "give the QUESTION" in nothing.stderr


@pytest.mark.model
def test_the_in_process_model_hears_the_spoken_question(tiny_omni: TinyModel, tmp_path: Path) -> None:
    """libmtmd encodes the question's clip with the recording's: 8 s more of question cost what the audio
    encoder makes of 8 s (12.5 tokens a second: 100), the text being the same."""
    assert tiny_omni.mmproj is not None
    folder = make_recording(tmp_path / "rec", audio=False)
    files = ["--model", str(tiny_omni.model), "--mmproj", str(tiny_omni.mmproj), "--max-tokens", "4", "--json"]
    tokens = {}
    for seconds in (2.0, 10.0):
        question = _question_wav(tmp_path / f"q{seconds:g}.wav", seconds)
        result = run_cli(["ask", "--recording", str(folder), "--audio", str(question), *files], isolated_env(tmp_path))
        assert result.returncode == 0, result.stderr
        (part,) = json.loads(result.stdout)["parts"]
        tokens[seconds] = part["prompt_tokens"]
    assert tokens[10.0] - tokens[2.0] == 100, tokens
