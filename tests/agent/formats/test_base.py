"""The format interface's values: image sizing, settings resolution, the registry."""

from __future__ import annotations

import pytest

from omnidesk.agent.config import AgentConfig
from omnidesk.agent.errors import ConfigError
from omnidesk.agent.formats import FormatSettings, ImageSizing, format_names, get_format, resolve_settings

QWEN_MAX = 12_845_056


def test_smart_resize_sizing_is_qwens_rule_width_first() -> None:
    sizing = ImageSizing.smart(factor=28, min_pixels=3136, max_pixels=QWEN_MAX)
    assert sizing.size_for(1920, 1080) == (1932, 1092)  # qwen-vl-utils: round to 28, half to even
    assert ImageSizing.smart(factor=32, min_pixels=3136, max_pixels=QWEN_MAX).size_for(1920, 1080) == (1920, 1088)


def test_native_sizing_keeps_the_screenshot_as_captured() -> None:
    assert ImageSizing.native().size_for(2560, 1440) == (2560, 1440)
    with pytest.raises(ValueError):
        ImageSizing("smart_resize")


def test_settings_come_from_the_format_then_the_profile_then_the_person() -> None:
    fmt = get_format("nemotron")
    assert resolve_settings(fmt, AgentConfig()) == fmt.defaults(slow_decoding=False)
    assert resolve_settings(fmt, AgentConfig(), screenshots=2).screenshots == 2
    person = AgentConfig(screenshots_in_prompt=1, enable_thinking=False, max_output_tokens=900, password_secret="pw")
    chosen = resolve_settings(fmt, person, screenshots=2)
    assert (chosen.screenshots, chosen.thinking, chosen.max_tokens, chosen.password_secret) == (1, False, 900, "pw")
    assert chosen.thinking_limit is None  # no thinking, no thinking budget for the engine


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="1 to 5"):
        FormatSettings(thinking=False, max_tokens=10, screenshots=6)
    with pytest.raises(ValueError):
        AgentConfig(screenshots_in_prompt=6)
    with pytest.raises(ValueError):
        AgentConfig(password_secret="no spaces }}")


def test_formats_are_chosen_by_name_only() -> None:
    assert {"nemotron", "json", "qwen25", "qwen3", "uitars"} <= set(format_names())
    assert (
        get_format("nemotron").name == "nemotron"
        and get_format("json", "thousandths").parser.convention == "thousandths"
    )
    with pytest.raises(ConfigError, match="unknown output format 'tars'"):
        get_format("tars")
