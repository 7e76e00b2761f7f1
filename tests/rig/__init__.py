"""A real desktop for tests: X servers, a window manager, PulseAudio and a Qt target app.

The pytest fixtures live in `tests.rig.plugin`; this package holds the pieces they are built from.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_until"]

_T = TypeVar("_T")


def wait_until(predicate: Callable[[], _T], timeout: float, what: str, interval: float = 0.02) -> _T:
    """Poll `predicate` until it returns something truthy and return that.

    For conditions that have no event to block on (X properties, PulseAudio state); raises
    `TimeoutError` naming `what` so a failure says which condition never came true.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)
