"""Engine URLs: loopback or not, and shown without their credentials."""

from __future__ import annotations

import pytest

from omnidesk.runtime.urls import api_endpoint, credential_free, is_loopback_url, origin, redact_url, redact_urls


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:s3cret@Engine:8080/v1?api_key=K3Y&x=1#f", "http://***@engine:8080/v1?api_key=***&x=***"),
        ("https://tok3n@host/v1", "https://***@host/v1"),
        ("http://[::1]:8000/v1", "http://[::1]:8000/v1"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://a:b@c:notaport/", "http://***@c/"),
    ],
)
def test_a_url_is_shown_without_credentials(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_urls_inside_text_are_redacted() -> None:
    line = 'HTTP Request: POST http://u:s3cret@h:1/v1/chat/completions?key=K3Y "HTTP/1.1 200 OK"; see https://ok/x'
    assert redact_urls(line) == (
        'HTTP Request: POST http://***@h:1/v1/chat/completions?key=*** "HTTP/1.1 200 OK"; see https://ok/x'
    )


def test_consent_and_keys_are_kept_for_the_engine_not_its_credentials() -> None:
    url = "HTTPS://me:pw@Host.Example:8443/v1/?token=t"
    assert credential_free(url) == "https://host.example:8443/v1"
    assert origin(url) == "https://host.example:8443"
    assert origin("http://host.example/v1") == "http://host.example"


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://localhost/v1", True),
        ("http://[::1]:1", True),
        ("http://user:pw@127.0.0.1:8080", True),
        ("http://127.0.0.1.example.com", False),
        ("http://localhost.example.com", False),
        ("http://10.0.0.1", False),
        ("http://[::1", False),
    ],
)
def test_loopback(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


@pytest.mark.parametrize(
    ("base", "endpoint"),
    [
        ("http://h:8080", "http://h:8080/v1/chat/completions"),
        ("http://h:8080/v1", "http://h:8080/v1/chat/completions"),
        ("http://h:8080/v1/", "http://h:8080/v1/chat/completions"),
        ("https://gw/openai/v1?api_key=K", "https://gw/openai/v1/chat/completions?api_key=K"),
    ],
)
def test_the_endpoint_keeps_the_query(base: str, endpoint: str) -> None:
    assert api_endpoint(base, "chat/completions") == endpoint
