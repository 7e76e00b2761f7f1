"""Reasoning/answer split of a streamed generation."""

from __future__ import annotations

import pytest

from omnidesk.runtime.llama.reasoning import ThinkSplitter


def _run(pieces: list[str], *, thinking: bool) -> tuple[str, str, list[tuple[str, str]]]:
    splitter = ThinkSplitter(thinking=thinking)
    deltas = []
    for piece in pieces:
        deltas += splitter.feed(piece)
    deltas += splitter.finish()
    return splitter.reasoning, splitter.answer, [(d.channel, d.text) for d in deltas]


@pytest.mark.parametrize("step", [1, 2, 3, 100])
def test_thinking_stream_split_at_any_token_boundary(step: int) -> None:
    text = "Let me look.\nThe OK button.\n</think>\n\nclick(0.5, 0.5)"
    pieces = [text[i : i + step] for i in range(0, len(text), step)]
    reasoning, answer, deltas = _run(pieces, thinking=True)
    assert reasoning == "Let me look.\nThe OK button.\n"
    assert answer == "click(0.5, 0.5)"
    assert "".join(t for c, t in deltas if c == "answer") == answer
    assert all("<" not in t for _, t in deltas)


def test_no_thinking_is_all_answer_even_with_angle_brackets() -> None:
    reasoning, answer, _ = _run(["a < b and <thin", "g> stays"], thinking=False)
    assert reasoning == "" and answer == "a < b and <thing> stays"


def test_model_opening_its_own_think_block() -> None:
    reasoning, answer, _ = _run(["<th", "ink>plan</th", "ink>done"], thinking=False)
    assert reasoning == "plan" and answer == "done"


def test_think_tag_after_answer_text_is_text() -> None:
    _, answer, _ = _run(["done <think>x</think>"], thinking=False)
    assert answer == "done <think>x</think>"


def test_unclosed_reasoning_stays_reasoning() -> None:
    reasoning, answer, _ = _run(["still thinking </thi"], thinking=True)
    assert reasoning == "still thinking </thi" and answer == ""


def test_reasoning_budget_closes_at_the_cap_on_its_own_line() -> None:
    from omnidesk.runtime.llama.reasoning import ReasoningBudget

    budget = ReasoningBudget(3)
    for _ in range(3):
        assert not budget.due(True)
        budget.count(True)
    assert budget.due(True) and not budget.due(False)  # only a thought is closed
    assert budget.closing_text("half a sentence") == "\n</think>\n"
    assert not budget.due(True)  # closed once
    assert ReasoningBudget(0).due(True) and ReasoningBudget(0).closing_text("") == "</think>\n"
    unlimited = ReasoningBudget(None)
    for _ in range(10_000):
        unlimited.count(True)
    assert not unlimited.due(True)
    answer_only = ReasoningBudget(2)
    for _ in range(5):
        answer_only.count(False)  # answer tokens do not spend the thinking budget
    assert not answer_only.due(True)
