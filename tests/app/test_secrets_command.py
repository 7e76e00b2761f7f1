"""``omnidesk secrets``: values never on the command line, bindings next to them, old secrets bound later."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.app.cli_helpers import OMNIDESK, isolated_env, run_cli
from tests.file_keyring import keyring_env, write_keyring


def _env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path, **keyring_env(tmp_path / "keyring.json"))


def test_set_show_bind_remove(tmp_path: Path) -> None:
    env = _env(tmp_path)
    stored = subprocess.run(
        [str(OMNIDESK), "secrets", "set", "github", "--window-class", "firefox", "--title", "GitHub", "--alone",
         "--stdin"],
        input="hunter2\n", env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert stored.returncode == 0, stored.stderr
    assert "hunter2" not in stored.stdout + stored.stderr
    keyring = json.loads((tmp_path / "keyring.json").read_text())
    assert keyring["omnidesk\0github"] == "hunter2"
    assert json.loads(keyring["omnidesk-binding\0github"]) == {
        "window_class": ["firefox"],
        "title": ["GitHub"],
        "alone": True,
    }
    shown = run_cli(["secrets", "show", "github", "--json"], env)
    assert json.loads(shown.stdout)["binding"]["alone"] is True and "hunter2" not in shown.stdout
    assert run_cli(["secrets", "remove", "github"], env).returncode == 0
    assert run_cli(["secrets", "show", "github"], env).returncode == 1


def test_a_secret_from_before_bindings_is_reported_and_bound(tmp_path: Path) -> None:
    env = _env(tmp_path)
    write_keyring(tmp_path / "keyring.json", {("omnidesk", "mail"): "m@il"})
    shown = run_cli(["secrets", "show", "mail"], env)
    assert "no binding" in shown.stdout and "omnidesk secrets bind mail" in shown.stdout
    bound = run_cli(["secrets", "bind", "mail", "--window-class", "thunderbird"], env)
    assert bound.returncode == 0, bound.stderr
    assert "thunderbird" in run_cli(["secrets", "show", "mail"], env).stdout


def test_a_binding_must_name_a_window(tmp_path: Path) -> None:
    env = _env(tmp_path)
    result = subprocess.run(
        [str(OMNIDESK), "secrets", "set", "x", "--alone", "--stdin"], input="v", env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "--window-class" in result.stderr
    assert not (tmp_path / "keyring.json").exists()
    assert run_cli(["secrets", "bind", "nope", "--window-class", "x"], env).returncode == 2
