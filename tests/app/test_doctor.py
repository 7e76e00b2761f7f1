"""``omnidesk doctor`` on the real rig, then with each piece broken in turn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app.cli_helpers import isolated_env, run_cli
from tests.models.plugin import TinyModel
from tests.rig.a11y import A11yBus
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


@pytest.mark.model
def test_ready_with_a_valid_model(rig_env: dict[str, str], tiny_omni: TinyModel) -> None:
    env = dict(rig_env, OMNIDESK_MODEL__MODEL=str(tiny_omni.model), OMNIDESK_MODEL__MMPROJ=str(tiny_omni.mmproj))
    code, checks = _doctor(env)
    assert checks["model"]["ok"], checks["model"]
    assert "nemotron_h_moe" in str(checks["model"]["detail"])
    assert checks["mmproj"]["ok"] and checks["voice"]["ok"]
    assert checks["fit"]["ok"], checks["fit"]
    speed = str(checks["speed"]["detail"])
    # Each reasoning choice, with the kept screenshots' tokens from the projector's own sizing (the tiny
    # mmproj letterboxes every screenshot onto 32x32: 4 tokens) and the rig's 1920x1080 monitor.
    assert "per step (3 screenshots of 1920x1080 kept, 4 tokens each" in speed, speed
    assert "non-thinking: about" in speed and "thinking, budget 16384 + 1024: up to" in speed
    assert code == 0


@pytest.mark.model
def test_vision_only_mmproj_turns_voice_off(rig_env: dict[str, str], tiny_omni_vision_only: TinyModel) -> None:
    env = dict(
        rig_env,
        OMNIDESK_MODEL__MODEL=str(tiny_omni_vision_only.model),
        OMNIDESK_MODEL__MMPROJ=str(tiny_omni_vision_only.mmproj),
    )
    code, checks = _doctor(env)
    assert not checks["voice"]["ok"]
    assert "no audio encoder" in str(checks["voice"]["detail"])
    assert code == 0  # voice is optional


@pytest.mark.model
def test_corrupt_model(rig_env: dict[str, str], tiny_omni: TinyModel, tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(tiny_omni.model.read_bytes()[: tiny_omni.model.stat().st_size // 2])
    env = dict(rig_env, OMNIDESK_MODEL__MODEL=str(broken), OMNIDESK_MODEL__MMPROJ=str(tiny_omni.mmproj))
    code, checks = _doctor(env)
    assert not checks["model"]["ok"]
    assert "truncated" in str(checks["model"]["detail"]).lower()
    assert code == 1


@pytest.mark.model
def test_wrong_architecture(rig_env: dict[str, str], tiny_llama: TinyModel) -> None:
    code, checks = _doctor(dict(rig_env, OMNIDESK_MODEL__MODEL=str(tiny_llama.model)))
    assert not checks["model"]["ok"]
    assert "llama" in str(checks["model"]["detail"])
    assert code == 1


def test_unreachable_remote_engine(rig_env: dict[str, str]) -> None:
    code, checks = _doctor(dict(rig_env, OMNIDESK_MODEL__REMOTE_URL="http://127.0.0.1:9"))
    assert not checks["model"]["ok"]
    assert "cannot reach http://127.0.0.1:9" in str(checks["model"]["detail"])
    assert code == 1


def test_accessibility_line_without_a_bus_says_how_to_turn_it_on(rig_env: dict[str, str]) -> None:
    env = {k: v for k, v in rig_env.items() if k not in ("DBUS_SESSION_BUS_ADDRESS", "AT_SPI_BUS_ADDRESS")}
    _, checks = _doctor(env)
    line = checks["accessibility"]
    assert not line["ok"] and not line["needed"]
    assert "DBUS_SESSION_BUS_ADDRESS is not set" in str(line["detail"])
    assert "at-spi2-core" in str(line["fix"]) and "QT_LINUX_ACCESSIBILITY_ALWAYS_ON" in str(line["fix"])
    human = run_cli(["doctor"], env).stdout
    assert "✗ accessibility" in human and "(optional)" in human


def test_accessibility_line_with_a_bus(rig_env: dict[str, str], a11y_bus: A11yBus, x_display: XServer) -> None:
    _, checks = _doctor({**rig_env, **a11y_bus.env(x_display.display)})
    line = checks["accessibility"]
    assert line["ok"] and not line["needed"], line
    assert "AT-SPI bus answers" in str(line["detail"])


def test_the_fit_assessment_counts_the_monitor_the_agent_looks_at(tiny_qwen3: TinyModel) -> None:
    """A Qwen3-VL projector sizes each screenshot from the monitor's pixels: a 4K monitor costs more tokens
    per step than a 720p one, and the estimate says which monitor it assumed (the first-run panel's)."""
    from omnidesk.app.doctor_model import Machine, assess_fit
    from omnidesk.app.settings import Settings
    from omnidesk.runtime.llama.gguf_file import read_gguf
    from omnidesk.runtime.llama.offload import DeviceMemory
    from omnidesk.runtime.performance import MachineSpeed

    assert tiny_qwen3.mmproj is not None
    settings = Settings()
    settings.model.profile = "qwen3-vl"
    text, mmproj = read_gguf(tiny_qwen3.model), read_gguf(tiny_qwen3.mmproj)
    memory = DeviceMemory(free_vram=0, free_ram=8 * 2**30, gpu_offload_supported=False, gpu_name="")
    speed = MachineSpeed(cpu_gflops=100.0, ram_gbps=20.0)
    small = assess_fit(settings, text, mmproj, Machine(memory, speed, (1280, 720)))
    large = assess_fit(settings, text, mmproj, Machine(memory, speed, (3840, 2160)))
    assert 0 < small.tokens < large.tokens
    assert large.estimate.prefill_seconds > small.estimate.prefill_seconds
    assert "screenshots of 3840x2160 kept" in large.speed and large.screen == (3840, 2160)
    # doctor passes the monitor it found; it wins over the machine's default
    assert assess_fit(settings, text, mmproj, Machine(memory, speed), (1280, 720)).tokens == small.tokens
