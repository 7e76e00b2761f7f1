"""The remote engine's API key lives in the system keyring, not in settings.toml (issue 14, finding 11).

CLI tests run ``omnidesk`` with a file-backed keyring (``tests/file_keyring.py``, chosen through
keyring's own ``PYTHON_KEYRING_BACKEND``); in-process tests pass an in-memory backend to the store.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import pytest
from keyring.errors import NoKeyringError

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.ports import ChatMessage, ModelRequest
from omnidesk.app.compose import build_model_client
from omnidesk.app.settings import AppPaths, Settings, load_settings, save_settings
from omnidesk.runtime.api_keys import SERVICE, ApiKeyStore
from tests.app.cli_helpers import OMNIDESK, isolated_env, run_cli
from tests.file_keyring import keyring_env
from tests.runtime.hostile_engine import Connection, Request, hostile_engine, sse, sse_headers
from tests.runtime.test_secrets_keyring import MemoryKeyring, NoKeyring

KEY = "sk-test-key-0123456789"
URL = "http://gpu-server.invalid:8000/v1"


def _settings_file(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "config" / "settings.toml"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    return file


def _keyring(file: Path) -> dict[str, str]:
    return json.loads(file.read_text()) if file.exists() else {}


def test_a_key_in_an_older_settings_file_moves_into_the_keyring(tmp_path: Path) -> None:
    file = _settings_file(tmp_path, f'schema_version = 1\n[model]\nremote_url = "{URL}"\nremote_api_key = "{KEY}"\n')
    ring = tmp_path / "keyring.json"
    result = run_cli(["config", "show"], isolated_env(tmp_path, **keyring_env(ring)))
    assert result.returncode == 0, result.stderr
    assert KEY not in file.read_text() and URL in file.read_text()
    assert _keyring(ring) == {f"{SERVICE}\0http://gpu-server.invalid:8000": KEY}
    assert 'remote_api_key = "set (keyring)"' in result.stdout and KEY not in result.stdout + result.stderr
    log = (tmp_path / "data" / "logs" / "omnidesk.log").read_text()
    assert "moved the remote API key" in log and KEY not in log


def test_without_a_keyring_the_key_stays_in_the_private_file_with_a_warning(tmp_path: Path) -> None:
    text = f'schema_version = 1\n[model]\nremote_url = "{URL}"\nremote_api_key = "{KEY}"\n'
    file = _settings_file(tmp_path, text)
    env = isolated_env(tmp_path, **keyring_env(None))
    result = run_cli(["config", "show"], env)
    assert result.returncode == 0 and "stays in" in result.stderr and KEY not in result.stderr
    assert run_cli(["config", "set", "safety.max_steps", "7"], env).returncode == 0
    assert KEY in file.read_text()  # not lost by a save either
    assert (file.stat().st_mode & 0o777) == 0o600


def test_config_set_stores_the_key_in_the_keyring_from_standard_input(tmp_path: Path) -> None:
    ring = tmp_path / "keyring.json"
    env = isolated_env(tmp_path, **keyring_env(ring))
    assert run_cli(["config", "set", "model.remote_url", URL], env).returncode == 0
    result = subprocess.run(
        [str(OMNIDESK), "config", "set", "model.remote_api_key", "-"],
        env=env,
        input=KEY + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "stored in the keyring for http://gpu-server.invalid:8000" in result.stdout
    assert KEY not in result.stdout + result.stderr
    assert _keyring(ring) == {f"{SERVICE}\0http://gpu-server.invalid:8000": KEY}
    assert KEY not in (tmp_path / "config" / "settings.toml").read_text()
    removed = run_cli(["config", "set", "model.remote_api_key", ""], env)
    assert "removed" in removed.stdout and _keyring(ring) == {}


def test_a_key_needs_its_engine_first(tmp_path: Path) -> None:
    result = run_cli(["config", "set", "model.remote_api_key", KEY], isolated_env(tmp_path, **keyring_env(None)))
    assert result.returncode == 2 and "model.remote_url first" in result.stderr


def test_a_key_from_the_environment_is_never_saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")
    monkeypatch.setenv("OMNIDESK_MODEL__REMOTE_API_KEY", KEY)
    monkeypatch.setenv("OMNIDESK_MODEL__REMOTE_URL", URL)
    settings = load_settings(paths)
    assert settings.model.remote_api_key == KEY
    backend = MemoryKeyring()
    save_settings(settings, paths, api_keys=ApiKeyStore(backend=backend))
    assert KEY not in paths.settings_file.read_text() and backend.data == {}


class _NoKeyringToStore(NoKeyring):
    def set_password(self, service: str, username: str, password: str) -> None:
        raise NoKeyringError("no backend")


def test_a_new_key_saved_with_the_settings_goes_into_the_keyring(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The settings dialog and the first-run engine form save a key typed in: keyring, or (none) the
    private file with a warning — never lost, never a readable file."""
    paths = AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")
    settings = Settings()
    settings.model.remote_url = URL
    settings.model.remote_api_key = KEY
    backend = MemoryKeyring()
    save_settings(settings, paths, api_keys=ApiKeyStore(backend=backend))
    assert backend.data == {(SERVICE, "http://gpu-server.invalid:8000"): KEY}
    assert KEY not in paths.settings_file.read_text()
    cleared = load_settings(paths, environment=False)
    assert cleared.model.remote_api_key == ""
    save_settings(cleared, paths, api_keys=ApiKeyStore(backend=backend))  # an empty field leaves it there
    assert backend.data == {(SERVICE, "http://gpu-server.invalid:8000"): KEY}

    save_settings(settings, paths, api_keys=ApiKeyStore(backend=_NoKeyringToStore()))
    assert load_settings(paths, environment=False).model.remote_api_key == KEY
    assert paths.settings_file.stat().st_mode & 0o777 == 0o600
    assert any("no usable system keyring" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert all(KEY not in r.getMessage() for r in caplog.records)


def test_the_engine_gets_the_key_stored_for_it_and_no_other(tmp_path: Path) -> None:
    seen: list[str] = []

    def engine(request: Request, conn: Connection) -> None:
        seen.append(request.headers.get("authorization", ""))
        conn.send(sse_headers() + sse({"choices": [{"delta": {"content": "ok"}, "finish_reason": "stop"}]}))

    paths = AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")
    store = ApiKeyStore(backend=MemoryKeyring())
    with hostile_engine(engine) as running:
        store.set(running.url, KEY)
        store.set("http://other.invalid:8000", "sk-other")
        settings = Settings()
        settings.model.remote_url = running.url
        with build_model_client(settings, paths, api_keys=store) as client:
            assert client.generate(ModelRequest((ChatMessage.text("user", "hi"),), max_tokens=4)).text == "ok"
    assert seen == [f"Bearer {KEY}"]


def test_the_store_keys_by_engine_and_says_when_there_is_no_keyring(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    backend = MemoryKeyring()
    store = ApiKeyStore(backend=backend)
    store.set("https://me:pw@Engine.example:8443/v1?x=1", KEY)
    assert store.get("https://engine.example:8443") == KEY and store.get("https://engine.example") is None
    store.delete("https://engine.example:8443/v1")
    assert backend.data == {}
    store.delete("https://engine.example:8443/v1")  # nothing stored: nothing to do
    assert all(KEY not in r.getMessage() for r in caplog.records)
    with pytest.raises(ConfigError, match="no usable system keyring"):
        ApiKeyStore(backend=NoKeyring()).get(URL)
