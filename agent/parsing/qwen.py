"""Qwen-style ``computer_use`` tool calls: Qwen3-VL and GUI-Owl (integers 0–1000) and Qwen2.5-VL / Holo
(pixels of the model's resized image) — the same format, two coordinate conventions.

::

    I will press OK.
    <tool_call>
    {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [412, 220]}}
    </tool_call>

``left_click_drag`` needs ``start_coordinate`` (Omnidesk never drags from wherever the pointer happens to
be); ``ask_user`` with ``text`` is Omnidesk's addition.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from omnidesk.agent.actions import (
    Action,
    AskUser,
    Click,
    Done,
    Drag,
    Fail,
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
    make_point,
    number,
)
from omnidesk.agent.ports import ToolCall

__all__ = ["QwenParser"]

_CLICKS = {
    "left_click": ("left", 1),
    "double_click": ("left", 2),
    "triple_click": ("left", 3),
    "right_click": ("right", 1),
    "middle_click": ("middle", 1),
}


def _coordinate(args: dict[str, Any], key: str, space: ModelConvention, raw: str) -> Point:
    value = args.get(key)
    if not isinstance(value, list) or len(value) != 2:
        raise ModelOutputError(f"{key!r} must be [x, y]", raw)
    return make_point(value[0], value[1], space, raw)


def _string(args: dict[str, Any], key: str, raw: str, *, empty: bool = False) -> str:
    value = args.get(key, "" if empty else None)
    if not isinstance(value, str) or (not empty and not value):
        raise ModelOutputError(f"{key!r} must be a non-empty string", raw)
    return value


def _int(args: dict[str, Any], key: str, raw: str) -> int:
    value = args.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value == 0 or abs(value) > 100:
        raise ModelOutputError(f"{key!r} must be a non-zero integer up to 100", raw)
    return value


def _to_action(args: dict[str, Any], space: ModelConvention, raw: str) -> Action:
    action = args.get("action")
    if action in _CLICKS:
        button, count = _CLICKS[action]
        return Click(point=_coordinate(args, "coordinate", space, raw), button=button, count=count)  # type: ignore[arg-type]
    match action:
        case "mouse_move":
            return Move(point=_coordinate(args, "coordinate", space, raw))
        case "left_click_drag":
            if "start_coordinate" not in args:
                raise ModelOutputError("left_click_drag needs start_coordinate and coordinate", raw)
            return Drag(
                start=_coordinate(args, "start_coordinate", space, raw),
                end=_coordinate(args, "coordinate", space, raw),
            )
        case "scroll" | "hscroll":
            point = _coordinate(args, "coordinate", space, raw) if "coordinate" in args else None
            amount = _int(args, "pixels", raw)
            return Scroll(point=point, dy=amount) if action == "scroll" else Scroll(point=point, dx=amount)
        case "type":
            text = _string(args, "text", raw)
            if len(text) > 10_000:
                raise ModelOutputError("text too long (max 10000 characters)", raw)
            return TypeText(text=text)
        case "key":
            keys = args.get("keys")
            if not isinstance(keys, list) or not 1 <= len(keys) <= 5 or not all(isinstance(k, str) for k in keys):
                raise ModelOutputError("'keys' must be a list of 1 to 5 key names", raw)
            try:
                return Hotkey(keys=normalize_combo(keys))
            except KeyNameError as exc:
                raise ModelOutputError(str(exc), raw) from exc
        case "wait":
            seconds = number(args.get("time", 1.0), "time", raw)
            if not 0 <= seconds <= 60:
                raise ModelOutputError("wait between 0 and 60 seconds", raw)
            return Wait(seconds=seconds)
        case "answer":
            return Done(answer=_string(args, "text", raw, empty=True))
        case "terminate":
            status = args.get("status")
            text = _string(args, "text", raw, empty=True)
            if status == "success":
                return Done(answer=text)
            if status == "failure":
                return Fail(reason=text)
            raise ModelOutputError("terminate status must be 'success' or 'failure'", raw)
        case "ask_user":
            return AskUser(question=_string(args, "text", raw))
    raise ModelOutputError(f"unknown computer_use action {str(action)[:40]!r}", raw)


def _one_call(text: str) -> tuple[object, str]:
    """The JSON of the one tool call in ``text`` (inside ``<tool_call>`` or bare) and the text before it."""
    start = text.find("<tool_call>")
    if start >= 0:
        thought, body_at = text[:start], start + len("<tool_call>")
    else:
        start = text.find("{")
        if start < 0:
            raise ModelOutputError("no <tool_call> with a computer_use action", text)
        thought, body_at = text[:start], start
    body = text[body_at:]
    stripped = body.lstrip()
    try:
        call, end = json.JSONDecoder().raw_decode(stripped)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, or an integer of 4300+ digits
        raise ModelOutputError(f"the tool call is not valid JSON ({exc})", text) from exc
    rest = stripped[end:].strip()
    rest = rest.removeprefix("</tool_call>").strip()
    if rest.startswith(("<tool_call>", "{")):
        raise ModelOutputError("one action per step: write a single tool call", text)
    return call, thought


def _render_args(action: Action, space: ModelConvention) -> dict[str, Any]:
    def xy(p: Point) -> list[float]:
        if p.space != space:
            raise ValueError(f"point in {p.space}, parser expects {space}")
        return [json.loads(fmt_number(p.x, space)), json.loads(fmt_number(p.y, space))]

    match action:
        case Click(point=p, button=b, count=n, modifiers=()):
            name = {v: k for k, v in _CLICKS.items()}.get((b, n))
            if name is None:
                raise ValueError(f"no Qwen action for {b} x{n}")
            return {"action": name, "coordinate": xy(p)}
        case Move(point=p):
            return {"action": "mouse_move", "coordinate": xy(p)}
        case Drag(start=s, end=e, button="left"):
            return {"action": "left_click_drag", "start_coordinate": xy(s), "coordinate": xy(e)}
        case Scroll(point=p, dx=dx, dy=dy):
            out: dict[str, Any] = (
                {"action": "hscroll", "pixels": dx} if dx and not dy else {"action": "scroll", "pixels": dy}
            )
            if p is not None:
                out["coordinate"] = xy(p)
            return out
        case TypeText(text=t):
            return {"action": "type", "text": t}
        case Hotkey(keys=ks):
            return {"action": "key", "keys": list(ks)}
        case Wait(seconds=s):
            return {"action": "wait", "time": s}
        case Done(answer=a):
            return {"action": "terminate", "status": "success", "text": a}
        case Fail(reason=r):
            return {"action": "terminate", "status": "failure", "text": r}
        case AskUser(question=q):
            return {"action": "ask_user", "text": q}
    raise ValueError(f"cannot render {action!r} as a Qwen tool call")


class QwenParser:
    """Parser/renderer for ``<tool_call>{"name": "computer_use", ...}</tool_call>`` outputs."""

    name = "qwen"

    def __init__(self, convention: ModelConvention = "thousandths") -> None:
        if convention == "fraction":
            raise ValueError("Qwen tool calls use thousandths or image pixels")
        self.convention: ModelConvention = convention

    def parse(self, text: str, *, reasoning: str = "", tool_calls: Sequence[ToolCall] = ()) -> Parsed:
        """Raises: ModelOutputError for anything but exactly one valid tool call."""
        if len(text) > MAX_OUTPUT_CHARS:
            raise ModelOutputError(f"output too long ({len(text)} characters)", text[:2000])
        call, thought = _one_call(text)
        if not isinstance(call, dict):
            raise ModelOutputError("the tool call must be a JSON object", text)
        args = call.get("arguments", call)
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except (ValueError, RecursionError) as exc:
                raise ModelOutputError("the tool call's arguments are not valid JSON", text) from exc
        if not isinstance(args, dict):
            raise ModelOutputError("the tool call's arguments must be an object", text)
        return Parsed((_to_action(args, self.convention, text),), thought=thought.strip())

    def render(self, parsed: Parsed) -> str:
        call = {"name": "computer_use", "arguments": _render_args(parsed.action, self.convention)}
        return f"{parsed.thought}\n<tool_call>\n{json.dumps(call, ensure_ascii=False)}\n</tool_call>"
