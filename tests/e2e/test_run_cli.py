"""``omnidesk run`` as a user runs it: the console script, a real (tiny, random) llama.cpp model that sees
the real screen, and the trajectory bundle it leaves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnidesk.agent.trajectory import load_bundle
from tests.app.cli_helpers import isolated_env, run_cli
from tests.models.plugin import TinyModel
from tests.rig.plugin import Launcher


@pytest.mark.desktop
@pytest.mark.model
def test_run_with_a_real_model_on_the_real_screen(tiny_omni: TinyModel, target_app: Launcher, tmp_path: Path) -> None:
    assert tiny_omni.mmproj is not None
    target_app(x=300, y=200)
    bundle = tmp_path / "bundle"
    args = ["run", "press OK", "--json", "--max-steps", "2", "--trajectory", str(bundle)]
    args += ["--model", str(tiny_omni.model), "--mmproj", str(tiny_omni.mmproj)]
    result = run_cli(args, isolated_env(tmp_path), timeout=300)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1, result.stderr  # a random model never finishes the task
    *steps, summary = lines
    # random weights write no valid action: each step is an observation for the next, then the limit
    assert [s["status"] for s in steps] == ["model_error", "model_error", "stopped"], result.stderr
    assert steps[0]["observation"]["images"][0]["kind"] == "overview"
    assert steps[0]["prompt_tokens"] > 0 and steps[1]["prompt_tokens"] > steps[0]["prompt_tokens"]
    assert summary == {"done": False, "bundle": str(bundle), "steps": 3}
    saved = load_bundle(bundle)
    assert saved.summary["status"] == "stopped" and saved.summary["steps"] == 3
    assert (bundle / "step-0000.png").stat().st_size > 100


def test_run_without_a_model_says_what_to_do(tmp_path: Path) -> None:
    result = run_cli(["run", "press OK"], isolated_env(tmp_path))
    assert result.returncode == 2
    assert "no model configured" in result.stderr


@pytest.mark.desktop
@pytest.mark.model
def test_ctrl_c_stops_the_run_and_closes_the_bundle(tiny_omni: TinyModel, target_app: Launcher, tmp_path: Path) -> None:
    import signal
    import subprocess

    from tests.app.cli_helpers import OMNIDESK

    assert tiny_omni.mmproj is not None
    target_app()
    bundle = tmp_path / "bundle"
    env = isolated_env(tmp_path, OMNIDESK_SAFETY__MODEL_ERROR_RETRIES="1000", OMNIDESK_SAFETY__MAX_STEPS="1000")
    args = [str(OMNIDESK), "run", "press OK", "--json", "--trajectory", str(bundle)]
    args += ["--model", str(tiny_omni.model), "--mmproj", str(tiny_omni.mmproj)]
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())  # a step has run: the agent is mid-task
        assert first["status"] == "model_error"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    *steps, summary = [json.loads(line) for line in out.splitlines()]
    assert steps[-1]["status"] == "stopped" and steps[-1]["error"] == "stopped by the user"
    assert summary["done"] is False
    saved = load_bundle(bundle)
    assert saved.summary["status"] == "stopped" and saved.summary["steps"] == len(steps) + 1


def test_run_without_a_display_says_so_before_loading_a_model(tmp_path: Path) -> None:
    missing_model = tmp_path / "nowhere.gguf"
    result = run_cli(["run", "press OK", "--model", str(missing_model)], isolated_env(tmp_path, DISPLAY=None))
    assert result.returncode == 1
    assert "DISPLAY" in result.stderr and "nowhere.gguf" not in result.stderr


@pytest.mark.desktop
def test_run_refuses_while_another_omnidesk_runs(x_display, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from omnidesk.app.instance import InstanceLock

    with InstanceLock(tmp_path / "run"):  # what the GUI holds while it is open
        result = run_cli(["run", "press OK"], isolated_env(tmp_path))
    assert result.returncode == 1
    assert "already running" in result.stderr
    assert "Traceback" not in result.stderr
