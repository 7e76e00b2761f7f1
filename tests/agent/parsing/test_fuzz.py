"""Property tests for every parser: round trips, and no exception but ModelOutputError on any output.

Example budget (counted in ``_EXAMPLES``; a final test checks the total is at least 10,000): six parser
configurations × (round trip + mutated outputs + free text).
"""

from __future__ import annotations

import contextlib
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from omnidesk.agent.keys import normalize_combo
from omnidesk.agent.parsing import OutputParser, Parsed, parser_for

_EXAMPLES: Counter[str] = Counter()
_FAST = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck), derandomize=True)

CONFIGS = {
    "nemotron": ("nemotron", None),
    "json-fraction": ("json", "fraction"),
    "json-pixels": ("json", "image_pixels"),
    "qwen-thousandths": ("qwen", "thousandths"),
    "qwen-pixels": ("qwen", "image_pixels"),
    "uitars": ("uitars", "image_pixels"),
}
ROUND_TRIPS, MUTATIONS, FREE_TEXT = 500, 1000, 300

words = st.text(alphabet="abcdefghij KLMNOP.,", min_size=0, max_size=40).map(str.strip)
texts = st.text(min_size=1, max_size=60)
key_pool = ["ctrl", "alt", "shift", "super", "a", "z", "1", "enter", "tab", "esc", "f5", "pagedown", "+", ",", "space"]
hotkeys = st.lists(st.sampled_from(key_pool), min_size=1, max_size=3, unique=True).map(
    lambda ks: Hotkey(keys=normalize_combo(ks))
)


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
    if config == "qwen-thousandths":
        return st.builds(lambda x, y: Point(x=x, y=y, space="thousandths"), st.integers(0, 1000), st.integers(0, 1000))
    return st.builds(lambda x, y: Point(x=x, y=y, space="image_pixels"), st.integers(0, 4000), st.integers(0, 4000))


def _actions(config: str) -> st.SearchStrategy[Action]:
    pts = _points(config)
    buttons = st.sampled_from(["left", "right", "middle"])
    nonzero = st.integers(-20, 20).filter(bool)
    fmt = CONFIGS[config][0]
    if fmt == "nemotron":
        clicks = st.builds(Click, point=pts, button=buttons, count=st.integers(1, 3))
        drags = st.builds(Drag, start=pts, end=pts, button=buttons).filter(lambda d: d.start.space == d.end.space)
        scrolls = st.builds(Scroll, point=st.none() | pts, dy=nonzero) | st.builds(
            Scroll, point=st.none() | pts, dx=nonzero
        )
    elif fmt == "json":
        clicks = st.builds(Click, point=pts, button=buttons, count=st.integers(1, 3))
        drags = st.builds(Drag, start=pts, end=pts)
        scrolls = st.builds(Scroll, point=pts, dy=nonzero)
    elif fmt == "qwen":
        clicks = st.builds(Click, point=pts, count=st.integers(1, 3)) | st.builds(
            Click, point=pts, button=st.sampled_from(["right", "middle"])
        )
        drags = st.builds(Drag, start=pts, end=pts)
        scrolls = st.builds(Scroll, point=st.none() | pts, dy=nonzero) | st.builds(
            Scroll, point=st.none() | pts, dx=nonzero
        )
    else:
        clicks = st.builds(Click, point=pts, count=st.integers(1, 3)) | st.builds(
            Click, point=pts, button=st.just("right")
        )
        drags = st.builds(Drag, start=pts, end=pts)
        scrolls = st.sampled_from([(0, 5), (0, -5), (5, 0), (-5, 0)]).flatmap(
            lambda d: st.builds(Scroll, point=st.none() | pts, dx=st.just(d[0]), dy=st.just(d[1]))
        )
    common: list[st.SearchStrategy[Action]] = [
        clicks,
        st.builds(Move, point=pts),
        drags,
        scrolls,
        st.builds(TypeText, text=texts),
        hotkeys,
        st.builds(Done, answer=st.text(max_size=30)),
        st.builds(AskUser, question=texts),
    ]
    if fmt == "uitars":
        common.append(st.just(Wait(seconds=5.0)))
    else:
        common += [st.builds(Wait, seconds=st.floats(0, 60)), st.builds(Fail, reason=st.text(max_size=30))]
    return st.one_of(common)


def _parser(config: str) -> OutputParser:
    name, convention = CONFIGS[config]
    return parser_for(name, convention)  # type: ignore[arg-type]


@pytest.mark.parametrize("config", CONFIGS)
def test_round_trip(config: str) -> None:
    parser = _parser(config)

    @settings(_FAST, max_examples=ROUND_TRIPS)
    @given(action=_actions(config), thought=words)
    def check(action: Action, thought: str) -> None:
        _EXAMPLES[config] += 1
        text = parser.render(Parsed((action,), thought=thought))
        parsed = parser.parse(text)
        assert parsed.action == action, text
        assert parsed.thought == thought

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
                        "## Code:",
                        "{",
                        "}",
                        ",",
                        "1e999",
                        "-",
                        "Action:",
                        "```",
                        "<tool_call>",
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
    @given(action=_actions(config), data=st.data())
    def check(action: Action, data: st.DataObject) -> None:
        _EXAMPLES[config] += 1
        text = _mutate(parser.render(Parsed((action,))), data)
        try:
            parsed = parser.parse(text)
        except ModelOutputError as exc:
            assert str(exc)
            return
        assert isinstance(parsed.action, Action.__origin__.__args__)  # type: ignore[attr-defined]

    check()


@pytest.mark.parametrize("config", CONFIGS)
def test_free_text_only_raises_model_output_error(config: str) -> None:
    parser = _parser(config)

    @settings(_FAST, max_examples=FREE_TEXT)
    @given(text=st.text(max_size=300) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
    def check(text: str) -> None:
        _EXAMPLES[config] += 1
        with contextlib.suppress(ModelOutputError):
            parser.parse(text)

    check()


def test_fuzz_budget_reached() -> None:
    """Runs last in this module: the properties above really ran at least 10,000 examples."""
    total = sum(_EXAMPLES.values())
    if total:  # only meaningful when the whole module ran
        assert total >= 10_000, _EXAMPLES
    else:
        assert 10_000 / len(CONFIGS) <= ROUND_TRIPS + MUTATIONS + FREE_TEXT
