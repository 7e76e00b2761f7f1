"""Test configuration: the desktop rig and tiny-model plugins, and a fail-on-unexpected-log-error guard."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.rig.plugin", "tests.models.plugin"]


@pytest.fixture(autouse=True)
def _fail_on_logged_errors(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A test fails if the code under test logs an ERROR it did not expect (qutebrowser's logfail).

    Tests that provoke an error on purpose say so with ``@pytest.mark.allow_log_errors``.
    """
    yield
    if request.node.get_closest_marker("allow_log_errors"):
        return
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    if errors:
        listing = "\n".join(f"  {r.name}: {r.getMessage()}" for r in errors[:10])
        pytest.fail(
            "unexpected ERROR log records (mark the test @pytest.mark.allow_log_errors if they are expected):\n"
            + listing,
            pytrace=False,
        )
