"""Property tests for every parser: round trips of action sequences, and no exception but ModelOutputError on
any output.

Example budget (counted in ``_EXAMPLES``; a final test checks the total is at least 10,000): eight parser
configurations × (round trip + mutated outputs + free text), plus the reply's other channels (Nemotron's
reasoning stream, engine-parsed tool calls).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from omnidesk.agent.keys import normalize_combo
from omnidesk.agent.parsing import OutputParser, Parsed, parser_for
from omnidesk.agent.ports import ToolCall

_EXAMPLES: Counter[str] = Counter()
_FAST = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck), derandomize=True)

CONFIGS = {
    "nemotron": ("nemotron", None),
    "json-fraction": ("json", "fraction"),
    "json-pixels": ("json", "image_pixels"),
    "qwen-thousandths": ("qwen", "thousandths"),
    "qwen2.5": ("qwen2.5", None),
    "qwen3": ("qwen3", None),
    "uitars": ("uitars", None),
}
ROUND_TRIPS, MUTATIONS, FREE_TEXT, CHANNELS = 400, 700, 250, 300

words = st.text(alphabet="abcdefghij KLMNOP.,", min_size=0, max_size=40).map(str.strip)
texts = st.text(min_size=1, max_size=60)
key_pool = ["ctrl", "alt", "shift", "super", "a", "z", "1", "enter", "tab", "esc", "f5", "pagedown", "+", ",", "space"]
hotkeys = st.lists(st.sampled_from(key_pool), min_size=1, max_size=3, unique=True).map(
    lambda ks: Hotkey(keys=normalize_combo(ks))
)


def _fmt(config: str) -> str:
    return CONFIGS[config][0]


def _points(config: str) -> st.SearchStrategy[Point]:
    if config in {"nemotron", "json-fraction"}:
        fractions = st.builds(lambda x, y: Point(x=x, y=y, space="fraction"), st.floats(0, 1), st.floats(0, 1))
        if config == "json-fraction":
            return fractions
        pixels = st.builds(
            lambda x, y: Point(x=x, y=y, space="image_pixels"),
            st.integers(2, 4000).map(float),
            st.integers(0, 4000).map(float),
        )
        return fractions | pixels
    if config in {"qwen-thousandths", "qwen3"}:
        return st.builds(lambda x, y: Point(x=x, y=y, space="thousandths"), st.integers(0, 1000), st.integers(0, 1000))
    return st.builds(lambda x, y: Point(x=x, y=y, space="image_pixels"), st.integers(0, 4000), st.integers(0, 4000))


def _clicks(config: str, pts: st.SearchStrategy[Point]) -> st.SearchStrategy[Action]:
    buttons = st.sampled_from(["left", "right", "middle"])
    fmt = _fmt(config)
    if fmt in {"nemotron", "json"}:
        plain = st.builds(Click, point=pts, button=buttons, count=st.integers(1, 3))
        if fmt == "json":
            return plain
        mods = st.lists(st.sampled_from(["ctrl", "alt", "shift"]), min_size=1, max_size=2, unique=True).map(
            normalize_combo
        )
        return plain | st.builds(Click, point=pts, count=st.integers(1, 3), modifiers=mods)
    if fmt == "uitars":
        return st.builds(Click, point=pts, count=st.integers(1, 3)) | st.builds(
            Click, point=pts, button=st.just("right"), modifiers=st.sampled_from([(), ("ctrl",), ("shift",)])
        )
    counts = st.integers(1, 2) if config == "qwen2.5" else st.integers(1, 3)
    return st.builds(Click, point=pts, count=counts) | st.builds(
        Click, point=pts, button=st.sampled_from(["right", "middle"])
    )


def _steps(config: str) -> st.SearchStrategy[list[Action]]:
    """Sequences of actions a model of ``config`` can write in one reply (and read back the same)."""
    pts = _points(config)
    fmt = _fmt(config)
    nonzero = st.integers(-20, 20).filter(bool)
    if fmt == "uitars":
        lead = st.text(min_size=1, max_size=60).filter(lambda t: t.lstrip() == t)  # values are lstripped
        scrolls = st.sampled_from([(0, 5), (0, -5), (5, 0), (-5, 0)]).flatmap(
            lambda d: st.builds(Scroll, point=st.none() | pts, dx=st.just(d[0]), dy=st.just(d[1]))
        )
        waits: st.SearchStrategy[Action] = st.just(Wait(seconds=5.0))
        answers = st.builds(Done, answer=st.text(max_size=30).filter(lambda t: t.lstrip() == t))
    else:
        lead = texts
        vertical = st.builds(Scroll, point=(pts if fmt == "json" else st.none() | pts), dy=nonzero)
        horizontal = st.builds(Scroll, point=st.none() | pts, dx=nonzero)
        scrolls = vertical if fmt == "json" or config == "qwen2.5" else vertical | horizontal
        waits = st.builds(Wait, seconds=st.floats(0, 60))
        answers = st.builds(Done, answer=st.text(max_size=30))
    middle: list[st.SearchStrategy[Action]] = [
        _clicks(config, pts),
        st.builds(Move, point=pts),
        st.builds(Drag, start=pts, end=pts),
        scrolls,
        st.builds(TypeText, text=lead),
        hotkeys,
        waits,
    ]
    enders: list[st.SearchStrategy[Action]] = [answers, st.builds(AskUser, question=lead)]
    if fmt != "uitars":
        enders.append(st.builds(Fail, reason=st.text(max_size=30)))
    if fmt == "nemotron":
        enders.append(st.builds(Wait, seconds=st.floats(0, 60), until_settled=st.just(True)))
    if fmt == "json":  # one action per reply
        return st.one_of(middle + enders).map(lambda a: [a])
    at_pointer = st.just(Click(point=POINTER)) | st.builds(Drag, start=st.just(POINTER), end=pts)
    if fmt in {"qwen", "qwen2.5", "qwen3"}:  # every call stands alone
        return st.lists(st.one_of([*middle, *enders, at_pointer]), min_size=1, max_size=4)
    # Nemotron: where the pointer is only as the reply's first point (later, the reply's last point is meant).
    first = st.one_of(middle) | at_pointer if fmt == "nemotron" else st.one_of(middle)
    body = st.tuples(first, st.lists(st.one_of(middle), max_size=3)).map(lambda t: [t[0], *t[1]])
    # An ending action (finished, terminate, computer.wait, a question) comes last, and ends the task alone.
    alone = st.one_of(enders).map(lambda a: [a])
    asking = st.tuples(body, st.builds(AskUser, question=lead)).map(lambda t: [*t[0], t[1]])
    return body | alone | asking


def _parser(config: str) -> OutputParser:
    name, convention = CONFIGS[config]
    return parser_for(name, convention)  # type: ignore[arg-type]


@pytest.mark.parametrize("config", CONFIGS)
def test_round_trip(config: str) -> None:
    parser = _parser(config)

    @settings(_FAST, max_examples=ROUND_TRIPS)
    @given(actions=_steps(config), thought=words)
    def check(actions: list[Action], thought: str) -> None:
        _EXAMPLES[config] += 1
        text = parser.render(Parsed(tuple(actions), thought=thought))
        parsed = parser.parse(text)
        assert parsed.actions == tuple(actions), text
        assert parsed.thought == thought

    check()


_CALL = re.compile(r"<tool_call>\n(.*?)\n</tool_call>", re.DOTALL)


@pytest.mark.parametrize("config", ["nemotron", "qwen2.5", "qwen3"])
def test_the_other_channels_read_the_same(config: str) -> None:
    """Nemotron's answer in the reasoning stream; Qwen's calls split off by the engine's tool parser."""
    parser = _parser(config)

    @settings(_FAST, max_examples=CHANNELS)
    @given(actions=_steps(config), thought=words)
    def check(actions: list[Action], thought: str) -> None:
        _EXAMPLES[config] += 1
        text = parser.render(Parsed(tuple(actions), thought=thought))
        if config == "nemotron":
            parsed = parser.parse("", reasoning=text.lstrip("\n"))
        else:
            calls = [json.loads(body) for body in _CALL.findall(text)]
            tool_calls = [ToolCall(c["name"], json.dumps(c["arguments"], ensure_ascii=False)) for c in calls]
            parsed = parser.parse(thought, tool_calls=tool_calls)
        assert parsed.actions == tuple(actions), text

    check()


