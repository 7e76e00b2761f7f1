"""Qwen's ``computer_use`` tool calls: Qwen2.5-VL (pixels of the smart-resized screenshot) and Qwen3-VL
(0–1000), each with its own action set, as the official cookbooks declare the tool.

::

    Thought: the OK button is at the bottom right.
    <tool_call>
    {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [412, 220]}}
    </tool_call>

Sources: ``QwenLM/Qwen2.5-VL`` ``cookbooks/utils/agent_function_call.py`` (commit
``f0af2996e843cf46aa5f778c38d6694500c2ca81``) and ``QwenLM/Qwen3-VL`` at
``96588727e44c78b25ba03ea03b8e12f7e64fd0da`` (same path). The answer holds one or more ``<tool_call>``
blocks (the last may be cut off before ``</tool_call>``, as vLLM's hermes parser allows), possibly after
``Thought:`` / ``Action:`` lines; an engine started with a tool parser returns the calls as OpenAI
``tool_calls`` instead (:class:`~omnidesk.agent.ports.ToolCall`) — both are read, the same way. A thinking
model's ``<think>`` block is never read for calls; when the answer holds none and the reasoning stream
*ends* with complete ``<tool_call>`` blocks (the thought was never closed), those are the answer.

Semantics, per the tool's description: ``key`` presses the keys in order and releases them in reverse (a
chord); a click with a ``coordinate`` clicks there, without one where the pointer is; ``left_click_drag``
drags from where the pointer is to ``coordinate`` (Omnidesk also reads its own ``start_coordinate``);
``scroll``/``hscroll`` ``pixels`` are wheel clicks as the reference harness passes them to pyautogui,
positive up / right, clamped to ±100; ``wait`` ``time`` seconds (at most 60); ``terminate`` with
``status`` success/failure; Qwen3's ``answer`` ends the task with its ``text``. Qwen2.5-VL has no
``triple_click``, ``hscroll`` or ``answer``. ``ask_user`` with ``text`` is Omnidesk's addition.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from omnidesk.agent.actions import (
    POINTER,
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
    MAX_ACTIONS,
    MAX_OUTPUT_CHARS,
    ModelConvention,
    Parsed,
    fmt_number,
    make_point,
    number,
    too_many,
)
from omnidesk.agent.ports import ToolCall

__all__ = ["QWEN3_ACTIONS", "QWEN25_ACTIONS", "QwenParser", "QwenVersion"]

QwenVersion = Literal["2.5", "3"]
QWEN25_ACTIONS = frozenset(
    {
        "key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click",
        "double_click", "scroll", "wait", "terminate",
    }
)  # fmt: skip
"""Qwen2.5-VL's ``computer_use`` actions (the tool's ``action`` enum)."""
QWEN3_ACTIONS = QWEN25_ACTIONS | {"triple_click", "hscroll", "answer"}
"""Qwen3-VL's ``computer_use`` actions."""
_OMNIDESK_ACTIONS = frozenset({"ask_user"})
SCROLL_LIMIT = 100

_CLICKS = {
    "left_click": ("left", 1),
    "double_click": ("left", 2),
    "triple_click": ("left", 3),
    "right_click": ("right", 1),
    "middle_click": ("middle", 1),
}
_OPEN, _CLOSE = "<tool_call>", "</tool_call>"
_PAIR = re.compile(r"[\[(]\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*[\])]")


def _coordinate(value: object, key: str, space: ModelConvention, raw: str) -> Point:
    """``[x, y]`` (or the string ``"[x, y]"``) as a point of ``space``."""
    if isinstance(value, str) and (pair := _PAIR.fullmatch(value.strip())):
        value = [float(pair.group(1)), float(pair.group(2))]
    if not isinstance(value, list) or len(value) != 2:
        raise ModelOutputError(f"{key!r} must be [x, y]", raw)
    return make_point(value[0], value[1], space, raw)


def _string(args: dict[str, Any], key: str, raw: str, *, empty: bool = False) -> str:
    value = args.get(key, "" if empty else None)
    if not isinstance(value, str) or (not empty and not value):
        raise ModelOutputError(f"{key!r} must be a non-empty string", raw)
    return value


def _wheel(args: dict[str, Any], raw: str) -> int:
    clicks = round(number(args.get("pixels"), "pixels", raw))
    if clicks == 0:
        raise ModelOutputError("'pixels' must not be 0", raw)
    return max(-SCROLL_LIMIT, min(SCROLL_LIMIT, clicks))


def _keys(args: dict[str, Any], raw: str) -> Hotkey:
    keys = args.get("keys")
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, list) or not 1 <= len(keys) <= 5 or not all(isinstance(k, str) and k for k in keys):
        raise ModelOutputError("'keys' must be a list of 1 to 5 key names", raw)
    try:
        combo = normalize_combo(keys) if len(keys) > 1 else normalize_combo(keys[0])
    except KeyNameError as exc:
        raise ModelOutputError(str(exc), raw) from exc
    if len(combo) > 5:
        raise ModelOutputError("at most 5 keys at once", raw)
    return Hotkey(keys=combo)


