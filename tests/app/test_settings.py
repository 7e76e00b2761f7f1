"""Typed settings: defaults, file, environment, corrupt files, migrations, errors that name the key."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from omnidesk.agent.errors import ConfigError
from omnidesk.app.settings import SCHEMA_VERSION, AppPaths, Settings, load_settings, save_settings, set_value


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")


def test_defaults_without_a_file(paths: AppPaths) -> None:
    settings = load_settings(paths)
    assert settings.schema_version == SCHEMA_VERSION
    assert settings.model.profile == "nemotron-3-nano-omni"
    assert settings.model.context_length == 32768
    assert settings.capture.fps == 2.0


def test_round_trip_through_toml(paths: AppPaths) -> None:
    settings = set_value(load_settings(paths), "safety.max_steps", "12")
    settings = set_value(settings, "model.gpu_layers", "20")
    settings = set_value(settings, "safety.confirm_patterns", '["pay", "wire"]')
    save_settings(settings, paths)
    again = load_settings(paths)
    assert again.safety.max_steps == 12
    assert again.model.gpu_layers == 20
    assert again.safety.confirm_patterns == ["pay", "wire"]
    assert "schema_version = 1" in paths.settings_file.read_text()


def test_environment_wins_over_the_file(paths: AppPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    save_settings(set_value(load_settings(paths), "safety.max_steps", "12"), paths)
    monkeypatch.setenv("OMNIDESK_SAFETY__MAX_STEPS", "5")
    assert load_settings(paths).safety.max_steps == 5
    assert load_settings(paths, environment=False).safety.max_steps == 12


def test_corrupt_file_is_kept_aside_and_defaults_used(paths: AppPaths, caplog: pytest.LogCaptureFixture) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.settings_file.write_text("[safety\nmax_steps = = 3")
    with caplog.at_level(logging.WARNING):
        settings = load_settings(paths)
    assert settings.safety.max_steps == Settings().safety.max_steps
    kept = paths.config_dir / "settings.toml.corrupt-1"
    assert kept.read_text() == "[safety\nmax_steps = = 3"
    assert not paths.settings_file.exists()
    assert "kept as" in caplog.text


def test_invalid_value_in_file_names_the_key(paths: AppPaths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.settings_file.write_text("[capture]\nfps = -3\n")
    with pytest.raises(ConfigError, match=r"capture\.fps"):
        load_settings(paths)


def test_unknown_key_in_file_is_an_error(paths: AppPaths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.settings_file.write_text("[capture]\nframes_per_second = 3\n")
    with pytest.raises(ConfigError, match="frames_per_second"):
        load_settings(paths)


def test_set_value_rejects_unknown_and_invalid(paths: AppPaths) -> None:
    settings = load_settings(paths)
    with pytest.raises(ConfigError, match=r"unknown setting 'safety\.nope'"):
        set_value(settings, "safety.nope", "1")
    with pytest.raises(ConfigError, match=r"unknown setting 'nosection'"):
        set_value(settings, "nosection.key", "1")
    with pytest.raises(ConfigError, match=r"safety\.max_steps"):
        set_value(settings, "safety.max_steps", "many")
    with pytest.raises(ConfigError, match="remote_url"):
        set_value(settings, "model.remote_url", "ftp://x")


def test_unversioned_file_is_migrated_and_newer_is_refused(paths: AppPaths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.settings_file.write_text("[safety]\nmax_steps = 4\n")
    assert load_settings(paths).safety.max_steps == 4
    paths.settings_file.write_text(f"schema_version = {SCHEMA_VERSION + 1}\n")
    with pytest.raises(ConfigError, match="newer"):
        load_settings(paths)


def test_hotkey_conflicts_are_refused(paths: AppPaths) -> None:
    settings = load_settings(paths)
    with pytest.raises(ConfigError, match="bound to both"):
        set_value(settings, "hotkeys.pause_resume", '"shift+ctrl+alt+k"')


def test_unreadable_settings_file_is_a_config_error(paths: AppPaths) -> None:
    paths.settings_file.mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(ConfigError, match="cannot read settings file"):
        load_settings(paths)


def test_paths_from_environment(tmp_path: Path) -> None:
    env = {
        "OMNIDESK_CONFIG_DIR": str(tmp_path / "c"),
        "OMNIDESK_DATA_DIR": str(tmp_path / "d"),
        "XDG_RUNTIME_DIR": "/run/user/7",
    }
    paths = AppPaths.from_environment(env)
    assert paths.settings_file == tmp_path / "c" / "settings.toml"
    assert paths.models_dir == tmp_path / "d" / "models"
    assert paths.runtime_dir == Path("/run/user/7/omnidesk")
    assert AppPaths.from_environment({}).runtime_dir.name.startswith("omnidesk")
