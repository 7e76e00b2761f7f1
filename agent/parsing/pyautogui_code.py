"""pyautogui code as a model writes it → typed actions, read with :mod:`ast` against an allow-list.

Nemotron's computer-use format answers with pyautogui lines (NVIDIA's cookbook runs them in a Python
process on the desktop). Omnidesk never runs them: each statement is matched against the functions below,
their arguments bound to pyautogui 0.9.54's own signatures (positional or keyword) and turned into
actions, in order. What Omnidesk cannot do safely is refused with a :class:`ModelOutputError` that says
what to write instead.

======================================  ==========================================================
pyautogui (or ``computer.*``)           action
======================================  ==========================================================
click, leftClick, rightClick,           Click (``clicks``/``button`` honoured; no x/y: where the
middleClick, doubleClick, tripleClick   pointer is)
moveTo                                  Move (followed by dragTo: one Drag from there)
dragTo                                  Drag from where the pointer is (the last point of this code,
                                        else the pointer's place when the step starts)
mouseDown … moveTo/dragTo … mouseUp     Drag (or a Click when the pointer did not move)
scroll / vscroll, hscroll               Scroll by wheel clicks (positive: up / right), clamped to ±100
write / typewrite                       TypeText (a list presses each key in turn)
press (``presses=``), hotkey            Hotkey per key press / one chord
keyDown … keyUp                         the held keys join the presses and clicks in between
                                        (``keyDown('enter'); keyUp('enter')`` presses Enter)
sleep, time.sleep                       Wait that long (at most 60 s)
computer.wait()                         Wait until the screen settles, at most 20 s
computer.terminate(status, answer)      Done(answer) / Fail(answer)
computer.ask_user(question)             AskUser (Omnidesk's addition)
``import pyautogui`` / ``import time``  nothing
======================================  ==========================================================

A point whose x and y are both ≤ 1 is a fraction of the screenshot, otherwise pixels of it (NVIDIA's
rule), for every function with x and y — positional or keyword. Arguments that only shape pyautogui's
own motion (``duration``, ``tween``, ``interval``, ``logScreenshot``, ``_pause``) are accepted and
ignored. Relative moves (``moveRel``, ``move``, ``dragRel``, ``drag``) and anything else are refused.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import cast

from omnidesk.agent.actions import (
    POINTER,
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
from omnidesk.agent.keys import MODIFIERS, KeyNameError, normalize_combo, normalize_key
from omnidesk.agent.parsing.common import (
    MAX_ACTIONS,
    Literal_,
    ModelConvention,
    literal,
    make_point,
    number,
    parse_python,
    too_many,
)

__all__ = ["COMPUTER_WAIT_SECONDS", "SCROLL_LIMIT", "code_to_actions"]

COMPUTER_WAIT_SECONDS = 20.0
"""``computer.wait()``: "Make the computer wait for 20 seconds" (the trained prompt) — Omnidesk waits until
the screen settles, at most this long."""
SCROLL_LIMIT = 100
"""Wheel clicks of one scroll at most (a larger request is clamped)."""

_IGNORED = frozenset({"duration", "tween", "interval", "logScreenshot", "_pause", "pause", "mouseDownUp"})
_SIGNATURES: dict[str, tuple[str, ...]] = {  # pyautogui 0.9.54's parameters, in order
    "click": ("x", "y", "clicks", "interval", "button", "duration", "tween", "logScreenshot", "_pause"),
    "leftClick": ("x", "y", "interval", "duration", "tween", "logScreenshot", "_pause"),
    "rightClick": ("x", "y", "interval", "duration", "tween", "logScreenshot", "_pause"),
    "middleClick": ("x", "y", "interval", "duration", "tween", "logScreenshot", "_pause"),
    "doubleClick": ("x", "y", "interval", "button", "duration", "tween", "logScreenshot", "_pause"),
    "tripleClick": ("x", "y", "interval", "button", "duration", "tween", "logScreenshot", "_pause"),
    "moveTo": ("x", "y", "duration", "tween", "logScreenshot", "_pause"),
    "dragTo": ("x", "y", "duration", "tween", "button", "logScreenshot", "_pause", "mouseDownUp"),
    "mouseDown": ("x", "y", "button", "duration", "tween", "logScreenshot", "_pause"),
    "mouseUp": ("x", "y", "button", "duration", "tween", "logScreenshot", "_pause"),
    "scroll": ("clicks", "x", "y", "logScreenshot", "_pause"),
    "vscroll": ("clicks", "x", "y", "logScreenshot", "_pause"),
    "hscroll": ("clicks", "x", "y", "logScreenshot", "_pause"),
    "write": ("message", "interval", "logScreenshot", "_pause"),
    "typewrite": ("message", "interval", "logScreenshot", "_pause"),
    "press": ("keys", "presses", "interval", "logScreenshot", "_pause"),
    "hotkey": (),  # *keys, then keywords
    "keyDown": ("key", "logScreenshot", "_pause"),
    "keyUp": ("key", "logScreenshot", "_pause"),
    "sleep": ("seconds",),
    "computer.wait": ("seconds",),
    "computer.terminate": ("status", "answer"),
    "computer.ask_user": ("question",),
}
_REFUSED = {
    "moveRel": "move with pyautogui.moveTo(x, y) to a point of the screenshot",
    "move": "move with pyautogui.moveTo(x, y) to a point of the screenshot",
    "dragRel": "drag with pyautogui.moveTo(start) then pyautogui.dragTo(end), points of the screenshot",
    "drag": "drag with pyautogui.moveTo(start) then pyautogui.dragTo(end), points of the screenshot",
}
_BUTTONS = {"left": "left", "right": "right", "middle": "middle", "primary": "left", "secondary": "right"}
_CLICKS = {"click": 1, "leftClick": 1, "rightClick": 1, "middleClick": 1, "doubleClick": 2, "tripleClick": 3}
_CLICK_BUTTON = {"rightClick": "right", "middleClick": "middle", "leftClick": "left"}
_WIDE = frozenset({"pyautogui", "time", "computer"})


@dataclass
class _State:
    """What the code did so far: its actions, where the pointer is, the keys and button it holds."""

    actions: list[Action] = field(default_factory=list)
    cursor: Point | None = None
    keys: list[str] = field(default_factory=list)
    used: bool = False  # a held key joined a press or click
    button: tuple[MouseButton, Point] | None = None  # held by mouseDown, and where
    path_end: Point | None = None  # where the held button was moved to
    ended: bool = False  # a wait/terminate/ask came first: the rest is not read


def _name(func: ast.expr, raw: str) -> str:
    """``pyautogui.click`` → ``click``; ``time.sleep`` → ``sleep``; ``computer.x`` stays whole."""
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in _WIDE:
        module, attr = func.value.id, func.attr
        if module == "pyautogui" and attr in _REFUSED:
            raise ModelOutputError(f"pyautogui.{attr} is not supported: {_REFUSED[attr]}", raw)
        if module == "pyautogui" and attr in _SIGNATURES and "." not in attr:
            return attr
        if module == "time" and attr == "sleep":
            return "sleep"
        if module == "computer" and f"computer.{attr}" in _SIGNATURES:
            return f"computer.{attr}"
    shown = ast.unparse(func)[:60]
    raise ModelOutputError(f"{shown}() is not an action Omnidesk can do; use pyautogui.* or computer.*", raw)


def _value(node: ast.expr, param: str, raw: str) -> Literal_:
    """An argument's literal value; ``tween=pyautogui.easeInQuad`` and ``button=pyautogui.LEFT`` too."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "pyautogui":
        if param in _IGNORED:
            return None
        if param == "button" and node.attr.lower() in _BUTTONS:
            return node.attr.lower()
    return literal(node, raw)


