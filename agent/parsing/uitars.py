"""UI-TARS-1.5's output: ``Thought: …`` then ``Action: click(start_box='(x,y)')``, pixels of the
model's resized image. The action line is parsed with :mod:`ast` against an allow-list, never executed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from omnidesk.agent.actions import (
    Action,
    AskUser,
    Click,
    Done,
    Drag,
    Hotkey,
    Move,
    Point,
    Scroll,
    TypeText,
    Wait,
)
from omnidesk.agent.errors import ModelOutputError
from omnidesk.agent.keys import KeyNameError, normalize_combo
from omnidesk.agent.parsing.common import (
    MAX_OUTPUT_CHARS,
    ModelConvention,
    Parsed,
    fmt_number,
    literal,
    make_point,
    parse_expression,
)
from omnidesk.agent.ports import ToolCall

__all__ = ["SCROLL_CLICKS", "UiTarsParser"]

SCROLL_CLICKS = 5
"""Wheel clicks of one UI-TARS ``scroll(direction=...)``."""

_ACTION = re.compile(r"^[ \t]*Action[ \t]*:[ \t]*", re.MULTILINE)
_THOUGHT = re.compile(r"^[ \t]*(?:Thought|Reflection)[ \t]*:[ \t]*", re.MULTILINE)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_BOX_TOKENS = re.compile(r"<\|box_(?:start|end)\|>|</?point>|</?bbox>")
_PARAMS: dict[str, tuple[str, ...]] = {
    "click": ("start_box",),
    "left_single": ("start_box",),
    "left_double": ("start_box",),
    "left_triple": ("start_box",),
    "right_single": ("start_box",),
    "hover": ("start_box",),
    "drag": ("start_box", "end_box"),
    "hotkey": ("key",),
    "press": ("key",),
    "type": ("content",),
    "scroll": ("start_box", "direction"),
    "wait": (),
    "finished": ("content",),
    "call_user": ("content",),
}
_CLICKS = {
    "click": ("left", 1),
    "left_single": ("left", 1),
    "left_double": ("left", 2),
    "left_triple": ("left", 3),
    "right_single": ("right", 1),
}
_DIRECTIONS = {"up": (0, 1), "down": (0, -1), "left": (-1, 0), "right": (1, 0)}


def _box(value: object, space: ModelConvention, raw: str) -> Point:
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    if not isinstance(value, str):
        raise ModelOutputError("a box must be a string like '(x,y)'", raw)
    body = _BOX_TOKENS.sub("", value).strip()
    if not re.fullmatch(r"[\s(\[]*-?\d[\d.,\s\-]*[)\]\s]*", body):
        raise ModelOutputError(f"a box must look like '(x,y)', got {value[:40]!r}", raw)
    numbers = [float(n) for n in _NUMBER.findall(body)]
    if len(numbers) == 4:
        numbers = [(numbers[0] + numbers[2]) / 2, (numbers[1] + numbers[3]) / 2]
    if len(numbers) != 2:
        raise ModelOutputError(f"a box needs 2 (point) or 4 (box) numbers, got {len(numbers)}", raw)
    return make_point(numbers[0], numbers[1], space, raw)


def _string(kw: dict[str, object], key: str, raw: str) -> str:
    value = kw.get(key, "")
    if not isinstance(value, str):
        raise ModelOutputError(f"{key} must be a string", raw)
    return value


def _call(text: str, space: ModelConvention, raw: str) -> Action:
    node = parse_expression(text, raw)
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _PARAMS):
        raise ModelOutputError(f"the action must be one of {sorted(_PARAMS)}(...)", raw)
    name, params = node.func.id, _PARAMS[node.func.id]
    if len(node.args) > len(params) or any(k.arg not in params for k in node.keywords):
        raise ModelOutputError(f"{name}() takes {', '.join(params) or 'no'} arguments", raw)
    kw: dict[str, object] = dict(zip(params, (literal(a, raw) for a in node.args), strict=False))
    for keyword in node.keywords:
        if keyword.arg in kw:
            raise ModelOutputError(f"argument {keyword.arg!r} given twice", raw)
        kw[str(keyword.arg)] = literal(keyword.value, raw)
    if name in _CLICKS:
        button, count = _CLICKS[name]
        return Click(point=_box(kw.get("start_box"), space, raw), button=button, count=count)  # type: ignore[arg-type]
    if name == "hover":
        return Move(point=_box(kw.get("start_box"), space, raw))
    if name == "drag":
        return Drag(start=_box(kw.get("start_box"), space, raw), end=_box(kw.get("end_box"), space, raw))
    if name in {"hotkey", "press"}:
        keys = _string(kw, "key", raw).split()
        if not 1 <= len(keys) <= 5:
            raise ModelOutputError("key must name 1 to 5 keys separated by spaces, e.g. 'ctrl c'", raw)
        try:
            return Hotkey(keys=normalize_combo(keys))
        except KeyNameError as exc:
            raise ModelOutputError(str(exc), raw) from exc
    if name == "type":
        content = _string(kw, "content", raw)
        if not 1 <= len(content) <= 10_000:
            raise ModelOutputError("type(content=...) needs 1 to 10000 characters", raw)
        return TypeText(text=content)
    if name == "scroll":
        direction = kw.get("direction")
        if direction not in _DIRECTIONS:
            raise ModelOutputError("scroll direction must be 'up', 'down', 'left' or 'right'", raw)
        dx, dy = _DIRECTIONS[str(direction)]
        point = _box(kw["start_box"], space, raw) if kw.get("start_box") is not None else None
        return Scroll(point=point, dx=dx * SCROLL_CLICKS, dy=dy * SCROLL_CLICKS)
    if name == "wait":
        return Wait(seconds=5.0)
    if name == "finished":
        return Done(answer=_string(kw, "content", raw))
    question = _string(kw, "content", raw) or "The agent needs your help to go on."
    return AskUser(question=question)


def _render_action(action: Action, space: ModelConvention) -> str:
    def box(p: Point) -> str:
        if p.space != space:
            raise ValueError(f"point in {p.space}, parser expects {space}")
        return f"'({fmt_number(p.x, space)},{fmt_number(p.y, space)})'"

    match action:
        case Click(point=p, button=b, count=n, modifiers=()):
            name = {("left", 1): "click", ("left", 2): "left_double", ("left", 3): "left_triple"}.get((b, n))
            name = name or {("right", 1): "right_single"}.get((b, n))
            if name is None:
                raise ValueError(f"no UI-TARS action for {b} x{n}")
            return f"{name}(start_box={box(p)})"
        case Move(point=p):
            return f"hover(start_box={box(p)})"
        case Drag(start=s, end=e, button="left"):
            return f"drag(start_box={box(s)}, end_box={box(e)})"
        case Scroll(point=p, dx=dx, dy=dy):
            direction = {(0, 5): "up", (0, -5): "down", (-5, 0): "left", (5, 0): "right"}.get((dx, dy))
            if direction is None:
                raise ValueError("UI-TARS scrolls by one direction only")
            where = "" if p is None else f"start_box={box(p)}, "
            return f"scroll({where}direction={direction!r})"
        case TypeText(text=t):
            return f"type(content={t!r})"
        case Hotkey(keys=ks):
            return f"hotkey(key={' '.join(ks)!r})"
        case Wait(seconds=5.0):
            return "wait()"
        case Done(answer=a):
            return f"finished(content={a!r})"
        case AskUser(question=q):
            return f"call_user(content={q!r})"
    raise ValueError(f"cannot render {action!r} as UI-TARS output")


class UiTarsParser:
    """Parser/renderer for UI-TARS-1.5 (``Thought:`` / ``Action:`` lines, image pixels)."""

    name = "uitars"

    def __init__(self, convention: ModelConvention = "image_pixels") -> None:
        self.convention: ModelConvention = convention

    def parse(self, text: str, *, reasoning: str = "", tool_calls: Sequence[ToolCall] = ()) -> Parsed:
        """Raises: ModelOutputError for anything but exactly one allowed action."""
        if len(text) > MAX_OUTPUT_CHARS:
            raise ModelOutputError(f"output too long ({len(text)} characters)", text[:2000])
        marks = list(_ACTION.finditer(text))
        if not marks:
            raise ModelOutputError("no 'Action:' line; end with e.g. Action: click(start_box='(x,y)')", text)
        if len(marks) > 1:
            raise ModelOutputError("one 'Action:' per step", text)
        thought = _THOUGHT.sub("", text[: marks[0].start()], count=1).strip()
        body = text[marks[0].end() :].strip()
        return Parsed((_call(body, self.convention, text),), thought=thought)

    def render(self, parsed: Parsed) -> str:
        return f"Thought: {parsed.thought}\nAction: {_render_action(parsed.action, self.convention)}"
