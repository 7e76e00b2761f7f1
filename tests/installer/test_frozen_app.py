"""The frozen (PyInstaller) app really works: doctor on the rig, a real model answering about an image, a
screen + microphone recording, and its main window opening, loading the model and closing on SIGTERM.

``--version`` alone would prove nothing (it loads none of Qt, llama.cpp, PortAudio or X); these tests run
the code paths that need the bundled native libraries.
"""

from __future__ import annotations

import configparser
import json
import signal
import subprocess
import time
from pathlib import Path

import av
import cv2
import mss
import numpy as np
import pytest

from tests.app.cli_helpers import OMNIDESK, isolated_env
from tests.installer.frozen import ROOT, FrozenApp
from tests.models.plugin import TinyModel
from tests.rig.audio import PulseAudioRig
from tests.rig.xserver import XServer

pytestmark = [pytest.mark.slow, pytest.mark.desktop, pytest.mark.model, pytest.mark.timeout(1200)]


def _run(executable: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Run outside the source tree, so nothing can be imported from it by accident.
    return subprocess.run(
        [str(executable), *args],
        env=env,
        cwd=env["OMNIDESK_DATA_DIR"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def rig_env(x_display: XServer, pulse_audio: PulseAudioRig, tmp_path: Path) -> dict[str, str]:
    env = isolated_env(tmp_path, DISPLAY=x_display.display, XDG_SESSION_TYPE="x11", WAYLAND_DISPLAY=None)
    env.pop("PYTHONPATH", None)
    Path(env["OMNIDESK_DATA_DIR"]).mkdir(parents=True)
    return env


def test_frozen_doctor_finds_display_input_microphone_and_the_model(
    frozen_app: FrozenApp, rig_env: dict[str, str], tiny_omni: TinyModel
) -> None:
    env = dict(rig_env, OMNIDESK_MODEL__MODEL=str(tiny_omni.model), OMNIDESK_MODEL__MMPROJ=str(tiny_omni.mmproj))
    result = _run(frozen_app.executable, ["doctor", "--json"], env)
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    checks = {check["name"]: check for check in report["checks"]}
    for name in ("python", "packages", "display", "screen", "input", "hotkeys", "microphone", "model"):
        assert checks[name]["ok"], checks[name]
    assert "PyQt6" in str(checks["packages"]["detail"]) and "llama-cpp-python" in str(checks["packages"]["detail"])
    assert "1920x1080" in str(checks["screen"]["detail"])
    assert "nemotron_h_moe" in str(checks["model"]["detail"])
    assert report["ok"] and result.returncode == 0


def test_frozen_ask_answers_about_an_image_like_the_installed_app(
    frozen_app: FrozenApp, tiny_omni: TinyModel, tmp_path: Path
) -> None:
    assert tiny_omni.mmproj is not None
    env = isolated_env(tmp_path)
    Path(env["OMNIDESK_DATA_DIR"]).mkdir(parents=True)
    png = tmp_path / "screen.png"
    cv2.imwrite(str(png), np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8))
    question = ["ask", "describe", "--model", str(tiny_omni.model), "--mmproj", str(tiny_omni.mmproj), "--json"]
    question += ["--max-tokens", "6", "--seed", "1"]

    def ask(executable: Path, *extra: str) -> dict[str, object]:
        result = _run(executable, [*question, *extra], env)
        assert result.returncode == 0, result.stderr
        reply: dict[str, object] = json.loads(result.stdout)
        return reply

    frozen = ask(frozen_app.executable, "--image", str(png))
    frozen_plain = ask(frozen_app.executable)
    installed = ask(OMNIDESK, "--image", str(png))
    assert frozen["model"] == "omnidesk-tiny-nemotron-h-moe"
    assert frozen["completion_tokens"] == 6 and frozen["stop_reason"] == "length"
    image_tokens = int(str(frozen["prompt_tokens"])) - int(str(frozen_plain["prompt_tokens"]))
    assert image_tokens > 0  # the image went through the bundled libmtmd
    # Same model, prompt and seed: the frozen app counts exactly what the installed one does.
    assert frozen["prompt_tokens"] == installed["prompt_tokens"]
    assert frozen["completion_tokens"] == installed["completion_tokens"]


def test_frozen_record_writes_video_and_microphone_audio(
    frozen_app: FrozenApp, rig_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "recording"
    result = _run(frozen_app.executable, ["record", "--seconds", "2", "--fps", "5", "--out", str(out)], rig_env)
    assert result.returncode == 0, result.stderr
    index = json.loads((out / "index.json").read_text())
    assert index["complete"] and index["audio"], index
    frames = sum(segment["frames"] for segment in index["segments"])
    decoded, audio_seconds = 0, 0.0
    for segment in index["segments"]:  # bundled FFmpeg (PyAV) wrote them; the test's own PyAV reads them
        with av.open(str(out / segment["file"])) as container:
            assert container.streams.video[0].codec_context.name == "h264"
            assert container.streams.audio[0].codec_context.name == "opus"
            for frame in container.decode(video=0, audio=0):
                if isinstance(frame, av.VideoFrame):
                    assert (frame.width, frame.height) == (1920, 1080)
                    decoded += 1
                elif isinstance(frame, av.AudioFrame):
                    audio_seconds += frame.samples / frame.sample_rate
    assert decoded == frames >= 5
    assert audio_seconds > 1.0  # the microphone (PortAudio → PulseAudio) streamed into the recording


def _wait_for_log(log: Path, text: str, process: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(encoding="utf-8", errors="replace"):
            return
        assert process.poll() is None, f"the app exited ({process.returncode}) before logging {text!r}"
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in {log} after {timeout} s")


def _window_rect(window_id: str, env: dict[str, str]) -> dict[str, int]:
    shell = subprocess.run(
        ["xdotool", "getwindowgeometry", "--shell", window_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    values = dict(line.split("=", 1) for line in shell.split())
    return {
        "left": int(values["X"]),
        "top": int(values["Y"]),
        "width": int(values["WIDTH"]),
        "height": int(values["HEIGHT"]),
    }


def _painted(rect: dict[str, int], display: str, timeout: float) -> tuple[int, float]:
    """Colours and pixel spread of the window's area, once it looks painted (or at the timeout)."""
    deadline = time.monotonic() + timeout
    with mss.MSS(display=display) as screen:
        while True:
            shot = np.asarray(screen.grab(rect))[:, :, :3]
            colours, spread = len(np.unique(shot.reshape(-1, 3), axis=0)), float(shot.std())
            if (colours > 50 and spread > 5) or time.monotonic() > deadline:
                return colours, spread
            time.sleep(0.2)


def _startup_wm_class() -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "installer" / "omnidesk.desktop", encoding="utf-8")
    return parser["Desktop Entry"]["StartupWMClass"]


def test_frozen_main_window_opens_loads_the_model_and_closes_on_sigterm(
    frozen_app: FrozenApp, rig_env: dict[str, str], tiny_omni: TinyModel
) -> None:
    env = dict(rig_env, OMNIDESK_MODEL__MODEL=str(tiny_omni.model), OMNIDESK_MODEL__MMPROJ=str(tiny_omni.mmproj))
    log = Path(env["OMNIDESK_DATA_DIR"]) / "logs" / "omnidesk.log"
    process = subprocess.Popen(
        [str(frozen_app.executable)],
        env=env,
        cwd=env["OMNIDESK_DATA_DIR"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        found = subprocess.run(
            # By pid: other tests on this display may have their own window called Omnidesk.
            ["xdotool", "search", "--sync", "--onlyvisible", "--pid", str(process.pid), "--name", "^Omnidesk$"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert found.returncode == 0 and found.stdout.strip(), found.stderr
        # The GUI loads the configured model on a worker; the runtime logs it once llama.cpp has it.
        _wait_for_log(log, "loaded omnidesk-tiny-nemotron-h-moe", process, timeout=60)
        window_id = found.stdout.split()[0]
        # The menu entry's StartupWMClass is what desktops match against the window's WM_CLASS instance.
        wm_class = subprocess.run(
            ["xprop", "-id", window_id, "WM_CLASS"], env=env, capture_output=True, text=True, timeout=10, check=True
        ).stdout  # WM_CLASS(STRING) = "omnidesk", "Omnidesk"
        assert wm_class.split("=", 1)[1].split(",")[0].strip().strip('"') == _startup_wm_class(), wm_class
        rect = _window_rect(window_id, env)
        assert rect["width"] >= 400 and rect["height"] >= 300, rect
        # On top of anything else on this display, then its pixels: painted widgets, not an empty frame.
        subprocess.run(["xdotool", "windowraise", window_id], env=env, timeout=10, check=True)
        colours, spread = _painted(rect, env["DISPLAY"], timeout=20)
        print(f"window {rect}: {colours} colours, pixel std {spread:.1f}")
        assert colours > 50 and spread > 5, "the window is blank: nothing was painted"
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
        print(f"closed {time.monotonic() - started:.2f} s after SIGTERM")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "Traceback" not in err, err
    assert "GUI closed" in log.read_text(encoding="utf-8")
