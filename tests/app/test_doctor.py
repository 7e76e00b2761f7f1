"""``omnidesk doctor`` on the real rig, then with each piece broken in turn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app.cli_helpers import isolated_env, run_cli
from tests.rig.audio import PulseAudioRig
from tests.rig.xserver import XServer

pytestmark = [pytest.mark.desktop]

# Makes ctypes find no libportaudio in the child process, exactly as on a system without the package.
_HIDE_PORTAUDIO = """
import ctypes.util
_find = ctypes.util.find_library
ctypes.util.find_library = lambda name: None if "portaudio" in name else _find(name)
"""


def _doctor(env: dict[str, str]) -> tuple[int, dict[str, dict[str, object]]]:
    result = run_cli(["doctor", "--json"], env)
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] == (result.returncode == 0)
    return result.returncode, {check["name"]: check for check in report["checks"]}


@pytest.fixture
def rig_env(x_display: XServer, pulse_audio: PulseAudioRig, tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path)


def test_rig_is_ready_but_no_model(rig_env: dict[str, str]) -> None:
    code, checks = _doctor(rig_env)
    for name in ("python", "packages", "display", "screen", "input", "hotkeys", "microphone"):
        assert checks[name]["ok"], checks[name]
    assert "1920x1080" in str(checks["screen"]["detail"])
    assert not checks["model"]["ok"]
    assert "no model configured" in str(checks["model"]["detail"])
    assert code == 1


def test_human_output_has_one_line_per_check(rig_env: dict[str, str]) -> None:
    result = run_cli(["doctor"], rig_env)
    lines = [line for line in result.stdout.splitlines() if not line.startswith("  →")]
    assert any(line.startswith("✓ display") for line in lines)
    assert any(line.startswith("✗ model") for line in lines)
    assert "  → run `omnidesk models pull`" in result.stdout
    assert result.returncode == 1


def test_no_display(rig_env: dict[str, str]) -> None:
    env = dict(rig_env)
    env.pop("DISPLAY")
    code, checks = _doctor(env)
    assert not checks["display"]["ok"]
    assert "DISPLAY is not set" in str(checks["display"]["detail"])
    assert not checks["input"]["ok"]
    assert code == 1


def test_wayland_is_refused_even_with_display(rig_env: dict[str, str]) -> None:
    env = dict(rig_env, WAYLAND_DISPLAY="wayland-0", XDG_SESSION_TYPE="wayland")
    code, checks = _doctor(env)
    assert not checks["display"]["ok"]
    assert "Wayland session" in str(checks["display"]["detail"])
    assert code == 1


def test_unreachable_display(rig_env: dict[str, str]) -> None:
    code, checks = _doctor(dict(rig_env, DISPLAY=":4242"))
    assert not checks["display"]["ok"]
    assert "cannot connect" in str(checks["display"]["detail"])
    assert code == 1


def test_no_microphone_source(rig_env: dict[str, str], tmp_path: Path) -> None:
    env = dict(rig_env, PULSE_SERVER=f"unix:{tmp_path}/no-such-pulse-socket")
    code, checks = _doctor(env)
    assert not checks["microphone"]["ok"]
    assert "no microphone" in str(checks["microphone"]["detail"])
    assert checks["microphone"]["needed"] is False
    assert checks["display"]["ok"]  # the rest still works
    assert code == 1  # only for the missing model: the microphone is optional


def test_no_portaudio_library(rig_env: dict[str, str], tmp_path: Path) -> None:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_HIDE_PORTAUDIO)
    code, checks = _doctor(dict(rig_env, PYTHONPATH=str(hook)))
    assert not checks["microphone"]["ok"]
    assert "PortAudio library is not installed" in str(checks["microphone"]["detail"])
    assert checks["display"]["ok"]
    assert code == 1  # only for the missing model: the microphone is optional
