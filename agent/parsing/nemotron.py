"""Nemotron 3 Nano Omni's computer-use format: a thought, ``## Action:`` and ``## Code:`` with pyautogui.

Where the answer is found follows NVIDIA's cookbook parser (``NVIDIA-NeMo/Nemotron``,
``usage-cookbook/Nemotron-3-Nano-Omni/computer-use-agent-with-omni/server/agent.py``, commit
``c887c942a5c81f6bdc281ad36613588ed48ccba8``, ``parse_response``):

- the answer is the text after the last ``</think>``; when it holds no usable action and the reasoning
  stream has a line starting ``## Action`` (case-sensitive), the answer is looked for from that line on;
- the first ``## Action:`` heading starts it (a later one ends it); the action text runs to ``## Code``;
- code is taken from every ``## Code:`` section — in each, its last fenced block or else its unfenced
  text —, or, without a ``## Code`` heading, from every fenced block;
- several pyautogui lines run in order as one step (:mod:`~omnidesk.agent.parsing.pyautogui_code` says
  what each call becomes); ``computer.wait()`` waits until the screen settles (at most 20 s);
  ``computer.terminate(status=..., answer=...)`` ends the task — its status read from the argument, not
  from a word anywhere in the block, and its answer kept.

Omnidesk also reads code without an ``## Action`` heading, and ``computer.ask_user(question=...)``.
Nothing is ever executed: the code is read with :mod:`ast` against an allow-list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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
from omnidesk.agent.parsing.common import MAX_OUTPUT_CHARS, ModelConvention, Parsed, fmt_number
from omnidesk.agent.parsing.pyautogui_code import COMPUTER_WAIT_SECONDS, code_to_actions
from omnidesk.agent.ports import ToolCall

__all__ = ["NemotronParser"]

MAX_REPLY_CHARS = 1_000_000
"""A reply (answer or reasoning) longer than this is refused unread."""

_THINK_END = "</think>"
_HEADING = re.compile(r"(?<!#)#{1,3}\s*(Action|Code|Thought)\b\s*:?", re.IGNORECASE)
_REASONING_ACTION = re.compile(r"^##\s*Action\b", re.MULTILINE)  # case-sensitive, as NVIDIA's check
_FENCE_TAG = re.compile(r"[A-Za-z0-9_-]*")


def _headings(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every ``## Action`` / ``## Code`` / ``## Thought`` heading, in order."""
    return [(m.group(1).lower(), m.start(), m.end()) for m in _HEADING.finditer(text)]


def _at_line_start(text: str, index: int) -> bool:
    line = text.rfind("\n", 0, index) + 1
    return not text[line:index].strip()


def _fenced(text: str, *, tags: frozenset[str] | None = None) -> list[str]:
    """The contents of the complete ``` fences of ``text``, in order (a language tag dropped; with
    ``tags``, only fences whose tag is one of them or absent)."""
    blocks, at = [], 0
    while (start := text.find("```", at)) >= 0:
        end = text.find("```", start + 3)
        if end < 0:
            break
        body = text[start + 3 : end]
        tag = _FENCE_TAG.match(body)
        name = tag.group(0) if tag else ""
        if tags is None or name.lower() in tags or not name:
            blocks.append(body[len(name) :].strip())
        at = end + 3
    return blocks


def _clean(section: str) -> str:
    """A ``## Code`` section's code: its last fenced block, else the text without stray backticks."""
    section = section.strip()
    fences = _fenced(section)
    if fences:
        return fences[-1]
    section = section.strip("`").strip()
    return section.removesuffix("```").strip()


def _sections(candidate: str, raw: str) -> tuple[str, str, list[str]]:
    """(thought, action text, code blocks) of an answer (see the module doc)."""
    candidate = candidate.rsplit(_THINK_END, 1)[-1].lstrip()
    if len(candidate) > MAX_OUTPUT_CHARS:
        raise ModelOutputError(f"the answer is too long ({len(candidate)} characters)", raw[:2000])
    marks = _headings(candidate)
    first = next((m for m in marks if m[0] == "action" and _at_line_start(candidate, m[1])), None)
    thought = ""
    if first is not None:
        before = [m for m in marks if m[0] == "thought" and m[2] <= first[1]]
        head = candidate[: first[1]]
        thought = (head[before[0][2] :] if before else head).strip()
        later = (m for m in marks if m[0] == "action" and m[1] >= first[2] and _at_line_start(candidate, m[1]))
        nxt = next(later, None)
        body_end = nxt[1] if nxt is not None else len(candidate)
        body_start = first[1]
    else:
        before = [m for m in marks if m[0] == "thought"]
        body_start, body_end = 0, len(candidate)
    codes = [m for m in marks if m[0] == "code" and body_start <= m[1] < body_end]
    if first is not None:
        action_end = codes[0][1] if codes else body_end
        action = candidate[first[2] : action_end].strip()
    else:
        action = ""
    if codes:
        bounds = [m[1] for m in codes[1:]] + [body_end]
        blocks = [_clean(candidate[m[2] : end]) for m, end in zip(codes, bounds, strict=True)]
        if first is None:
            head = candidate[: codes[0][1]]
            thought = (head[before[0][2] :] if before else head).strip()
    else:
        body = candidate[body_start:body_end]
        blocks = _fenced(body, tags=frozenset({"code", "python", "py", "json"}))
        if first is None and blocks:
            head = body[: body.find("```")]
            thought = (head[before[0][2] :] if before else head).strip()
    blocks = [b for b in blocks if b]
    if not blocks:
        what = "no code" if first is not None else "no '## Action:' with code"
        raise ModelOutputError(f"{what}; end with '## Code:' and pyautogui calls in a ```python block", raw)
    return thought, action, blocks


