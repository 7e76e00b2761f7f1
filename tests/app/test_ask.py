"""``omnidesk ask`` end to end: the installed console script with the tiny omni model, local and remote."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.app.cli_helpers import isolated_env, run_cli
from tests.models.llama_server import llama_server
from tests.models.plugin import TinyModel

pytestmark = pytest.mark.model


@pytest.fixture()
def media(tmp_path: Path) -> tuple[Path, Path]:
    png = tmp_path / "screen.png"
    cv2.imwrite(str(png), np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8))
    wav = tmp_path / "speech.wav"
    pcm = (np.sin(np.arange(16000) * 0.1) * 8000).astype("<i2")
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(pcm.tobytes())
    return png, wav


def _ask(env: dict[str, str], *args: str) -> dict[str, object]:
    result = run_cli(["ask", "What is on the screen?", "--json", "--max-tokens", "6", "--seed", "1", *args], env)
    assert result.returncode == 0, result.stderr
    payload: dict[str, object] = json.loads(result.stdout)
    return payload


def test_ask_local_with_image_and_audio(tiny_omni: TinyModel, media: tuple[Path, Path], tmp_path: Path) -> None:
    assert tiny_omni.mmproj is not None
    env = isolated_env(tmp_path)
    files = ["--model", str(tiny_omni.model), "--mmproj", str(tiny_omni.mmproj)]
    plain = _ask(env, *files)
    png, wav = media
    with_media = _ask(env, *files, "--image", str(png), "--audio", str(wav))
    assert plain["model"] == "omnidesk-tiny-nemotron-h-moe"
    grown = int(str(with_media["prompt_tokens"])) - int(str(plain["prompt_tokens"]))
    # 4 image tokens + about 13 audio tokens.
    assert 4 + 10 <= grown <= 4 + 16


def test_ask_streams_the_answer_to_stdout(tiny_omni: TinyModel, tmp_path: Path) -> None:
    result = run_cli(
        ["ask", "hi", "--no-think", "--max-tokens", "5", "--seed", "3", "--model", str(tiny_omni.model)],
        isolated_env(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n") and len(result.stdout) > 1


def test_ask_remote(tiny_omni: TinyModel, media: tuple[Path, Path], tmp_path: Path) -> None:
    png, wav = media
    with llama_server(tiny_omni.model, tiny_omni.mmproj) as url:
        reply = _ask(isolated_env(tmp_path), "--remote", url, "--image", str(png), "--audio", str(wav))
    assert int(str(reply["prompt_tokens"])) > 30 and reply["stop_reason"] in ("length", "stop")


def test_ask_errors_are_one_line(tiny_llama: TinyModel, tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    missing = run_cli(["ask", "hi", "--model", str(tmp_path / "none.gguf")], env)
    assert missing.returncode == 1 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    wrong = run_cli(["ask", "hi", "--model", str(tiny_llama.model)], env)
    assert wrong.returncode == 1 and "'llama' model" in wrong.stderr
    no_model = run_cli(["ask", "hi"], env)
    assert no_model.returncode == 2 and "no model configured" in no_model.stderr
