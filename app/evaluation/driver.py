"""The loop every evaluation shares: items one after another, the summary and the HTML report rewritten
(atomically) after each, errored items counted apart, Ctrl-C leaving a valid partial report.

A runner implements :class:`EvalRunner`: its :attr:`~EvalRunner.header` (what is evaluated on what), its
cases, how to describe a case (id, instruction, labels) and how to run one. ``run`` returns the item's
:class:`ItemResult`; it raises :class:`OmnideskError` when the item cannot be measured (the model never
answered, the application is missing, the set-up failed) — the loop records that as ``errored`` with
the message and goes on. A cancelled token ends the run after the item in flight, which is not recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

from omnidesk.agent.errors import OmnideskError
from omnidesk.agent.evaluation.metrics import summarize
from omnidesk.agent.evaluation.records import EvalKind, ItemResult, RunSummary
from omnidesk.agent.ports import CancelToken
from omnidesk.agent.private_files import private_dir, write_private
from omnidesk.app.evaluation.report import render_html

__all__ = ["CaseInfo", "EvalRunner", "RunHeader", "run_evaluation", "write_report"]

log = logging.getLogger(__name__)

CaseT = TypeVar("CaseT")

SUMMARY_NAME = "summary.json"
REPORT_NAME = "report.html"


@dataclass(frozen=True, slots=True)
class RunHeader:
    """What a run evaluates on what: ``model`` (profile and file or URL), ``format`` (the model format),
    ``suite`` (the set or task list), ``seed``, and ``notes`` the reader must see."""

    kind: EvalKind
    model: str
    format: str
    suite: str
    seed: int | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CaseInfo:
    """A case as the report names it before it runs (an errored case is reported with these)."""

    id: str
    instruction: str
    labels: dict[str, str] = field(default_factory=dict)


class EvalRunner(Protocol[CaseT]):
    """One kind of evaluation (grounding, tasks); see the module doc."""

    @property
    def header(self) -> RunHeader: ...

    def cases(self) -> Sequence[CaseT]: ...

    def describe(self, case: CaseT) -> CaseInfo: ...

    def run(self, case: CaseT, cancel: CancelToken) -> ItemResult:
        """Run one case.

        Raises:
            OmnideskError: the case cannot be measured (recorded as errored, with the message).
        """
        ...


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def build_summary(
    header: RunHeader, items: Sequence[ItemResult], *, planned: int, started: str, complete: bool, interrupted: bool
) -> RunSummary:
    total, groups = summarize(items)
    return RunSummary(
        kind=header.kind,
        model=header.model,
        format=header.format,
        suite=header.suite,
        seed=header.seed,
        started=started,
        finished=_now() if complete or interrupted else None,
        complete=complete,
        interrupted=interrupted,
        planned=planned,
        notes=header.notes,
        total=total,
        groups=groups,
        items=tuple(items),
    )


def write_report(summary: RunSummary, out_dir: Path, *, html: bool = True) -> None:
    """``summary.json`` (and ``report.html`` unless ``html`` is false) in ``out_dir``, each replaced
    atomically (mode 0600)."""
    private_dir(out_dir)
    write_private(out_dir / SUMMARY_NAME, summary.to_json().encode(), durable=False)
    if html:
        write_private(out_dir / REPORT_NAME, render_html(summary).encode(), durable=False)


def run_evaluation(
    runner: EvalRunner[CaseT],
    out_dir: Path,
    *,
    cancel: CancelToken,
    on_item: Callable[[int, int, ItemResult], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    html_every: float = 2.0,
) -> RunSummary:
    """Run every case of ``runner``, rewriting the report in ``out_dir`` after each; returns the summary.

    ``summary.json`` is rewritten after every item; the page, whose size grows with the run, at most every
    ``html_every`` seconds of the run (and always at its end, or when it is stopped).

    A cancel (Ctrl-C) or a ``KeyboardInterrupt`` stops after the item in flight and leaves the report
    marked ``interrupted``; the interrupt is then raised again.
    """
    header, cases = runner.header, list(runner.cases())
    started, items = _now(), list[ItemResult]()
    last_html = clock()
    write_report(
        build_summary(header, items, planned=len(cases), started=started, complete=False, interrupted=False), out_dir
    )
    try:
        for n, case in enumerate(cases, 1):
            if cancel.cancelled:
                break
            began = clock()
            try:
                result = runner.run(case, cancel)
            except OmnideskError as exc:
                if cancel.cancelled:
                    break
                info = runner.describe(case)
                log.warning("eval item %s errored: %s", info.id, exc)
                result = ItemResult(
                    id=info.id,
                    status="errored",
                    instruction=info.instruction,
                    labels=info.labels,
                    seconds=round(clock() - began, 3),
                    error=str(exc),
                )
            if cancel.cancelled:
                break
            items.append(result)
            html = clock() - last_html >= html_every
            write_report(
                build_summary(header, items, planned=len(cases), started=started, complete=False, interrupted=False),
                out_dir,
                html=html,
            )
            last_html = clock() if html else last_html
            if on_item is not None:
                on_item(n, len(cases), result)
    except KeyboardInterrupt:
        cancel.cancel()
        write_report(
            build_summary(header, items, planned=len(cases), started=started, complete=False, interrupted=True), out_dir
        )
        raise
    interrupted = cancel.cancelled and len(items) < len(cases)
    summary = build_summary(
        header, items, planned=len(cases), started=started, complete=not interrupted, interrupted=interrupted
    )
    write_report(summary, out_dir)
    return summary