def _to_action(args: dict[str, Any], allowed: frozenset[str], space: ModelConvention, raw: str) -> Action:
    action = args.get("action")
    if not isinstance(action, str) or action not in allowed:
        shown = str(action)[:40] if isinstance(action, str) else type(action).__name__
        raise ModelOutputError(f"unknown computer_use action {shown!r}; use one of {', '.join(sorted(allowed))}", raw)
    here = _coordinate(args["coordinate"], "coordinate", space, raw) if "coordinate" in args else None
    if action in _CLICKS:
        button, count = _CLICKS[action]
        return Click(point=here or POINTER, button=button, count=count)  # type: ignore[arg-type]
    match action:
        case "mouse_move":
            if here is None:
                raise ModelOutputError("mouse_move needs 'coordinate'", raw)
            return Move(point=here)
        case "left_click_drag":
            if here is None:
                raise ModelOutputError("left_click_drag needs 'coordinate' (where to drag to)", raw)
            start = args.get("start_coordinate")
            return Drag(
                start=POINTER if start is None else _coordinate(start, "start_coordinate", space, raw), end=here
            )
        case "scroll" | "hscroll":
            clicks = _wheel(args, raw)
            return Scroll(point=here, dy=clicks) if action == "scroll" else Scroll(point=here, dx=clicks)
        case "type":
            text = _string(args, "text", raw)
            if len(text) > 10_000:
                raise ModelOutputError("text too long (max 10000 characters)", raw)
            return TypeText(text=text)
        case "key":
            return _keys(args, raw)
        case "wait":
            seconds = number(args.get("time", 1.0), "time", raw)
            if seconds < 0:
                raise ModelOutputError("'time' must not be negative", raw)
            return Wait(seconds=min(seconds, 60.0))
        case "answer":
            return Done(answer=_string(args, "text", raw, empty=True))
        case "terminate":
            status = args.get("status")
            text = _string(args, "text", raw, empty=True)
            if status == "success":
                return Done(answer=text)
            if status == "failure":
                return Fail(reason=text)
            raise ModelOutputError("terminate 'status' must be 'success' or 'failure'", raw)
    return AskUser(question=_string(args, "text", raw))


def _decode(body: str, raw: str) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, or an integer of 4300+ digits
        raise ModelOutputError(f"a tool call is not valid JSON ({str(exc)[:80]})", raw) from exc


def _calls_in_text(text: str) -> tuple[list[object], str]:
    """The JSON of each ``<tool_call>`` in ``text`` (or one bare JSON object) and the text before them."""
    start = text.find(_OPEN)
    if start < 0:  # no tag: one bare object, as some servers return it
        brace = text.find("{")
        if brace < 0:
            raise ModelOutputError("no <tool_call> with a computer_use action", text)
        try:
            call, end = json.JSONDecoder().raw_decode(text, brace)
        except (ValueError, RecursionError) as exc:
            raise ModelOutputError(f"the tool call is not valid JSON ({str(exc)[:80]})", text) from exc
        if text[end:].strip():
            raise ModelOutputError("write the tool call inside <tool_call></tool_call>", text)
        return [call], text[:brace]
    calls: list[object] = []
    at = start
    while at >= 0:
        body_at = at + len(_OPEN)
        close, reopen = text.find(_CLOSE, body_at), text.find(_OPEN, body_at)
        if close >= 0 and (reopen < 0 or close < reopen):
            body, at = text[body_at:close], text.find(_OPEN, close)  # text after the last call is not read
        else:  # cut off before </tool_call> (the last call of a reply)
            body, at = text[body_at : reopen if reopen >= 0 else len(text)], reopen
        calls.append(_decode(body.strip(), text))
        if len(calls) > MAX_ACTIONS:
            raise too_many(len(calls), text)
    return calls, text[:start]


def _trailing_calls(reasoning: str) -> str:
    """The run of complete ``<tool_call>`` blocks that ends the reasoning stream ("" if it does not end so)."""
    text = reasoning.rstrip()
    if len(text) > MAX_OUTPUT_CHARS * 50 or not text.endswith(_CLOSE):
        return ""
    start = text.rfind(_OPEN)
    while start > 0:
        close = text.rfind(_CLOSE, 0, start)
        previous = text.rfind(_OPEN, 0, close) if close >= 0 else -1
        if previous < 0 or text[close + len(_CLOSE) : start].strip():
            break
        start = previous
    return text[start:] if start >= 0 else ""


def _arguments(call: object, raw: str) -> dict[str, Any]:
    """The ``arguments`` of a ``{"name": "computer_use", "arguments": ...}`` call (a JSON string too)."""
    if not isinstance(call, dict):
        raise ModelOutputError("a tool call must be a JSON object", raw)
    name = call.get("name", "computer_use")
    if name != "computer_use":
        raise ModelOutputError(f"unknown tool {str(name)[:40]!r}; call computer_use", raw)
    args = call.get("arguments", call)
    for _ in range(2):  # a JSON string of the object (hermes' tool_calls), even of that string
        if isinstance(args, str):
            args = _decode(args, raw)
    if not isinstance(args, dict):
        raise ModelOutputError("a tool call's arguments must be an object", raw)
    return args


