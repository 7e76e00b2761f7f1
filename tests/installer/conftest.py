"""The frozen app fixture: built once per test session (see frozen.py for when a build is reused)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.installer.frozen import FrozenApp, frozen_app_build


@pytest.fixture(scope="session")
def frozen_app() -> Iterator[FrozenApp]:
    with frozen_app_build() as app:
        yield app
