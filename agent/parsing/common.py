"""What every output parser shares: the parse result, safe literal evaluation, point checks."""

from __future__ import annotations

import ast
import math
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from omnidesk.agent.actions import Action, Point
from omnidesk.agent.errors import ModelOutputError
from omnidesk.agent.ports import ToolCall

__all__ = [
    "MAX_ACTIONS",
    "MAX_OUTPUT_CHARS",
    "ModelConvention",
    "OutputParser",
    "Parsed",
    "fmt_number",
    "literal",
    "make_point",
    "number",
    "parse_python",
    "too_many",
]

ModelConvention = Literal["fraction", "thousandths", "image_pixels"]
MAX_OUTPUT_CHARS = 20_000
"""Longer outputs are rejected before any parsing (a runaway generation is not an action)."""
MAX_ACTIONS = 32
"""The most actions one reply may hold (several pyautogui lines, tool calls or UI-TARS actions)."""

_WARNINGS = threading.Lock()

Literal_ = str | int | float | bool | None | list["Literal_"] | tuple["Literal_", ...]


@dataclass(frozen=True, slots=True)
class Parsed:
    """One parsed model output: its actions in order (points in the model's convention; at least one,
    at most :data:`MAX_ACTIONS`) and the model's words (``summary``: its own one-line action text)."""

    actions: tuple[Action, ...]
    thought: str = ""
    summary: str = ""

    def __post_init__(self) -> None:
        if not 1 <= len(self.actions) <= MAX_ACTIONS:
            raise ValueError(f"a parsed output holds 1 to {MAX_ACTIONS} actions, got {len(self.actions)}")

    @property
    def action(self) -> Action:
        """The first action."""
        return self.actions[0]


class OutputParser(Protocol):
    """Turns a model's reply into actions, and renders actions the way that model writes them.

    ``parse`` gets the whole reply: ``text`` (the answer), ``reasoning`` (a thinking model's separate
    stream, where some formats' answer may land) and ``tool_calls`` (split off by an engine's tool parser).
    """

    name: str
    convention: ModelConvention

    def parse(self, text: str, *, reasoning: str = "", tool_calls: Sequence[ToolCall] = ()) -> Parsed: ...

    def render(self, parsed: Parsed) -> str: ...


def too_many(count: int, raw: str) -> ModelOutputError:
    """The error for a reply with more than :data:`MAX_ACTIONS` actions."""
    return ModelOutputError(f"{count} actions in one reply; at most {MAX_ACTIONS}", raw)


def parse_python(code: str, raw: str, mode: Literal["eval", "exec"] = "eval") -> ast.AST:
    """Read Python source into a tree (never evaluated); ``mode="eval"``: one expression's tree.

    Python's "invalid escape sequence" warning (``'C:\\Users'`` written with single backslashes) is not an
    error here, so a test run with warnings as errors reads what a normal run reads.

    Raises:
        ModelOutputError: not valid Python (or too deep, too big).
    """
    try:
        if "\\" not in code:  # no escape sequence, no warning: skip the (costly) warning filters
            return ast.parse(code, mode=mode)
        with _WARNINGS, warnings.catch_warnings():  # the filters are global: one parse at a time changes them
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            tree: ast.AST = ast.parse(code, mode=mode)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
        raise ModelOutputError(f"the code is not valid Python ({type(exc).__name__})", raw) from exc
    return tree


def literal(node: ast.expr, raw: str, depth: int = 0) -> Literal_:
    """The value of a literal node: str, number, bool, None, or a list/tuple of them (allow-list only).

    Raises:
        ModelOutputError: anything else (names, calls, operators, comprehensions…).
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool | type(None)):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub | ast.UAdd)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
        and not isinstance(node.operand.value, bool)
    ):
        value = node.operand.value
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.List | ast.Tuple) and depth < 2:
        items = [literal(item, raw, depth + 1) for item in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    raise ModelOutputError(
        f"arguments must be plain literals (numbers, strings, lists), got {type(node).__name__}", raw
    )


def number(value: object, what: str, raw: str) -> float:
    """A finite int/float (bools and strings rejected; an integer too big for a float is a model error)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ModelOutputError(f"{what} must be a number, got {_short(value)}", raw)
    try:
        result = float(value)
    except OverflowError as exc:
        raise ModelOutputError(f"{what} is far too large", raw) from exc
    if not math.isfinite(result):
        raise ModelOutputError(f"{what} must be finite, got {value!r}", raw)
    return result


def _short(value: object) -> str:
    """``repr`` for messages, bounded (a 5000-digit integer has no readable repr: ``int`` refuses it)."""
    try:
        text = repr(value)
    except ValueError:
        return f"a {type(value).__name__} too long to show"
    return text if len(text) <= 80 else text[:79] + "…"


def make_point(x: object, y: object, space: ModelConvention, raw: str) -> Point:
    """A point in ``space``, rejecting numbers that cannot be in it.

    Image-pixel bounds depend on the image and are checked when the point is mapped (CoordinateError).
    """
    fx, fy = number(x, "x", raw), number(y, "y", raw)
    if fx < 0 or fy < 0:
        raise ModelOutputError(f"coordinates must not be negative, got ({fx:g}, {fy:g})", raw)
    limit = {"fraction": 1.0, "thousandths": 1000.0, "image_pixels": 100_000.0}[space]
    if fx > limit or fy > limit:
        raise ModelOutputError(f"coordinates ({fx:g}, {fy:g}) are out of range for {space} (max {limit:g})", raw)
    return Point(x=fx, y=fy, space=space)


def fmt_number(value: float, space: ModelConvention) -> str:
    """A number as a model of ``space`` writes it (integers for thousandths/pixels when whole)."""
    if space != "fraction" and float(value).is_integer():
        return str(int(value))
    return repr(float(value))
