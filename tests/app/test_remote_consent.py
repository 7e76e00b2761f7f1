"""The screen goes to a remote engine off this machine only after the person allows it, once per URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnidesk.agent.errors import ConfigError
from omnidesk.app.remote_consent import is_loopback_url, require_remote_consent
from omnidesk.app.settings import AppPaths, load_settings
from tests.app.cli_helpers import isolated_env, run_cli

# `.invalid` never resolves (RFC 2606): a broken consent check could not send anything anywhere.
REMOTE = "http://gpu-server.invalid:8000"


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://127.3.4.5", True),
        ("http://localhost:1234/v1", True),
        ("http://[::1]:8000", True),
        (REMOTE, False),
        ("https://api.example.com/v1", False),
        ("http://192.168.1.20:8000", False),
    ],
)
def test_loopback_detection(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_loopback_needs_no_question(paths: AppPaths) -> None:
    def never(question: str) -> bool:
        raise AssertionError("asked for a loopback engine")

    require_remote_consent(load_settings(paths), paths, "http://127.0.0.1:8080", never)


def test_refused_without_a_way_to_ask_or_when_declined(paths: AppPaths) -> None:
    settings = load_settings(paths)
    with pytest.raises(ConfigError, match="remote_confirmed"):
        require_remote_consent(settings, paths, REMOTE, None)
    with pytest.raises(ConfigError, match="without your consent"):
        require_remote_consent(settings, paths, REMOTE, lambda question: False)
    assert load_settings(paths).model.remote_confirmed == []


def test_consent_is_asked_once_and_remembered(paths: AppPaths) -> None:
    questions: list[str] = []

    def yes(question: str) -> bool:
        questions.append(question)
        return True

    require_remote_consent(load_settings(paths), paths, REMOTE, yes)
    assert len(questions) == 1 and REMOTE in questions[0]
    remembered = load_settings(paths)
    assert remembered.model.remote_confirmed == [REMOTE]
    require_remote_consent(remembered, paths, REMOTE, yes)
    assert len(questions) == 1


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"HTTP_PROXY": "http://me:pw@proxy.invalid:3128"}, "http://***@proxy.invalid:3128"),
        ({"all_proxy": "socks5://proxy.invalid:1080"}, "socks5://proxy.invalid:1080"),
        ({"HTTP_PROXY": "http://proxy.invalid:3128", "NO_PROXY": "gpu-server.invalid"}, None),
        ({"HTTPS_PROXY": "http://proxy.invalid:3128"}, None),  # for https:// engines only
    ],
)
def test_the_question_names_the_proxy_the_screen_would_pass(
    paths: AppPaths, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], named: str | None
) -> None:
    """Issue 14, finding 7: the person is asked about the proxy too, not only the engine."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    questions: list[str] = []
    with pytest.raises(ConfigError):
        require_remote_consent(load_settings(paths), paths, REMOTE, lambda q: questions.append(q) or False)
    if named is None:
        assert "proxy" not in questions[0], questions
    else:
        assert f"through the proxy {named}" in questions[0] and "pw" not in questions[0], questions


def test_cli_without_a_terminal_refuses_an_unconfirmed_remote(tmp_path: Path) -> None:
    result = run_cli(["ask", "what is on screen?", "--remote", REMOTE], isolated_env(tmp_path))
    assert result.returncode == 2
    assert "without your consent" in result.stderr
    assert "Traceback" not in result.stderr
