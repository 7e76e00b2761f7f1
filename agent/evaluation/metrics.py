"""Rates, binomial intervals and breakdowns of evaluation results.

A rate is over the *measured* items (pass + fail); errored items are counted apart. Intervals are 95 %
Wilson score intervals for the report; :func:`binomial_interval` gives the range a count from a known
rate must fall in (the harness's own proof: a control model with a known hit rate has to land inside it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from omnidesk.agent.evaluation.records import ItemResult, RateRecord

__all__ = ["Rate", "binomial_interval", "group_rates", "rate_of", "summarize", "wilson_interval"]

_Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Rate:
    """Counts of one group of items."""

    passed: int = 0
    failed: int = 0
    errored: int = 0

    @property
    def measured(self) -> int:
        return self.passed + self.failed

    @property
    def rate(self) -> float | None:
        return self.passed / self.measured if self.measured else None

    def record(self) -> RateRecord:
        low, high = wilson_interval(self.passed, self.measured) if self.measured else (None, None)
        return RateRecord(
            passed=self.passed, failed=self.failed, errored=self.errored, rate=self.rate, low=low, high=high
        )


def wilson_interval(successes: int, trials: int, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval of ``successes`` out of ``trials`` (95 % by default)."""
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes}/{trials}")
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def binomial_interval(trials: int, p: float, level: float = 0.999) -> tuple[int, int]:
    """The central range ``[low, high]`` of successes that Binomial(``trials``, ``p``) falls in with
    probability at least ``level`` (exact, from the distribution's tails)."""
    if trials < 0 or not 0.0 <= p <= 1.0 or not 0.0 < level < 1.0:
        raise ValueError(f"need trials >= 0, 0 <= p <= 1 and 0 < level < 1, got {trials}, {p}, {level}")
    tail = (1 - level) / 2
    pmf = [math.comb(trials, k) * p**k * (1 - p) ** (trials - k) for k in range(trials + 1)]
    low, below = 0, 0.0
    while low < trials and below + pmf[low] <= tail:
        below += pmf[low]
        low += 1
    high, above = trials, 0.0
    while high > 0 and above + pmf[high] <= tail:
        above += pmf[high]
        high -= 1
    return low, high


def rate_of(items: Iterable[ItemResult]) -> Rate:
    passed = failed = errored = 0
    for item in items:
        if item.status == "pass":
            passed += 1
        elif item.status == "fail":
            failed += 1
        else:
            errored += 1
    return Rate(passed, failed, errored)


def group_rates(items: Sequence[ItemResult]) -> dict[str, dict[str, RateRecord]]:
    """Per label (app, resolution…), per value: the rate of the items with that value."""
    keys = sorted({key for item in items for key in item.labels})
    groups: dict[str, dict[str, RateRecord]] = {}
    for key in keys:
        values = sorted({item.labels[key] for item in items if key in item.labels}, key=_natural)
        groups[key] = {v: rate_of(i for i in items if i.labels.get(key) == v).record() for v in values}
    return groups


def _natural(value: str) -> tuple[float, str]:
    """Numbers in numeric order (scales 1.0 < 1.5 < 2.0, sizes), then text."""
    head = value.split("x", maxsplit=1)[0].split(" ", maxsplit=1)[0]
    try:
        return float(head), value
    except ValueError:
        return math.inf, value


def summarize(items: Sequence[ItemResult]) -> tuple[RateRecord, dict[str, dict[str, RateRecord]]]:
    """The overall rate and the per-label breakdown of ``items``."""
    return rate_of(items).record(), group_rates(items)
