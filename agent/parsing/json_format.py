"""The grammar-constrained JSON format (:mod:`omnidesk.agent.json_actions`) as an output parser."""

from __future__ import annotations

from collections.abc import Sequence

from omnidesk.agent.errors import ModelOutputError
from omnidesk.agent.json_actions import parse_json_action, render_json_action
from omnidesk.agent.parsing.common import MAX_OUTPUT_CHARS, ModelConvention, Parsed
from omnidesk.agent.ports import ToolCall

__all__ = ["JsonParser"]


class JsonParser:
    """One JSON action object per output, numbers in ``convention``."""

    name = "json"

    def __init__(self, convention: ModelConvention = "fraction") -> None:
        self.convention: ModelConvention = convention

    def parse(self, text: str, *, reasoning: str = "", tool_calls: Sequence[ToolCall] = ()) -> Parsed:
        """Raises: ModelOutputError for anything but one valid action object."""
        if len(text) > MAX_OUTPUT_CHARS:
            raise ModelOutputError(f"output too long ({len(text)} characters)", text[:2000])
        action, thought = parse_json_action(text.strip(), self.convention)
        return Parsed((action,), thought=thought)

    def render(self, parsed: Parsed) -> str:
        return render_json_action(parsed.action, parsed.thought)