class NemotronParser:
    """Parser and renderer for the Nemotron computer-use format (fractions, > 1 = screenshot pixels)."""

    name = "nemotron"
    convention: ModelConvention = "fraction"

    def parse(self, text: str, *, reasoning: str = "", tool_calls: Sequence[ToolCall] = ()) -> Parsed:
        """The answer's actions; the reasoning stream is read only as NVIDIA's parser reads it.

        Raises:
            ModelOutputError: no usable action in the answer (nor in the reasoning).
        """
        if len(text) > MAX_REPLY_CHARS or len(reasoning) > MAX_REPLY_CHARS:
            raise ModelOutputError("the reply is far too long to be an action", text[:2000])
        try:
            return self._parse(text, text, reasoning.strip())
        except ModelOutputError as error:
            heading = _REASONING_ACTION.search(reasoning)
            if heading is None:
                raise
            fallback = reasoning[: heading.start()].strip() or reasoning.strip()
            try:
                return self._parse(reasoning[heading.start() :], reasoning, fallback)
            except ModelOutputError:
                raise error from None

    @staticmethod
    def _parse(candidate: str, raw: str, reasoning: str) -> Parsed:
        thought, action, blocks = _sections(candidate, raw)
        actions = code_to_actions(blocks, raw)
        return Parsed(tuple(actions), thought=thought or reasoning, summary=action)

    def render(self, parsed: Parsed) -> str:
        """The answer the model would write for ``parsed`` (points as fractions or screenshot pixels)."""
        summary = parsed.summary or ", ".join(a.kind for a in parsed.actions)
        code = "\n".join(_render_code(a) for a in parsed.actions)
        return f"{parsed.thought}\n## Action:\n{summary}\n## Code:\n```python\n{code}\n```"


def _xy(point: Point) -> str:
    if point.space == "pointer":
        return ""
    if point.space not in {"fraction", "image_pixels"}:
        raise ValueError(f"Nemotron points are fractions or screenshot pixels, not {point.space}")
    space: ModelConvention = "fraction" if point.space == "fraction" else "image_pixels"
    return f"x={fmt_number(point.x, space)}, y={fmt_number(point.y, space)}"


def _args(*parts: str) -> str:
    return ", ".join(p for p in parts if p)


def _render_code(action: Action) -> str:
    match action:
        case Click(point=p, button=b, count=n, modifiers=mods) if mods:
            down = "\n".join(f"pyautogui.keyDown({k!r})" for k in mods)
            up = "\n".join(f"pyautogui.keyUp({k!r})" for k in reversed(mods))
            return f"{down}\n{_render_code(Click(point=p, button=b, count=n))}\n{up}"
        case Click(point=p, button="left", count=2):
            return f"pyautogui.doubleClick({_xy(p)})"
        case Click(point=p, button="left", count=3):
            return f"pyautogui.tripleClick({_xy(p)})"
        case Click(point=p, button="right", count=1):
            return f"pyautogui.rightClick({_xy(p)})"
        case Click(point=p, button="middle", count=1):
            return f"pyautogui.middleClick({_xy(p)})"
        case Click(point=p, button="left", count=1):
            return f"pyautogui.click({_xy(p)})"
        case Click(point=p, button=b, count=n):
            return f"pyautogui.click({_args(_xy(p), f'clicks={n}', f'button={b!r}')})"
        case Move(point=p):
            return f"pyautogui.moveTo({_xy(p)})"
        case Drag(start=s, end=e, button=b):
            tail = "" if b == "left" else f"button={b!r}"
            drag = f"pyautogui.dragTo({_args(_xy(e), tail)})"
            return drag if s.space == "pointer" else f"pyautogui.moveTo({_xy(s)})\n{drag}"
        case Scroll(point=p, dx=dx, dy=dy):
            where = "" if p is None else _xy(p)
            lines = [f"pyautogui.scroll({_args(str(dy), where)})"] if dy else []
            lines += [f"pyautogui.hscroll({_args(str(dx), where)})"] if dx else []
            return "\n".join(lines)
        case TypeText(text=t):
            return f"pyautogui.write({t!r})"
        case Hotkey(keys=(k,)):
            return f"pyautogui.press({k!r})"
        case Hotkey(keys=ks):
            return f"pyautogui.hotkey({', '.join(repr(k) for k in ks)})"
        case Wait(seconds=s, until_settled=True) if s == COMPUTER_WAIT_SECONDS:
            return "computer.wait()"
        case Wait(seconds=s, until_settled=True):
            return f"computer.wait(seconds={s!r})"
        case Wait(seconds=s):
            return f"pyautogui.sleep({s!r})"
        case Done(answer=a):
            return f"computer.terminate(status='success', answer={a!r})"
        case Fail(reason=r):
            return f"computer.terminate(status='failure', answer={r!r})"
        case AskUser(question=q):
            return f"computer.ask_user(question={q!r})"
    raise ValueError(f"cannot render {action!r}")  # pragma: no cover