def _summary(thought: str) -> tuple[str, str]:
    """(thought, action line) of the text before the calls: ``Thought: …`` / ``Action: …`` lines."""
    lines = thought.strip().splitlines()
    action = [i for i, line in enumerate(lines) if line.startswith("Action:")]
    if not action:
        return thought.strip().removeprefix("Thought:").strip(), ""
    i = action[-1]
    summary = "\n".join(lines[i:]).removeprefix("Action:").strip()
    return "\n".join(lines[:i]).strip().removeprefix("Thought:").strip(), summary


class QwenParser:
    """Parser/renderer for ``computer_use`` tool calls of one Qwen version (``None``: either's actions)."""

    name = "qwen"

    def __init__(self, convention: ModelConvention = "thousandths", version: QwenVersion | None = None) -> None:
        if convention == "fraction":
            raise ValueError("Qwen tool calls use thousandths or image pixels")
        self.convention: ModelConvention = convention
        self.version = version
        self._allowed = (QWEN25_ACTIONS if version == "2.5" else QWEN3_ACTIONS) | _OMNIDESK_ACTIONS

    def parse(self, text: str, *, reasoning: str = "", tool_calls: Sequence[ToolCall] = ()) -> Parsed:
        """The actions of every tool call, in order (``tool_calls`` when the engine split them off).

        Raises:
            ModelOutputError: no tool call, or one that is not a valid ``computer_use`` action.
        """
        if len(text) > MAX_OUTPUT_CHARS or sum(len(c.arguments) for c in tool_calls) > MAX_OUTPUT_CHARS:
            raise ModelOutputError(f"output too long ({len(text)} characters)", text[:2000])
        if len(tool_calls) > MAX_ACTIONS:
            raise too_many(len(tool_calls), text)
        think, _, answer = text.rpartition("</think>")  # a thinking model's <think> block is never read for calls
        if tool_calls:
            calls: list[object] = [{"name": c.name, "arguments": c.arguments} for c in tool_calls]
            before = answer
        elif _OPEN not in answer and "{" not in answer and (landed := _trailing_calls(reasoning)):
            # The calls landed at the very end of the reasoning stream (its thought never closed).
            calls, _ = _calls_in_text(landed)
            before, reasoning = "", reasoning[: len(reasoning.rstrip()) - len(landed)]
        else:
            calls, before = _calls_in_text(answer)
        actions = tuple(_to_action(_arguments(c, text), self._allowed, self.convention, text) for c in calls)
        thought, summary = _summary(before)
        thought = thought or think.replace("<think>", "", 1).strip() or reasoning.strip()
        return Parsed(actions, thought=thought, summary=summary)

    def render(self, parsed: Parsed) -> str:
        calls = "\n".join(self._render_call(a) for a in parsed.actions)
        return f"{parsed.thought}\n{calls}"

    def _render_call(self, action: Action) -> str:
        call = {"name": "computer_use", "arguments": self._render_args(action)}
        return f"<tool_call>\n{json.dumps(call, ensure_ascii=False)}\n</tool_call>"

    def _render_args(self, action: Action) -> dict[str, Any]:
        space = self.convention

        def xy(p: Point) -> list[float]:
            if p.space != space:
                raise ValueError(f"point in {p.space}, parser expects {space}")
            return [json.loads(fmt_number(p.x, space)), json.loads(fmt_number(p.y, space))]

        def at(p: Point | None) -> dict[str, Any]:
            return {} if p is None or p.space == "pointer" else {"coordinate": xy(p)}

        match action:
            case Click(point=p, button=b, count=n, modifiers=()):
                name = {v: k for k, v in _CLICKS.items()}.get((b, n))
                if name is None:
                    raise ValueError(f"no Qwen action for {b} x{n}")
                return {"action": name} | at(p)
            case Move(point=p):
                return {"action": "mouse_move", "coordinate": xy(p)}
            case Drag(start=s, end=e, button="left"):
                start = {} if s.space == "pointer" else {"start_coordinate": xy(s)}
                return {"action": "left_click_drag", "coordinate": xy(e)} | start
            case Scroll(point=p, dx=dx, dy=dy):
                name, amount = ("hscroll", dx) if dx and not dy else ("scroll", dy)
                return {"action": name, "pixels": amount} | at(p)
            case TypeText(text=t):
                return {"action": "type", "text": t}
            case Hotkey(keys=ks):
                return {"action": "key", "keys": list(ks)}
            case Wait(seconds=s):
                return {"action": "wait", "time": s}
            case Done(answer=a) if self.version == "3" and a:
                return {"action": "answer", "text": a}
            case Done(answer=a):
                return {"action": "terminate", "status": "success"} | ({"text": a} if a else {})
            case Fail(reason=r):
                return {"action": "terminate", "status": "failure"} | ({"text": r} if r else {})
            case AskUser(question=q):
                return {"action": "ask_user", "text": q}
        raise ValueError(f"cannot render {action!r} as a Qwen tool call")
