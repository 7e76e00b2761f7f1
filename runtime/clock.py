"""The Clock port on the process's real clocks (``time.monotonic`` for intervals, ``time.time`` for records).

An adapter like any other: the composition root builds it; tests pass ``tests.fakes.FakeClock`` instead.
"""

from __future__ import annotations

import logging
import time

__all__ = ["SystemClock"]

log = logging.getLogger(__name__)


class SystemClock:
    """The Clock port on the process's real clocks."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def wall_time(self) -> float:
        return time.time()
