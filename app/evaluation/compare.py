"""``omnidesk eval compare A.json B.json``: two runs side by side — the overall rate and every breakdown,
each with its interval, and the difference (marked when the intervals do not overlap)."""

from __future__ import annotations

from rich.table import Table

from omnidesk.agent.evaluation.records import RateRecord, RunSummary
from omnidesk.app.evaluation.report import pct

__all__ = ["comparison_table"]


def _cell(r: RateRecord | None) -> str:
    if r is None:
        return "–"
    interval = "" if r.low is None or r.high is None else f" [{pct(r.low)}–{pct(r.high)}]"
    errored = f", {r.errored} errored" if r.errored else ""
    return f"{pct(r.rate)}{interval} (n={r.measured}{errored})"


def _delta(a: RateRecord | None, b: RateRecord | None) -> str:
    if a is None or b is None or a.rate is None or b.rate is None:
        return "–"
    delta = (b.rate - a.rate) * 100
    apart = False
    if a.low is not None and b.low is not None and a.high is not None and b.high is not None:
        apart = b.low > a.high or a.low > b.high
    return f"{delta:+.1f} pt{' *' if apart else ''}"


def comparison_table(a: RunSummary, b: RunSummary, *, names: tuple[str, str] = ("A", "B")) -> Table:
    """The table (``*``: the 95 % intervals do not overlap)."""
    table = Table(title=f"{a.kind}: {names[0]} = {a.model} · {names[1]} = {b.model}", show_lines=False)
    table.add_column("group")
    table.add_column("value")
    table.add_column(names[0], justify="right")
    table.add_column(names[1], justify="right")
    table.add_column("B − A", justify="right")
    table.add_row("all", "", _cell(a.total), _cell(b.total), _delta(a.total, b.total))
    for key in sorted(set(a.groups) | set(b.groups)):
        ga, gb = a.groups.get(key, {}), b.groups.get(key, {})
        for value in list(ga) + [v for v in gb if v not in ga]:
            ra, rb = ga.get(value), gb.get(value)
            table.add_row(key, value, _cell(ra), _cell(rb), _delta(ra, rb))
    return table