def _mutate(text: str, data: st.DataObject) -> str:
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["cut", "insert", "truncate", "double", "swap"]))
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 12)))
        if op == "cut":
            text = text[:i] + text[j:]
        elif op == "insert":
            junk = data.draw(
                st.sampled_from(
                    [
                        "(",
                        ")",
                        "'",
                        '"',
                        "\n",
                        "\n\n",
                        "## Code:",
                        "## Action:",
                        "</think>",
                        "{",
                        "}",
                        ",",
                        "1e999",
                        "9" * 400,
                        "-",
                        "Action: ",
                        "```",
                        "<tool_call>",
                        "</tool_call>",
                        "<|box_start|>",
                        "<point>",
                        "pyautogui.keyDown('ctrl')\n",
                        "pyautogui.mouseDown()\n",
                        "computer.wait()",
                        "press(key='shift')\n\n",
                        "\\",
                        "nan",
                        "[",
                        "]",
                        "=",
                    ]
                )
                | st.text(max_size=4)
            )
            text = text[:i] + junk + text[i:]
        elif op == "truncate":
            text = text[:i]
        elif op == "double":
            text = text + "\n" + text
        else:
            text = text[:i] + text[j:] + text[i:j]
    return text


@pytest.mark.parametrize("config", CONFIGS)
def test_mutated_outputs_only_raise_model_output_error(config: str) -> None:
    parser = _parser(config)

    @settings(_FAST, max_examples=MUTATIONS)
    @given(actions=_steps(config), data=st.data())
    def check(actions: list[Action], data: st.DataObject) -> None:
        _EXAMPLES[config] += 1
        text = _mutate(parser.render(Parsed(tuple(actions))), data)
        try:
            parsed = parser.parse(text, reasoning=data.draw(st.sampled_from(["", text])))
        except ModelOutputError as exc:
            assert str(exc)
            return
        assert parsed.actions
        assert all(isinstance(a, Action.__origin__.__args__) for a in parsed.actions)  # type: ignore[attr-defined]

    check()


@pytest.mark.parametrize("config", CONFIGS)
def test_free_text_only_raises_model_output_error(config: str) -> None:
    parser = _parser(config)

    @settings(_FAST, max_examples=FREE_TEXT)
    @given(text=st.text(max_size=300) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
    def check(text: str) -> None:
        _EXAMPLES[config] += 1
        with contextlib.suppress(ModelOutputError):
            parser.parse(text, reasoning=text)

    check()


def test_fuzz_budget_reached() -> None:
    """Runs last in this module: the properties above really ran at least 10,000 examples."""
    total = sum(_EXAMPLES.values())
    if total:  # only meaningful when the whole module ran
        assert total >= 10_000, _EXAMPLES
    else:
        assert 10_000 / len(CONFIGS) <= ROUND_TRIPS + MUTATIONS + FREE_TEXT
