"""Model profiles load, and say what each model needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnidesk.agent.errors import ConfigError
from omnidesk.runtime.config import ModelConfig
from omnidesk.runtime.profiles import list_profiles, load_profile


def test_bundled_profiles() -> None:
    assert {"nemotron-3-nano-omni", "qwen3-vl", "qwen2.5-vl", "ui-tars-1.5"} <= set(list_profiles())
    for name in list_profiles():
        assert load_profile(name).name == name


def test_default_profile_is_nemotron_with_the_model_card_samplers() -> None:
    profile = load_profile(ModelConfig().profile)
    assert profile.architectures == ["nemotron_h_moe"]
    assert profile.coordinate_convention == "fraction" and profile.audio
    sampling = profile.sampling_defaults()
    assert (sampling.reasoning.temperature, sampling.reasoning.top_p) == (0.6, 0.95)
    assert (sampling.instruct.temperature, sampling.instruct.top_k) == (0.2, 1)
    assert profile.download is not None and "{quant}" in profile.download.model_pattern


@pytest.mark.parametrize(
    ("name", "convention"),
    [("qwen3-vl", "thousandths"), ("qwen2.5-vl", "image_pixels"), ("ui-tars-1.5", "image_pixels")],
)
def test_conventions(name: str, convention: str) -> None:
    assert load_profile(name).coordinate_convention == convention


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="nemotron-3-nano-omni"):
        load_profile("gpt-7")


def test_profile_from_a_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid"):
        load_profile(str(bad))
    good = tmp_path / "mine.toml"
    text = (Path(__file__).parents[2] / "assets/profiles/qwen3-vl.toml").read_text(encoding="utf-8")
    good.write_text(text.replace('name = "qwen3-vl"', 'name = "mine"'), encoding="utf-8")
    assert load_profile(str(good)).name == "mine"


def test_session_profile() -> None:
    session = load_profile("qwen3-vl").session_profile()
    assert session.architectures == ("qwen3vl", "qwen3vlmoe")
    assert session.coordinate_convention == "thousandths" and not session.enable_thinking
    assert session.sampling.instruct.top_k == 20


@pytest.mark.parametrize("content", [b"\xff\xfe not utf-8", b"[x]\n" * 3, b"name = 'a'\n[[[", b"\x00" * 64])
def test_a_crafted_profile_file_is_a_config_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "crafted.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=r"crafted\.toml"):
        load_profile(str(path))