def _bind(call: ast.Call, name: str, raw: str) -> tuple[list[Literal_], dict[str, Literal_]]:
    """(extra positional values, keyword values) of a call bound to the function's signature."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        raise ModelOutputError("no * or ** arguments in actions", raw)
    params = _SIGNATURES[name]
    kwargs: dict[str, Literal_] = {}
    for keyword in call.keywords:
        assert keyword.arg is not None
        if keyword.arg in kwargs:
            raise ModelOutputError(f"argument {keyword.arg!r} given twice", raw)
        kwargs[keyword.arg] = _value(keyword.value, keyword.arg, raw)
    if name == "hotkey":
        extra = [_value(a, "key", raw) for a in call.args]
        unknown = set(kwargs) - _IGNORED
    else:
        if len(call.args) > len(params):
            raise ModelOutputError(f"{name}() takes at most {len(params)} arguments", raw)
        for param, node in zip(params, call.args, strict=False):
            if param in kwargs:
                raise ModelOutputError(f"argument {param!r} given twice", raw)
            kwargs[param] = _value(node, param, raw)
        extra = []
        unknown = set(kwargs) - set(params)
    if unknown:
        raise ModelOutputError(f"{name}() got unknown arguments {sorted(unknown)[:5]}", raw)
    return extra, kwargs


def _point(kw: dict[str, Literal_], name: str, raw: str) -> Point | None:
    """x/y (or an (x, y) pair as x): both ≤ 1 → fractions of the screenshot, else its pixels; None if absent."""
    x, y = kw.get("x"), kw.get("y")
    if isinstance(x, list | tuple) and y is None:
        if len(x) != 2:
            raise ModelOutputError(f"{name}(): a point is (x, y)", raw)
        x, y = x
    if x is None and y is None:
        return None
    if x is None or y is None:
        raise ModelOutputError(f"{name}() needs both x and y", raw)
    fx, fy = number(x, "x", raw), number(y, "y", raw)
    space: ModelConvention = "fraction" if fx <= 1 and fy <= 1 else "image_pixels"
    return make_point(fx, fy, space, raw)


def _button(value: Literal_, raw: str) -> MouseButton:
    if not isinstance(value, str) or value.lower() not in _BUTTONS:
        raise ModelOutputError("button must be 'left', 'right' or 'middle'", raw)
    return cast(MouseButton, _BUTTONS[value.lower()])


def _key_names(values: list[Literal_], raw: str) -> list[str]:
    if not values or not all(isinstance(v, str) and v for v in values):
        raise ModelOutputError("keys must be non-empty strings, e.g. pyautogui.hotkey('ctrl', 'c')", raw)
    try:
        return [normalize_key(str(v)) for v in values]
    except KeyNameError as exc:
        raise ModelOutputError(f"{exc}; use names like 'ctrl', 'enter', 'tab', 'a'", raw) from exc


def _chord(keys: list[str], raw: str) -> Hotkey:
    combo = normalize_combo(keys)
    if len(combo) > 5:
        raise ModelOutputError("at most 5 keys at once", raw)
    return Hotkey(keys=combo)


def _count(value: Literal_, what: str, raw: str, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise ModelOutputError(f"{what} must be a whole number from 1 to {limit}", raw)
    return value


def _scroll_clicks(value: Literal_, raw: str) -> int:
    clicks = round(number(value, "clicks", raw))
    if clicks == 0:
        raise ModelOutputError("scroll by a non-zero number of wheel clicks", raw)
    return max(-SCROLL_LIMIT, min(SCROLL_LIMIT, clicks))


def _seconds(value: Literal_, raw: str) -> float:
    seconds = number(value, "seconds", raw)
    if seconds < 0:
        raise ModelOutputError("wait a non-negative number of seconds", raw)
    return min(seconds, 60.0)


def _text(value: Literal_, what: str, raw: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ModelOutputError(f"{what} must be a string", raw)
    return value


class _Reader:
    """Turns one call after another into actions (see the module doc's table)."""

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.state = _State()

    def emit(self, action: Action) -> None:
        state = self.state
        if state.button is not None:
            raise ModelOutputError("release the mouse button (pyautogui.mouseUp) before the next action", self.raw)
        if state.keys and not isinstance(action, Click | Hotkey | Move):
            raise ModelOutputError("release held keys (pyautogui.keyUp) before this action", self.raw)
        if len(state.actions) >= MAX_ACTIONS:
            raise too_many(MAX_ACTIONS + 1, self.raw)
        state.actions.append(action)
        match action:
            case Click(point=p) | Move(point=p):
                state.cursor = p
            case Drag(end=e):
                state.cursor = e
            case Scroll(point=p) if p is not None:
                state.cursor = p

    def call(self, call: ast.Call) -> None:
        raw, state = self.raw, self.state
        name = _name(call.func, raw)
        extra, kw = _bind(call, name, raw)
        if name.startswith("computer.") or name == "sleep":
            self.control(name, kw)
            return
        point = _point(kw, name, raw)
        if name in _CLICKS:
            count = _count(kw.get("clicks", 1), "clicks", raw, 3) if name == "click" else _CLICKS[name]
            button = _button(_CLICK_BUTTON.get(name, kw.get("button", "left")), raw)
            self.click(point or state.cursor or POINTER, button, count)
        elif name == "moveTo":
            self.move(point)
        elif name == "dragTo":
            self.drag_to(point, kw)
        elif name in {"mouseDown", "mouseUp"}:
            self.mouse(name, point, _button(kw.get("button", "left"), raw))
        elif name in {"scroll", "vscroll", "hscroll"}:
            clicks = _scroll_clicks(kw.get("clicks"), raw)
            dx, dy = (clicks, 0) if name == "hscroll" else (0, clicks)
            self.emit(Scroll(point=point, dx=dx, dy=dy))
        elif name in {"write", "typewrite"}:
            self.write(kw.get("message"))
        elif name == "press":
            self.press(kw.get("keys"), _count(kw.get("presses", 1), "presses", raw, MAX_ACTIONS))
        elif name == "hotkey":
            keys = list(extra[0]) if len(extra) == 1 and isinstance(extra[0], list | tuple) else extra
            self.press_chord(_key_names(keys, raw))
        else:
            self.hold(name, _key_names([kw.get("key")], raw)[0])

    def control(self, name: str, kw: dict[str, Literal_]) -> None:
        """sleep and the ``computer.*`` calls; after wait, terminate or ask_user the code is not read on."""
        raw, state = self.raw, self.state
        if name == "sleep":
            self.emit(Wait(seconds=_seconds(kw.get("seconds"), raw)))
            return
        state.ended = True
        if name == "computer.wait":
            seconds = _seconds(kw["seconds"], raw) if "seconds" in kw else COMPUTER_WAIT_SECONDS
            self.emit(Wait(seconds=seconds, until_settled=True))
        elif name == "computer.terminate":
            if any(not isinstance(a, Wait) for a in state.actions):
                return  # NVIDIA's rule: a terminate after actions is dropped, the run goes on
            self.emit(_terminate(kw, raw))
        else:
            question = _text(kw.get("question"), "question", raw)
            if not question:
                raise ModelOutputError("ask_user needs a question", raw)
            self.emit(AskUser(question=question))

    def click(self, point: Point, button: MouseButton, count: int) -> None:
        state = self.state
        modifiers = tuple(k for k in normalize_combo(state.keys) if k in MODIFIERS) if state.keys else ()
        if len(modifiers) != len(state.keys):
            raise ModelOutputError("only modifier keys (ctrl, alt, shift, super) may be held for a click", self.raw)
        state.used = True
        self.emit(Click(point=point, button=button, count=count, modifiers=modifiers))

    def move(self, point: Point | None) -> None:
        state = self.state
        if point is None:
            raise ModelOutputError("moveTo() needs x and y", self.raw)
        if state.button is not None:
            state.path_end = point
            return
        self.emit(Move(point=point))

    def drag_to(self, point: Point | None, kw: dict[str, Literal_]) -> None:
        state, raw = self.state, self.raw
        if point is None:
            raise ModelOutputError("dragTo() needs x and y", raw)
        if state.button is not None:  # dragTo while mouseDown holds a button: a move
            state.path_end = point
            return
        button = _button(kw.get("button", "left"), raw)
        if state.keys:
            raise ModelOutputError("release held keys before dragging", raw)
        start = state.cursor or POINTER
        last = state.actions[-1] if state.actions else None
        if isinstance(last, Move):  # moveTo(start) + dragTo(end): one drag
            start = last.point
            state.actions.pop()
        self.emit(Drag(start=start, end=point, button=button))

    def mouse(self, name: str, point: Point | None, button: MouseButton) -> None:
        state, raw = self.state, self.raw
        if name == "mouseDown":
            if state.button is not None:
                raise ModelOutputError("mouseDown twice without mouseUp", raw)
            if state.keys:
                raise ModelOutputError("release held keys before pressing a mouse button", raw)
            state.button, state.path_end = (button, point or state.cursor or POINTER), None
            return
        if state.button is None:
            raise ModelOutputError("mouseUp without mouseDown", raw)
        held, start = state.button
        end = point or state.path_end or start
        state.button = None
        if end == start:
            self.emit(Click(point=start, button=held))
        else:
            self.emit(Drag(start=start, end=end, button=held))

    def write(self, message: Literal_) -> None:
        raw = self.raw
        if isinstance(message, list | tuple):  # typewrite(['a', 'enter']) presses each key in turn
            for key in _key_names(list(message), raw):
                self.press_chord([key])
            return
        text = _text(message, "message", raw)
        if len(text) > 10_000:
            raise ModelOutputError("text too long (max 10000 characters)", raw)
        if self.state.keys:
            raise ModelOutputError("release held keys (pyautogui.keyUp) before typing text", raw)
        if text:
            self.emit(TypeText(text=text))

    def press(self, keys: Literal_, presses: int) -> None:
        names = _key_names(list(keys) if isinstance(keys, list | tuple) else [keys], self.raw)
        for _ in range(presses):
            for key in names:
                self.press_chord([key])

    def press_chord(self, keys: list[str]) -> None:
        state = self.state
        state.used = True
        self.emit(_chord([*state.keys, *keys], self.raw))

    def hold(self, name: str, key: str) -> None:
        state = self.state
        if name == "keyDown":
            if state.button is not None:
                raise ModelOutputError("hold keys before pressing the mouse button", self.raw)
            if key not in state.keys:
                if len(state.keys) >= 5:
                    raise ModelOutputError("at most 5 keys held at once", self.raw)
                state.keys.append(key)
                state.used = False
            return
        if key not in state.keys:
            return  # releasing a key that is not held does nothing, as in pyautogui
        if not state.used:  # keyDown … keyUp with nothing between: the held keys are pressed together
            state.used = True
            self.emit(_chord(state.keys, self.raw))
        state.keys.remove(key)

    def finish(self) -> list[Action]:
        state = self.state
        if state.button is not None:
            raise ModelOutputError("mouseDown without mouseUp: Omnidesk does not leave a button held", self.raw)
        if state.keys:
            raise ModelOutputError("keyDown without keyUp: Omnidesk does not leave keys held", self.raw)
        return state.actions


def _terminate(kw: dict[str, Literal_], raw: str) -> Action:
    status = kw.get("status", "success")
    answer = _text(kw.get("answer") or "", "answer", raw)
    if not isinstance(status, str) or status.lower() not in {"success", "failure", "fail", "failed"}:
        raise ModelOutputError("terminate status must be 'success' or 'failure'", raw)
    return Done(answer=answer) if status.lower() == "success" else Fail(reason=answer)


def code_to_actions(blocks: list[str], raw: str) -> list[Action]:
    """The actions of the code blocks, in order (see the module doc).

    Raises:
        ModelOutputError: not Python, a statement that is not an allowed call, or an argument that is not
            a plain literal of the right kind.
    """
    reader = _Reader(raw)
    for block in blocks:
        if reader.state.ended:
            break
        for call in _calls(block, raw):
            reader.call(call)
            if reader.state.ended:
                break
    actions = reader.finish()
    if not actions:
        raise ModelOutputError("the code does nothing; write one or more pyautogui calls", raw)
    return actions


def _calls(block: str, raw: str) -> list[ast.Call]:
    """The calls of one block; a JSON function call (``{"name": "computer.terminate", ...}``) too."""
    stripped = block.strip()
    if stripped.startswith("{"):
        return [_json_call(stripped, raw)]
    module = parse_python(stripped, raw, "exec")
    assert isinstance(module, ast.Module)
    calls: list[ast.Call] = []
    for statement in module.body:
        if isinstance(statement, ast.Import) and all(a.name in {"pyautogui", "time"} for a in statement.names):
            continue
        if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
            raise ModelOutputError("each line of the code must be one pyautogui call", raw)
        calls.append(statement.value)
    return calls


def _json_call(text: str, raw: str) -> ast.Call:
    """``{"name": "computer.terminate", "parameters": {"status": "success"}}`` as the call it names."""
    import json

    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ModelOutputError("the code block is neither Python nor a JSON function call", raw) from exc
    name = data.get("name") if isinstance(data, dict) else None
    params = data.get("parameters", data.get("arguments", {})) if isinstance(data, dict) else None
    if name not in {"computer.wait", "computer.terminate"} or not isinstance(params, dict):
        raise ModelOutputError("a JSON block must call computer.wait or computer.terminate", raw)
    keywords = []
    for key, value in params.items():
        if not isinstance(key, str) or not key.isidentifier() or not isinstance(value, str | int | float | bool):
            raise ModelOutputError(f"{name}() takes plain string arguments", raw)
        keywords.append(ast.keyword(arg=key, value=ast.Constant(value)))
    module, attr = str(name).split(".")
    return ast.Call(func=ast.Attribute(value=ast.Name(id=module), attr=attr), args=[], keywords=keywords)
