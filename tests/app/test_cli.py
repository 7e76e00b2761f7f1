"""The console script as a user meets it: help, version, config, and one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

from omnidesk.app import __version__
from tests.app.cli_helpers import isolated_env, run_cli


def test_version_and_help(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    result = run_cli(["--version"], env)
    assert result.returncode == 0
    assert result.stdout.strip() == f"omnidesk {__version__}"
    helped = run_cli(["--help"], env)
    assert helped.returncode == 0
    for command in ("doctor", "config"):
        assert command in helped.stdout
    assert run_cli(["config", "--help"], env).returncode == 0
    assert "--json" in run_cli(["doctor", "--help"], env).stdout


def test_unknown_option_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_cli(["--frobnicate"], isolated_env(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "No such option: --frobnicate" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_set_show_path(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    assert run_cli(["config", "set", "safety.max_steps", "9"], env).returncode == 0
    shown = json.loads(run_cli(["config", "show", "--json"], env).stdout)
    assert shown["safety"]["max_steps"] == 9
    places = json.loads(run_cli(["config", "path", "--json"], env).stdout)
    assert places["settings"] == str(tmp_path / "config" / "settings.toml")
    assert (tmp_path / "config" / "settings.toml").is_file()


def test_api_key_is_never_shown(tmp_path: Path) -> None:
    env = isolated_env(tmp_path, OMNIDESK_MODEL__REMOTE_API_KEY="sk-very-secret")
    shown = run_cli(["config", "show"], env)
    assert shown.returncode == 0
    assert "sk-very-secret" not in shown.stdout
    assert 'remote_api_key = "set (environment or settings file)"' in shown.stdout


def test_invalid_value_names_the_key(tmp_path: Path) -> None:
    result = run_cli(["config", "set", "capture.fps", "fast"], isolated_env(tmp_path))
    assert result.returncode == 2
    assert "capture.fps" in result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_config_dir(tmp_path: Path) -> None:
    # Tests run as root, which ignores permission bits: a folder in /proc cannot be made, not even by root.
    env = isolated_env(tmp_path, OMNIDESK_CONFIG_DIR="/proc/self/omnidesk-config")
    result = run_cli(["config", "set", "safety.max_steps", "3"], env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "cannot write settings" in lines[0]
    verbose = run_cli(["-v", "config", "set", "safety.max_steps", "3"], env)
    assert verbose.returncode == 2
    assert "Traceback" in verbose.stderr


def test_unreadable_settings(tmp_path: Path) -> None:
    (tmp_path / "config" / "settings.toml").mkdir(parents=True)
    result = run_cli(["config", "show"], isolated_env(tmp_path))
    assert result.returncode == 2
    assert "cannot read settings file" in result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_settings_warns_and_continues(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text("this is = = not toml")
    result = run_cli(["config", "show", "--json"], isolated_env(tmp_path))
    assert result.returncode == 0
    assert "not valid TOML" in result.stderr
    assert json.loads(result.stdout)["schema_version"] == 1
    assert (tmp_path / "config" / "settings.toml.corrupt-1").exists()


def test_no_display_is_a_plain_message(tmp_path: Path) -> None:
    env = isolated_env(tmp_path, DISPLAY=None, WAYLAND_DISPLAY=None)
    result = run_cli([], env)
    assert result.returncode not in (0, 134)
    assert "display" in result.stderr.lower()
    assert "Traceback" not in result.stderr
