"""Split a streamed generation into reasoning (``<think>…</think>``) and answer.

The Nemotron template opens the reasoning block itself when thinking is on (the prompt ends with
``<think>\\n``), so the stream starts inside it; with thinking off the prompt ends with
``<think></think>`` and everything is answer. A model may still write its own ``<think>`` at the start.
Tags split across tokens are held back until they are complete.
"""

from __future__ import annotations

from typing import Literal

from omnidesk.agent.ports import TokenDelta

__all__ = ["ReasoningBudget", "ThinkSplitter"]

_OPEN = "<think>"
_CLOSE = "</think>"


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-n:]):
            return n
    return 0


class ThinkSplitter:
    """Feed decoded text; get :class:`TokenDelta` pieces tagged ``reasoning`` or ``answer``."""

    def __init__(self, *, thinking: bool) -> None:
        self._channel: Literal["reasoning", "answer"] = "reasoning" if thinking else "answer"
        self._pending = ""
        self._seen_answer_text = False
        self.reasoning = ""
        self.answer = ""

    @property
    def in_reasoning(self) -> bool:
        """Whether the stream is inside the thought now."""
        return self._channel == "reasoning"

    def feed(self, text: str) -> list[TokenDelta]:
        self._pending += text
        out: list[TokenDelta] = []
        while True:
            tag = _CLOSE if self._channel == "reasoning" else _OPEN
            index = self._pending.find(tag)
            if index >= 0 and (self._channel == "reasoning" or self._may_open(index)):
                self._emit(self._pending[:index], out)
                self._pending = self._pending[index + len(tag) :]
                self._channel = "answer" if self._channel == "reasoning" else "reasoning"
                continue
            hold = _partial_suffix(self._pending, tag)
            if self._channel == "answer" and not self._may_open(len(self._pending) - hold):
                hold = 0
            self._emit(self._pending[: len(self._pending) - hold], out)
            self._pending = self._pending[len(self._pending) - hold :]
            return out

    def finish(self) -> list[TokenDelta]:
        """Flush what is held back (an unfinished tag is plain text)."""
        out: list[TokenDelta] = []
        self._emit(self._pending, out)
        self._pending = ""
        return out

    def _may_open(self, index: int) -> bool:
        # A ``<think>`` only opens reasoning before any answer text (models put it first).
        return not self._seen_answer_text and not self._pending[:index].strip()

    def _emit(self, text: str, out: list[TokenDelta]) -> None:
        if self._channel == "answer" and not self._seen_answer_text:
            text = text.lstrip("\n")  # the template puts newlines after ``</think>``
        if not text:
            return
        if self._channel == "reasoning":
            self.reasoning += text
        else:
            if text.strip():
                self._seen_answer_text = True
            self.answer += text
        out.append(TokenDelta(text, self._channel))


class ReasoningBudget:
    """When to close a thought: once ``budget`` tokens are spent (``None``: never).

    The budget is the hard cap the format asks for (NVIDIA's cookbook: 16,384 + a grace of 1,024, what vLLM's
    ``thinking_token_budget`` gets); llama.cpp's server likewise forces its end tag at
    ``reasoning_budget_tokens``. ``</think>`` is then put on a line of its own and the answer follows as the
    model writes it.
    """

    def __init__(self, budget: int | None) -> None:
        if budget is not None and budget < 0:
            raise ValueError("a reasoning budget is a number of tokens >= 0")
        self.budget = budget
        self.spent = 0
        self.forced = False

    def count(self, in_reasoning: bool) -> None:
        """One generated token (counted when it belongs to the thought)."""
        if in_reasoning:
            self.spent += 1

    def due(self, in_reasoning: bool) -> bool:
        """Whether the thought must be closed before the next token."""
        return self.budget is not None and in_reasoning and not self.forced and self.spent >= self.budget

    def closing_text(self, reasoning_so_far: str) -> str:
        """The text forced in to close the thought (``</think>`` on a line of its own)."""
        self.forced = True
        return ("" if not reasoning_so_far or reasoning_so_far.endswith("\n") else "\n") + _CLOSE + "\n"
