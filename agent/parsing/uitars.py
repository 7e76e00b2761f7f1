"""UI-TARS-1.5's output: ``Thought: …`` then ``Action: click(start_box='(x,y)')``, pixels of the model's
resized image. Several actions may follow one ``Action:``, separated by a blank line.

This follows the official action parser of ``bytedance/UI-TARS`` (``codes/ui_tars/action_parser.py``,
``parse_action_to_structure_output``) at commit ``d9dedaf620a2f5776b26f944268f180ef08c6b82`` — the file
PyPI's ``ui-tars==0.1.4`` ships, which the tests use as their oracle:

- the thought follows ``Thought:`` (or ``Action_Summary:``, after a ``Reflection:``) up to ``Action:``;
  the actions are the text after the last ``Action:``, split at ``)`` + blank line;
- ``type(content='…')`` is repaired as the official parser repairs it (a missing ``)`` added, quotes
  inside the content escaped), then every action is read with :mod:`ast` — keyword arguments, literals;
- ``start_box='(x,y)'`` is a point, ``'(x1,y1,x2,y2)'`` a box whose centre is meant; ``point=``,
  ``start_point=``, ``end_point=`` with ``<point>x y</point>`` are the same points.

When the answer has no ``Action:`` and the reasoning stream has a line starting with one, the reasoning is
read instead. Omnidesk reads a little more than the official parser, never less: ``<|box_start|>``/``<|box_end|>``
tokens and ``<bbox>``/``[…]`` boxes (as UI-TARS-desktop's parser), ``Action:`` without its space or with
a full-width colon, actions separated by extra blank lines, trailing spaces or a single line break, a
positional box, decimals in ``<point>``. It renames ``point=`` only as an argument name, never inside the
thought or typed text (the official parser replaces the word everywhere).

Meaning, per action: ``click``/``left_single``, ``left_double``, ``left_triple``, ``right_single``,
``hover``, ``drag``/``select``; ``hotkey(key='ctrl c')`` (keys split at spaces); ``type(content=…)`` (a
final ``\\n`` submits with Enter); ``scroll(direction=…)`` 5 wheel clicks (the official amount) where the
box is, or where the pointer is; ``wait()`` 5 s (the prompt's "Sleep for 5s"); ``finished(content=…)`` ends
the task with that answer (the official code turns the whole reply into ``DONE``); ``call_user()`` asks
the person. ``press``/``keydown`` … ``release``/``keyup`` hold keys for the actions between them; a key
pressed and never released is tapped.
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
from omnidesk.agent.keys import MODIFIERS, KeyNameError, normalize_combo
from omnidesk.agent.parsing.common import (
    MAX_ACTIONS,
    MAX_OUTPUT_CHARS,
    Literal_,
    ModelConvention,
    Parsed,
    fmt_number,
    literal,
    make_point,
    parse_python,
    too_many,
)
from omnidesk.agent.ports import ToolCall

__all__ = ["SCROLL_CLICKS", "WAIT_SECONDS", "UiTarsParser"]

SCROLL_CLICKS = 5
"""Wheel clicks of one UI-TARS ``scroll(direction=...)`` (the official converter's amount)."""
WAIT_SECONDS = 5.0
"""``wait()``: "Sleep for 5s and take a screenshot to check for any changes." (the prompt)."""

_POINT = re.compile(r"<point>\s*(\d+(?:\.\d+)?)[\s,]+(\d+(?:\.\d+)?)\s*</point>")
_BBOX = re.compile(r"<bbox>\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)\s*</bbox>")
_TOKENS = re.compile(r"<\|box_(?:start|end)\|>|\[EOS\]")
_ACTION = re.compile(r"Action[:：] ?")
_ACTION_LINE = re.compile(r"^Action[:：]", re.MULTILINE)
_SPLIT = re.compile(r"\)[ \t]*\n(?:[ \t]*\n)+")  # ")" + one or more blank lines
_LINE_SPLIT = re.compile(r"\)[ \t]*\n(?=[ \t]*[a-z_]+\()")  # ")" + a line break before the next call
_TYPE = re.compile(r"type\(content='(.*?)'\)", re.DOTALL)
_UNESCAPED_QUOTE = re.compile(r"(?<!\\)'")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_ALIASES = {"point": "start_box", "start_point": "start_box", "end_point": "end_box", "hotkey": "key"}
_PARAMS: dict[str, tuple[str, ...]] = {
    "click": ("start_box",),
    "left_single": ("start_box",),
    "left_double": ("start_box",),
    "left_triple": ("start_box",),
    "right_single": ("start_box",),
    "hover": ("start_box",),
    "drag": ("start_box", "end_box"),
    "select": ("start_box", "end_box"),
    "hotkey": ("key",),
    "press": ("key",),
    "keydown": ("key",),
    "release": ("key",),
    "keyup": ("key",),
    "type": ("content", "start_box"),
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


def _normalise(text: str) -> str:
    """Box syntaxes to ``(x,y)`` / ``(x1,y1,x2,y2)``, as the official and desktop parsers read them."""
    text = _TOKENS.sub("", text)
    text = _POINT.sub(lambda m: f"({m.group(1)},{m.group(2)})", text)
    return _BBOX.sub(lambda m: f"({','.join(m.groups())})", text)


def _thought(text: str) -> str:
    """The thought as the official parser finds it (by the reply's first word), up to ``Action:``."""
    if text.startswith("Reflection:"):
        summary = text.find("Action_Summary:")
        start = summary + len("Action_Summary:") if summary >= 0 else -1
    elif text.startswith("Action_Summary:"):
        start = len("Action_Summary:")
    else:
        at = text.find("Thought:")
        start = at + len("Thought:") if at >= 0 else -1
    if start < 0:
        return ""
    end = _ACTION.search(text, start)
    return text[start : end.start() if end else len(text)].strip()


def _pieces(actions: str) -> list[str]:
    """The action calls: split at ``)`` + blank line(s) (official), or a line break before a call."""
    pieces = []
    for chunk in _SPLIT.split(actions):
        pieces += _LINE_SPLIT.split(chunk)
    return [p for p in (piece.strip() for piece in pieces) if p]


def _expression(piece: str, raw: str) -> ast.expr | None:
    """The piece as one Python expression (read, never evaluated), or None."""
    try:
        tree = parse_python(piece.replace("\n", "\\n"), raw)
    except ModelOutputError:
        return None
    return tree.body if isinstance(tree, ast.Expression) else None


def _read(piece: str, raw: str) -> ast.expr:
    """One action as an expression: as written (``)`` closed), else repaired as the official parser repairs
    a ``type(content='…')`` — its content's unescaped quotes escaped."""
    if not piece.endswith(")"):
        piece += ")"
    node = _expression(piece, raw)
    if node is None and "type(content" in piece and _TYPE.search(piece):
        content = _TYPE.sub(lambda m: m.group(1), piece)
        node = _expression("type(content='" + _UNESCAPED_QUOTE.sub(r"\\'", content) + "')", raw)
    if node is None:
        raise ModelOutputError(f"an action is not a valid call: {piece[:60]!r}", raw)
    return node


def _call(piece: str, raw: str) -> tuple[str, dict[str, Literal_]]:
    """(action name, keyword values) of one action; literals only, never evaluated."""
    node = _read(piece, raw)
    func = node.func if isinstance(node, ast.Call) else None
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if not isinstance(node, ast.Call) or name not in _PARAMS:
        raise ModelOutputError(f"each action must be one of {', '.join(sorted(_PARAMS))}(...)", raw)
    params = _PARAMS[name]
    if len(node.args) > len(params) or any(isinstance(a, ast.Starred) for a in node.args):
        raise ModelOutputError(f"{name}() takes {', '.join(params) or 'no'} arguments", raw)
    kw: dict[str, Literal_] = dict(zip(params, (literal(a, raw) for a in node.args), strict=False))
    for keyword in node.keywords:
        key = _ALIASES.get(str(keyword.arg), str(keyword.arg))
        if key not in params:
            raise ModelOutputError(f"{name}() takes {', '.join(params) or 'no'} arguments, not {keyword.arg}", raw)
        if key in kw:
            raise ModelOutputError(f"argument {key!r} given twice", raw)
        kw[key] = literal(keyword.value, raw)
    return name, {k: v for k, v in kw.items() if v != ""}  # empty values are left out, as officially


def _box(value: Literal_, space: ModelConvention, raw: str) -> Point:
    """``'(x,y)'`` → the point; ``'(x1,y1,x2,y2)'`` → the box's centre (also as a list or tuple)."""
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    if not isinstance(value, str):
        raise ModelOutputError("a box must be a string like '(x,y)'", raw)
    body = value.strip()
    if not re.fullmatch(r"[(\[]?\s*[\d.\-]+(?:\s*,\s*[\d.\-]+)*\s*[)\]]?", body):
        raise ModelOutputError(f"a box must look like '(x,y)', got {value[:40]!r}", raw)
    numbers = [float(n) for n in _NUMBER.findall(body)]
    if len(numbers) == 4:
        numbers = [(numbers[0] + numbers[2]) / 2, (numbers[1] + numbers[3]) / 2]
    if len(numbers) != 2:
        raise ModelOutputError(f"a box needs 2 (point) or 4 (box) numbers, got {len(numbers)}", raw)
    return make_point(numbers[0], numbers[1], space, raw)


def _string(kw: dict[str, Literal_], key: str, raw: str) -> str:
    value = kw.get(key, "")
    if not isinstance(value, str):
        raise ModelOutputError(f"{key} must be a string", raw)
    return value.lstrip()


def _keys(kw: dict[str, Literal_], raw: str) -> list[str]:
    names = _string(kw, "key", raw).split()
    if not 1 <= len(names) <= 5:
        raise ModelOutputError("key must name 1 to 5 keys separated by spaces, e.g. 'ctrl c'", raw)
    try:
        return list(normalize_combo(names))
    except KeyNameError as exc:
        raise ModelOutputError(str(exc), raw) from exc


class _Actions:
    """The reply's actions so far, with the keys ``press`` holds until ``release``."""

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.list: list[Action] = []
        self.held: list[str] = []
        self.used = True

    def add(self, action: Action) -> None:
        if self.held and not isinstance(action, Click | Hotkey | Move):
            raise ModelOutputError("release held keys before this action", self.raw)
        if len(self.list) >= MAX_ACTIONS:
            raise too_many(MAX_ACTIONS + 1, self.raw)
        if isinstance(action, Click) and self.held:
            if any(k not in MODIFIERS for k in self.held):
                raise ModelOutputError("only modifier keys may be held for a click", self.raw)
            action = action.model_copy(update={"modifiers": normalize_combo(self.held)})
        elif isinstance(action, Hotkey) and self.held:
            action = Hotkey(keys=normalize_combo([*self.held, *action.keys]))
        self.used = self.used or isinstance(action, Click | Hotkey)
        self.list.append(action)

    def hold(self, keys: list[str]) -> None:
        self.held += [k for k in keys if k not in self.held]
        self.used = False

    def release(self, keys: list[str]) -> None:
        if not self.used and any(k in self.held for k in keys):
            tapped, self.held = self.held, []
            self.add(Hotkey(keys=normalize_combo(tapped)))
            self.held = [k for k in tapped if k not in keys]
        self.held = [k for k in self.held if k not in keys]

    def end(self) -> list[Action]:
        if self.held:
            self.release(list(self.held))
        return self.list


def _act(name: str, kw: dict[str, Literal_], space: ModelConvention, into: _Actions, raw: str) -> bool:
    """Add action ``name``; False when the reply ends here (finished, call_user)."""
    if name in _CLICKS:
        button, count = _CLICKS[name]
        into.add(Click(point=_box(kw.get("start_box"), space, raw), button=button, count=count))  # type: ignore[arg-type]
    elif name == "hover":
        into.add(Move(point=_box(kw.get("start_box"), space, raw)))
    elif name == "select" and "end_box" not in kw:  # "To expand a dropdown menu or select an item from it."
        into.add(Click(point=_box(kw.get("start_box"), space, raw)))
    elif name in {"drag", "select"}:
        into.add(Drag(start=_box(kw.get("start_box"), space, raw), end=_box(kw.get("end_box"), space, raw)))
    elif name == "hotkey":
        into.add(Hotkey(keys=tuple(_keys(kw, raw))))
    elif name in {"press", "keydown"}:
        into.hold(_keys(kw, raw))
    elif name in {"release", "keyup"}:
        into.release(_keys(kw, raw))
    elif name == "type":
        if "start_box" in kw:  # "First click on the textbox, and then type the content."
            into.add(Click(point=_box(kw["start_box"], space, raw)))
        content = _string(kw, "content", raw)
        if len(content) > 10_000:
            raise ModelOutputError("type(content=...) takes at most 10000 characters", raw)
        if content:
            into.add(TypeText(text=content))
    elif name == "scroll":
        direction = _string(kw, "direction", raw).lower()
        steps = [(0, 1), (0, -1), (-1, 0), (1, 0)]
        found = [s for word, s in zip(("up", "down", "left", "right"), steps, strict=True) if word in direction]
        if not found:
            raise ModelOutputError("scroll direction must be 'up', 'down', 'left' or 'right'", raw)
        dx, dy = found[0]  # "up" first, as the official converter checks it
        point = _box(kw["start_box"], space, raw) if "start_box" in kw else None
        into.add(Scroll(point=point, dx=dx * SCROLL_CLICKS, dy=dy * SCROLL_CLICKS))
    elif name == "wait":
        into.add(Wait(seconds=WAIT_SECONDS))
    elif name == "call_user":
        into.add(AskUser(question=_string(kw, "content", raw) or "The agent needs your help to go on."))
        return False
    return True


class UiTarsParser:
    """Parser/renderer for UI-TARS-1.5 (``Thought:`` / ``Action:`` lines, image pixels)."""

    name = "uitars"

    def __init__(self, convention: ModelConvention = "image_pixels") -> None:
        self.convention: ModelConvention = convention

    def parse(self, text: str, *, reasoning: str = "", tool_calls: Sequence[ToolCall] = ()) -> Parsed:
        """The reply's actions, in order.

        Raises:
            ModelOutputError: no ``Action:``, or an action that is not allowed or not well formed.
        """
        if len(text) > MAX_OUTPUT_CHARS:
            raise ModelOutputError(f"output too long ({len(text)} characters)", text[:2000])
        text = _normalise(text.strip())
        marks = list(_ACTION.finditer(text))
        if not marks and _ACTION_LINE.search(reasoning):  # the answer landed in the reasoning stream
            return self.parse(reasoning)
        if not marks:
            raise ModelOutputError("no 'Action:'; end with e.g. Action: click(start_box='(x,y)')", text)
        spaced = [m for m in marks if m.group(0) == "Action: "]
        body = text[(spaced or marks)[-1].end() :]
        into = _Actions(text)
        for piece in _pieces(body):
            name, kw = _call(piece, text)
            if name == "finished":  # the official converter: the whole reply becomes DONE
                return Parsed((Done(answer=_string(kw, "content", text)),), thought=_thought(text))
            if not _act(name, kw, self.convention, into, text):
                break
        actions = into.end()
        if not actions:
            raise ModelOutputError("the actions do nothing; write e.g. Action: click(start_box='(x,y)')", text)
        return Parsed(tuple(actions), thought=_thought(text))

    def render(self, parsed: Parsed) -> str:
        actions = "\n\n".join(_render_action(a, self.convention) for a in parsed.actions)
        return f"Thought: {parsed.thought}\nAction: {actions}"


def _render_action(action: Action, space: ModelConvention) -> str:
    def box(p: Point) -> str:
        if p.space != space:
            raise ValueError(f"point in {p.space}, parser expects {space}")
        return f"'({fmt_number(p.x, space)},{fmt_number(p.y, space)})'"

    match action:
        case Click(point=p, button=b, count=n, modifiers=mods):
            name = {("left", 1): "click", ("left", 2): "left_double", ("left", 3): "left_triple"}.get((b, n))
            name = name or {("right", 1): "right_single"}.get((b, n))
            if name is None:
                raise ValueError(f"no UI-TARS action for {b} x{n}")
            call = f"{name}(start_box={box(p)})"
            if mods:
                return f"press(key={' '.join(mods)!r})\n\n{call}\n\nrelease(key={' '.join(mods)!r})"
            return call
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
        case Wait(seconds=s, until_settled=False) if s == WAIT_SECONDS:
            return "wait()"
        case Done(answer=a):
            return f"finished(content={a!r})"
        case AskUser(question=q):
            return f"call_user(content={q!r})"
    raise ValueError(f"cannot render {action!r} as UI-TARS output")
