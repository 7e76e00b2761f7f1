"""Nemotron 3 Nano Omni's computer-use format: a thought, ``## Action:``, ``## Code:`` with one call.

The code is one ``pyautogui.*`` call (or ``moveTo`` followed by ``dragTo`` for a drag) or
``computer.wait()`` / ``computer.terminate(status=..., answer=...)``; ``computer.ask_user(question=...)``
is Omnidesk's addition. Coordinates are fractions in [0, 1] of the screenshot; when a value is above 1
both are pixels of that image, as in NVIDIA's agent loop. The code is parsed with :mod:`ast` against an
allow-list of functions and literal arguments — never executed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from typing import cast

from omnidesk.agent.actions import (
    Action,
    AskUser,
    Click,
    Done,
    Drag,
    Fail,
    Hotkey,
    MouseButton,
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
    Literal_,
    ModelConvention,
    Parsed,
    fmt_number,
    literal,
    make_point,
    number,
)
from omnidesk.agent.ports import ToolCall

__all__ = ["NemotronParser"]

_CODE = re.compile(r"^[ \t]*#{1,3}[ \t]*Code[ \t]*:?[ \t]*$", re.MULTILINE | re.IGNORECASE)
_ACTION = re.compile(r"^[ \t]*#{1,3}[ \t]*Action[ \t]*:?[ \t]*", re.MULTILINE | re.IGNORECASE)
_THOUGHT = re.compile(r"^[ \t]*#{1,3}[ \t]*Thought[ \t]*:?[ \t]*", re.MULTILINE | re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*(?:python|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)

_SIGNATURES: dict[str, tuple[str, ...]] = {
    "pyautogui.click": ("x", "y", "clicks", "interval", "button", "duration", "tween"),
    "pyautogui.doubleClick": ("x", "y", "interval", "button", "duration", "tween"),
    "pyautogui.tripleClick": ("x", "y", "interval", "button", "duration", "tween"),
    "pyautogui.rightClick": ("x", "y", "interval", "duration", "tween"),
    "pyautogui.middleClick": ("x", "y", "interval", "duration", "tween"),
    "pyautogui.moveTo": ("x", "y", "duration", "tween"),
    "pyautogui.dragTo": ("x", "y", "duration", "tween", "button"),
    "pyautogui.scroll": ("clicks", "x", "y"),
    "pyautogui.hscroll": ("clicks", "x", "y"),
    "pyautogui.write": ("message", "interval"),
    "pyautogui.typewrite": ("message", "interval"),
    "pyautogui.press": ("keys", "presses", "interval"),
    "pyautogui.hotkey": (),
    "computer.wait": ("seconds",),
    "computer.terminate": ("status", "answer"),
    "computer.ask_user": ("question",),
}
_REFUSED = {
    "pyautogui.keyDown": "hold keys with pyautogui.hotkey(...) instead of keyDown/keyUp",
    "pyautogui.keyUp": "hold keys with pyautogui.hotkey(...) instead of keyDown/keyUp",
    "pyautogui.mouseDown": "drag with pyautogui.moveTo(start) then pyautogui.dragTo(end)",
    "pyautogui.mouseUp": "drag with pyautogui.moveTo(start) then pyautogui.dragTo(end)",
}


def _strip_fence(code: str) -> str:
    """The code inside a Markdown fence: drop an opening ```python line and a closing ``` line."""
    code = code.strip()
    if code.startswith("```"):
        newline = code.find("\n")
        code = "" if newline < 0 else code[newline + 1 :]
        end = code.rfind("```")
        if end >= 0 and not code[end + 3 :].strip():
            code = code[:end]
    return code


def _split_sections(text: str) -> tuple[str, str, str]:
    """(thought, action summary, code) of an output."""
    codes = list(_CODE.finditer(text))
    if len(codes) > 1:
        raise ModelOutputError("write exactly one '## Code:' section (one action per step)", text)
    if codes:
        head, code = text[: codes[0].start()], text[codes[0].end() :]
    else:
        fences = list(_FENCE.finditer(text))
        if not fences:
            raise ModelOutputError("no '## Code:' section; end with '## Code:' and one pyautogui call", text)
        head, code = text[: fences[0].start()], fences[0].group(0)
    code = _strip_fence(code)
    actions = list(_ACTION.finditer(head))
    if actions:
        thought, summary = head[: actions[-1].start()], head[actions[-1].end() :]
    else:
        thought, summary = head, ""
    thought = _THOUGHT.sub("", thought, count=1)
    return thought.strip(), summary.strip(), code.strip()


def _name(func: ast.expr, raw: str) -> str:
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in {"pyautogui", "computer"}
    ):
        name = f"{func.value.id}.{func.attr}"
        if name in _SIGNATURES:
            return name
        if name in _REFUSED:
            raise ModelOutputError(f"{name} is not supported: {_REFUSED[name]}", raw)
    shown = ast.unparse(func)[:80] if isinstance(func, ast.expr) else "?"
    raise ModelOutputError(f"{shown}() is not an allowed action; use pyautogui.* or computer.*", raw)


def _bind(call: ast.Call, name: str, raw: str) -> tuple[list[Literal_], dict[str, Literal_]]:
    """Positional values and keyword values of a call, checked against the allow-listed signature."""
    params = _SIGNATURES[name]
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        raise ModelOutputError("no * or ** arguments in actions", raw)
    args = [literal(a, raw) for a in call.args]
    kwargs: dict[str, Literal_] = {}
    for keyword in call.keywords:
        assert keyword.arg is not None
        if keyword.arg in kwargs:
            raise ModelOutputError(f"argument {keyword.arg!r} given twice", raw)
        kwargs[keyword.arg] = literal(keyword.value, raw)
    if name == "pyautogui.hotkey":
        unknown = set(kwargs) - {"interval"}
    else:
        if len(args) > len(params):
            raise ModelOutputError(f"{name}() takes at most {len(params)} arguments", raw)
        for param, value in zip(params, args, strict=False):
            if param in kwargs:
                raise ModelOutputError(f"argument {param!r} given twice", raw)
            kwargs[param] = value
        unknown = set(kwargs) - set(params)
        args = []
    if unknown:
        raise ModelOutputError(f"{name}() got unknown arguments {sorted(unknown)}", raw)
    return args, kwargs


def _point(kwargs: dict[str, Literal_], name: str, raw: str, required: bool = True) -> Point | None:
    x, y = kwargs.get("x"), kwargs.get("y")
    if isinstance(x, list | tuple) and y is None and len(x) == 2:
        x, y = x
    if x is None and y is None:
        if required:
            raise ModelOutputError(f"{name}() needs x and y (fractions of the screenshot)", raw)
        return None
    fx, fy = number(x, "x", raw), number(y, "y", raw)
    space: ModelConvention = "fraction" if fx <= 1 and fy <= 1 else "image_pixels"
    return make_point(fx, fy, space, raw)


def _text(value: Literal_, what: str, raw: str) -> str:
    if not isinstance(value, str):
        raise ModelOutputError(f"{what} must be a string", raw)
    return value


def _keys(values: Sequence[Literal_], raw: str) -> tuple[str, ...]:
    if not values or not all(isinstance(v, str) for v in values):
        raise ModelOutputError("keys must be non-empty strings, e.g. pyautogui.hotkey('ctrl', 'c')", raw)
    try:
        return normalize_combo([str(v) for v in values])
    except KeyNameError as exc:
        raise ModelOutputError(f"{exc}; use names like 'ctrl', 'enter', 'tab', 'a'", raw) from exc


def _button(value: Literal_, raw: str) -> MouseButton:
    if value not in {"left", "right", "middle"}:
        raise ModelOutputError("button must be 'left', 'right' or 'middle'", raw)
    return cast(MouseButton, value)


def _clicks(value: Literal_, raw: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value == 0 or abs(value) > 100:
        raise ModelOutputError("scroll clicks must be a non-zero integer up to 100", raw)
    return value


def _call_to_action(call: ast.Call, raw: str) -> Action:
    name = _name(call.func, raw)
    args, kw = _bind(call, name, raw)
    short = name.split(".", 1)[1]
    if short in {"click", "doubleClick", "tripleClick", "rightClick", "middleClick"}:
        count = {"doubleClick": 2, "tripleClick": 3}.get(short, kw.get("clicks", 1))
        button = {"rightClick": "right", "middleClick": "middle"}.get(short, kw.get("button", "left"))
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 3:
            raise ModelOutputError("clicks must be 1, 2 or 3", raw)
        point = _point(kw, name, raw)
        assert point is not None
        return Click(point=point, button=_button(button, raw), count=count)
    if short == "moveTo":
        point = _point(kw, name, raw)
        assert point is not None
        return Move(point=point)
    if short in {"scroll", "hscroll"}:
        clicks = _clicks(kw.get("clicks"), raw)
        point = _point(kw, name, raw, required=False)
        return Scroll(point=point, dy=clicks) if short == "scroll" else Scroll(point=point, dx=clicks)
    if short in {"write", "typewrite"}:
        message = kw.get("message")
        if isinstance(message, list | tuple):  # typewrite(['a', 'enter']) presses keys in turn
            keys = _keys(message, raw)
            if len(message) != 1:
                raise ModelOutputError("one key per step: use pyautogui.press('key')", raw)
            return Hotkey(keys=keys)
        text = _text(message, "message", raw)
        if not text:
            raise ModelOutputError("write() needs non-empty text", raw)
        if len(text) > 10_000:
            raise ModelOutputError("text too long (max 10000 characters)", raw)
        return TypeText(text=text)
    if short == "press":
        keys_arg = kw.get("keys")
        presses = kw.get("presses", 1)
        if presses != 1:
            raise ModelOutputError("press one key once per step", raw)
        key_list = list(keys_arg) if isinstance(keys_arg, list | tuple) else [keys_arg]
        if len(key_list) != 1:
            raise ModelOutputError("press one key per step; for a combination use pyautogui.hotkey", raw)
        return Hotkey(keys=_keys(key_list, raw))
    if short == "hotkey":
        values = list(args[0]) if len(args) == 1 and isinstance(args[0], list | tuple) else args
        if len(values) > 5:
            raise ModelOutputError("at most 5 keys in a hotkey", raw)
        return Hotkey(keys=_keys(values, raw))
    if short == "dragTo":
        raise ModelOutputError("a drag is pyautogui.moveTo(start) followed by pyautogui.dragTo(end)", raw)
    if short == "wait":
        seconds = number(kw.get("seconds", 1.0), "seconds", raw)
        if not 0 <= seconds <= 60:
            raise ModelOutputError("wait between 0 and 60 seconds", raw)
        return Wait(seconds=seconds)
    if short == "terminate":
        status = kw.get("status", "success")
        answer = _text(kw.get("answer", "") or "", "answer", raw)
        if status == "success":
            return Done(answer=answer)
        if status == "failure":
            return Fail(reason=answer)
        raise ModelOutputError("terminate status must be 'success' or 'failure'", raw)
    question = _text(kw.get("question"), "question", raw)
    if not question:
        raise ModelOutputError("ask_user needs a question", raw)
    return AskUser(question=question)


def _drag(first: ast.Call, second: ast.Call, raw: str) -> Action:
    if _name(first.func, raw) != "pyautogui.moveTo" or _name(second.func, raw) != "pyautogui.dragTo":
        raise ModelOutputError("one action per step (two calls are only allowed as moveTo + dragTo)", raw)
    _, start_kw = _bind(first, "pyautogui.moveTo", raw)
    _, end_kw = _bind(second, "pyautogui.dragTo", raw)
    start, end = _point(start_kw, "moveTo", raw), _point(end_kw, "dragTo", raw)
    assert start is not None and end is not None
    if start.space != end.space:
        raise ModelOutputError("drag start and end must both be fractions (or both pixels)", raw)
    return Drag(start=start, end=end, button=_button(end_kw.get("button", "left"), raw))


def _code_to_action(code: str, raw: str) -> Action:
    if not code:
        raise ModelOutputError("the '## Code:' section is empty", raw)
    try:
        module = ast.parse(code, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ModelOutputError(f"the code is not valid Python ({type(exc).__name__})", raw) from exc
    calls: list[ast.Call] = []
    for statement in module.body:
        if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
            raise ModelOutputError("the code must be a single function call", raw)
        calls.append(statement.value)
    if len(calls) == 1:
        return _call_to_action(calls[0], raw)
    if len(calls) == 2:
        return _drag(calls[0], calls[1], raw)
    raise ModelOutputError(f"one action per step, got {len(calls)} calls", raw)


def _xy(point: Point) -> str:
    space: ModelConvention = "fraction" if point.space == "fraction" else "image_pixels"
    if point.space not in {"fraction", "image_pixels"}:
        raise ValueError(f"Nemotron points are fractions or image pixels, not {point.space}")
    return f"x={fmt_number(point.x, space)}, y={fmt_number(point.y, space)}"


def _render_code(action: Action) -> str:
    match action:
        case Click(point=p, button="left", count=1):
            return f"pyautogui.click({_xy(p)})"
        case Click(point=p, button="left", count=2):
            return f"pyautogui.doubleClick({_xy(p)})"
        case Click(point=p, button="left", count=3):
            return f"pyautogui.tripleClick({_xy(p)})"
        case Click(point=p, button="right", count=1):
            return f"pyautogui.rightClick({_xy(p)})"
        case Click(point=p, button="middle", count=1):
            return f"pyautogui.middleClick({_xy(p)})"
        case Click(point=p, button=b, count=n):
            return f"pyautogui.click({_xy(p)}, clicks={n}, button={b!r})"
        case Move(point=p):
            return f"pyautogui.moveTo({_xy(p)})"
        case Drag(start=s, end=e, button=b):
            tail = "" if b == "left" else f", button={b!r}"
            return f"pyautogui.moveTo({_xy(s)})\npyautogui.dragTo({_xy(e)}{tail})"
        case Scroll(point=p, dx=dx, dy=dy):
            where = "" if p is None else f", {_xy(p)}"
            if dx and not dy:
                return f"pyautogui.hscroll({dx}{where})"
            return f"pyautogui.scroll({dy}{where})"
        case TypeText(text=t):
            return f"pyautogui.write({t!r})"
        case Hotkey(keys=(k,)):
            return f"pyautogui.press({k!r})"
        case Hotkey(keys=ks):
            return f"pyautogui.hotkey({', '.join(repr(k) for k in ks)})"
        case Wait(seconds=s):
            return f"computer.wait(seconds={s!r})"
        case Done(answer=a):
            return f"computer.terminate(status='success', answer={a!r})"
        case Fail(reason=r):
            return f"computer.terminate(status='failure', answer={r!r})"
        case AskUser(question=q):
            return f"computer.ask_user(question={q!r})"
    raise ValueError(f"cannot render {action!r}")  # pragma: no cover


class NemotronParser:
    """Parser and renderer for the Nemotron computer-use format (fractions, > 1 = image pixels)."""

    name = "nemotron"
    convention: ModelConvention = "fraction"

    def parse(self, text: str, *, reasoning: str = "", tool_calls: Sequence[ToolCall] = ()) -> Parsed:
        """Raises: ModelOutputError for anything but exactly one allowed action."""
        if len(text) > MAX_OUTPUT_CHARS:
            raise ModelOutputError(f"output too long ({len(text)} characters)", text[:2000])
        thought, summary, code = _split_sections(text)
        return Parsed((_code_to_action(code, text),), thought=thought, summary=summary)

    def render(self, parsed: Parsed) -> str:
        """The output the model would write for ``parsed`` (points as fractions or image pixels)."""
        summary = parsed.summary or parsed.action.kind
        return f"{parsed.thought}\n## Action:\n{summary}\n## Code:\n```python\n{_render_code(parsed.action)}\n```"
