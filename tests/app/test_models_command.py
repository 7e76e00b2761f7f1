"""``omnidesk models pull|list|verify|remove`` against a local Hub mirror, then ``ask`` with the result."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.app.cli_helpers import OMNIDESK, isolated_env, run_cli
from tests.models.hub_server import HubState, hub_server
from tests.models.plugin import TinyModel

pytestmark = pytest.mark.model


def test_pull_then_ask_then_verify_and_remove(tiny_omni: TinyModel, tmp_path: Path) -> None:
    assert tiny_omni.mmproj is not None
    repo = {
        "ggml-org/NVIDIA-Nemotron-3-Nano-Omni": {
            "NVIDIA-Nemotron-3-Nano-Omni-Q4_K_M.gguf": tiny_omni.model,
            "mmproj-NVIDIA-Nemotron-3-Nano-Omni-f16.gguf": tiny_omni.mmproj,
        }
    }
    env = isolated_env(tmp_path)
    with hub_server(repo) as (endpoint, _):
        pulled = run_cli(["models", "pull", "--endpoint", endpoint], env)
    assert pulled.returncode == 0, pulled.stderr
    assert "nemotron-3-nano-omni-Q4_K_M" in pulled.stdout

    listed = json.loads(run_cli(["models", "list", "--json"], env).stdout)
    assert [m["name"] for m in listed] == ["nemotron-3-nano-omni-Q4_K_M"]
    assert listed[0]["mmproj"].endswith("mmproj-NVIDIA-Nemotron-3-Nano-Omni-f16.gguf")

    # The pulled model became the configured one: ask needs no --model.
    asked = run_cli(["ask", "hello?", "--json", "--max-tokens", "3", "--seed", "1"], env)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["model"] == "omnidesk-tiny-nemotron-h-moe"

    verified = run_cli(["models", "verify", "nemotron-3-nano-omni-Q4_K_M", "--json"], env)
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"] is True
    model_file = Path(listed[0]["model"])
    model_file.write_bytes(model_file.read_bytes()[:1000])
    broken = run_cli(["models", "verify", "nemotron-3-nano-omni-Q4_K_M"], env)
    assert broken.returncode == 1 and "DAMAGED" in broken.stdout

    removed = run_cli(["models", "remove", "nemotron-3-nano-omni-Q4_K_M", "--yes"], env)
    assert removed.returncode == 0 and json.loads(run_cli(["models", "list", "--json"], env).stdout) == []
    missing = run_cli(["models", "verify", "nemotron-3-nano-omni-Q4_K_M"], env)
    assert missing.returncode == 2 and "no model named" in missing.stderr


def test_verify_takes_a_file_path(
    tiny_omni: TinyModel, tiny_qwen3: TinyModel, tiny_llama: TinyModel, tmp_path: Path
) -> None:
    assert tiny_omni.mmproj is not None and tiny_qwen3.mmproj is not None
    env = isolated_env(tmp_path)
    good = run_cli(["models", "verify", str(tiny_omni.model), "--mmproj", str(tiny_omni.mmproj), "--json"], env)
    assert good.returncode == 0, good.stderr
    report = json.loads(good.stdout)
    assert report["ok"] and report["files"][0].startswith(tiny_omni.model.name)
    assert "vision (nemotron_v2_vl) and audio" in report["files"][1]
    # An mmproj on its own, and a Qwen3-VL model found by any profile's architectures.
    alone = run_cli(["models", "verify", str(tiny_qwen3.mmproj)], env)
    assert alone.returncode == 0 and "mmproj with vision (qwen3vl_merger)" in alone.stdout
    assert run_cli(["models", "verify", str(tiny_qwen3.model)], env).returncode == 0
    wrong = run_cli(["models", "verify", str(tiny_llama.model)], env)
    assert wrong.returncode == 1 and "DAMAGED" in wrong.stdout and "'llama' model" in wrong.stdout
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(tiny_omni.model.read_bytes()[:2000])
    truncated = run_cli(["models", "verify", str(cut), "--json"], env)
    assert truncated.returncode == 1 and "truncated" in json.loads(truncated.stdout)["problems"][0]


def test_a_killed_pull_continues_where_it_stopped(tiny_omni: TinyModel, tmp_path: Path) -> None:
    """The mirror comes from the settings (model.hub_endpoint); SIGKILL mid-download, pull again: a Range."""
    assert tiny_omni.mmproj is not None
    model_file = "NVIDIA-Nemotron-3-Nano-Omni-Q4_K_M.gguf"
    repo = {
        "ggml-org/NVIDIA-Nemotron-3-Nano-Omni": {
            model_file: tiny_omni.model,
            "mmproj-NVIDIA-Nemotron-3-Nano-Omni-f16.gguf": tiny_omni.mmproj,
        }
    }
    env = isolated_env(tmp_path)
    state = HubState(throttle=100_000)
    with hub_server(repo, state=state) as (endpoint, requests):
        assert run_cli(["config", "set", "model.hub_endpoint", endpoint], env).returncode == 0
        with subprocess.Popen(
            [str(OMNIDESK), "models", "pull"], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        ) as proc:
            assert proc.stderr is not None
            for line in proc.stderr:  # a progress line every 2 s when stderr is not a terminal
                if line.startswith(model_file) and not line.startswith(f"{model_file}: 0 KiB"):
                    break
            proc.kill()
        partial = tmp_path / "data" / "models" / ".nemotron-3-nano-omni-Q4_K_M.partial" / f"{model_file}.part"
        kept = partial.stat().st_size
        assert 0 < kept < tiny_omni.model.stat().st_size
        state.throttle = None
        pulled = run_cli(["models", "pull"], env)
    assert pulled.returncode == 0, pulled.stderr
    gets = [
        r for r in requests if r.startswith("GET /ggml-org/NVIDIA-Nemotron-3-Nano-Omni/resolve/") and model_file in r
    ]
    assert gets[-1].endswith(f"bytes={kept}-"), gets
    verified = run_cli(["models", "verify", "nemotron-3-nano-omni-Q4_K_M", "--json"], env)
    assert json.loads(verified.stdout)["ok"] is True
