"""Evaluation records and metrics (``omnidesk eval``): pure data, no devices.

:mod:`.records` is the versioned JSON schema of a run's summary (what ``eval compare`` reads),
:mod:`.metrics` the rates, their binomial intervals and the breakdowns, :mod:`.grounding` the
ScreenSpot-style set's items (instructions written from an element's name and role, size classes). The
runners that reach models and desktops live in ``app/evaluation/`` and are wired by ``app/compose.py``.
"""

from __future__ import annotations

from omnidesk.agent.evaluation.metrics import Rate, binomial_interval, rate_of, summarize, wilson_interval
from omnidesk.agent.evaluation.records import (
    SCHEMA_VERSION,
    EvalKind,
    GroundingDetail,
    ItemResult,
    ItemStatus,
    RunSummary,
    load_summary,
)

__all__ = [
    "SCHEMA_VERSION",
    "EvalKind",
    "GroundingDetail",
    "ItemResult",
    "ItemStatus",
    "Rate",
    "RunSummary",
    "binomial_interval",
    "load_summary",
    "rate_of",
    "summarize",
    "wilson_interval",
]
