"""compose.build_model_format: the profile's output_format picks the format — never the profile's name."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from omnidesk.agent.errors import ConfigError
from omnidesk.app.compose import build_model_format
from omnidesk.app.settings import Settings
from tests.fakes import CAPS_FRACTION

PROFILE = (Path(__file__).parents[2] / "assets/profiles/nemotron-3-nano-omni.toml").read_text(encoding="utf-8")


def profile_file(tmp_path: Path, name: str, **changes: str) -> str:
    text = PROFILE
    for key, value in changes.items():
        text = "\n".join(f"{key} = {value}" if line.startswith(f"{key} =") else line for line in text.splitlines())
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_the_profiles_output_format_decides_not_its_name(tmp_path: Path) -> None:
    settings = Settings()
    settings.model.profile = profile_file(tmp_path, "my-ui-tars-qwen", screenshots="2")
    fmt, chosen = build_model_format(settings, CAPS_FRACTION)
    assert fmt.name == "nemotron" and chosen.screenshots == 2 and chosen.thinking
    settings.model.profile = profile_file(tmp_path, "nemotron-renamed", output_format='"uitars"')
    assert build_model_format(settings, CAPS_FRACTION)[0].name == "uitars"


def test_json_mode_and_slow_engines_and_the_persons_settings(tmp_path: Path) -> None:
    settings = Settings()
    fmt, chosen = build_model_format(settings, replace(CAPS_FRACTION, slow_decoding=True))
    assert fmt.name == "nemotron" and not chosen.thinking  # CPU only: the trained non-thinking variant
    settings.agent.enable_thinking = True
    settings.agent.screenshots_in_prompt = 1
    _, chosen = build_model_format(settings, replace(CAPS_FRACTION, slow_decoding=True))
    assert chosen.thinking and chosen.screenshots == 1
    settings.agent.use_json_actions = True
    assert build_model_format(settings, CAPS_FRACTION)[0].name == "json"


def test_an_unknown_output_format_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings()
    settings.model.profile = profile_file(tmp_path, "odd", output_format='"tars"')
    with pytest.raises(ConfigError, match="output_format"):
        build_model_format(settings, CAPS_FRACTION)
