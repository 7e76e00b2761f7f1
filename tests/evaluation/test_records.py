"""The evaluation records and metrics: intervals against brute force, errored items counted apart, the
summary schema refusing what it does not know, the set's instructions, size classes and seeded draws."""

from __future__ import annotations

import math

import pytest

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.evaluation import ItemResult, binomial_interval, load_summary, summarize, wilson_interval
from omnidesk.agent.evaluation.grounding import instruction_for, load_grounding_set, pick_cases, size_class
from omnidesk.agent.geometry import Rect
from tests.evaluation.synthetic import write_synthetic_set


def _pmf(n: int, p: float, k: int) -> float:
    return math.comb(n, k) * p**k * (1 - p) ** (n - k)


@pytest.mark.parametrize(("n", "p"), [(40, 0.5), (60, 0.9), (200, 0.03), (25, 1.0), (25, 0.0)])
def test_binomial_interval_holds_the_level_and_is_tight(n: int, p: float) -> None:
    low, high = binomial_interval(n, p, 0.99)
    inside = sum(_pmf(n, p, k) for k in range(low, high + 1))
    assert inside >= 0.99
    # One step narrower on either side would leave more than the tail outside.
    if low < high:
        assert sum(_pmf(n, p, k) for k in range(low + 1, high + 1)) < 0.995 or _pmf(n, p, low) == 0
        assert sum(_pmf(n, p, k) for k in range(low, high)) < 0.995 or _pmf(n, p, high) == 0


def test_wilson_interval_matches_the_formula_and_stays_in_bounds() -> None:
    low, high = wilson_interval(45, 50)
    assert 0.78 < low < 0.79 and 0.955 < high < 0.96  # 0.7864 – 0.9565 (Wilson 1927)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 0)


def _item(i: int, status: str, app: str) -> ItemResult:
    return ItemResult(id=str(i), status=status, instruction="x", labels={"app": app})  # type: ignore[arg-type]


def test_errored_items_are_counted_apart_from_the_rate() -> None:
    items = [_item(0, "pass", "a"), _item(1, "fail", "a"), _item(2, "errored", "a"), _item(3, "pass", "b")]
    total, groups = summarize(items)
    assert (total.passed, total.failed, total.errored, total.rate) == (2, 1, 1, 2 / 3)
    assert groups["app"]["a"].rate == 0.5 and groups["app"]["a"].errored == 1
    assert groups["app"]["b"].rate == 1.0
    only_errored, _ = summarize([_item(0, "errored", "a")])
    assert only_errored.rate is None and only_errored.low is None


def test_a_summary_of_another_version_or_shape_is_refused_with_what_was_found() -> None:
    with pytest.raises(ConfigError, match="schema version 2"):
        load_summary('{"schema_version": 2}', source="old.json")
    with pytest.raises(ConfigError, match="not JSON"):
        load_summary("{", source="x.json")
    with pytest.raises(ConfigError, match="total"):
        load_summary(
            '{"schema_version": 1, "kind": "grounding", "model": "m", "format": "f", "suite": "s", '
            '"started": "t", "planned": 1}'
        )


def test_instructions_come_from_the_name_and_role_and_skip_what_cannot_be_named() -> None:
    assert instruction_for("push_button", "  Save  as ") == 'Click the "Save as" button.'
    assert instruction_for("menu", "File") == 'Open the "File" menu.'
    assert instruction_for("push_button", "") is None
    assert instruction_for("filler", "Panel") is None
    assert instruction_for("text", 'say "hi"') == "Click the \"say 'hi'\" text field."


def test_size_classes_are_shares_of_the_monitor() -> None:
    screen = Rect(0, 0, 1920, 1080)
    assert size_class(Rect(0, 0, 20, 20), screen) == "0.01-0.05%"
    assert size_class(Rect(0, 0, 5, 5), screen) == "<0.01%"
    assert size_class(Rect(0, 0, 400, 300), screen) == ">=1%"


def test_the_set_reads_back_and_a_seed_draws_the_same_items(tmp_path) -> None:  # type: ignore[no-untyped-def]
    written = write_synthetic_set(tmp_path)
    loaded = load_grounding_set((tmp_path / "set.json").read_text())
    assert loaded == written
    first = pick_cases(loaded.cases, 3, seed=7)
    assert first == pick_cases(loaded.cases, 3, seed=7) and len(first) == 3
    assert pick_cases(loaded.cases, None, seed=7) == list(loaded.cases)
    broken = loaded.to_json().replace('"shot": "m2"', '"shot": "m9"')
    with pytest.raises(ConfigError, match="m9"):
        load_grounding_set(broken)
    assert loaded.labels(loaded.cases[3]) == {
        "app": "synthetic",
        "resolution": "800x450",
        "scale": "1.0",
        "monitors": "2",
        "size": "0.2-1%",
    }
