"""The UI-TARS corpus against ByteDance's own parser (PyPI ``ui-tars==0.1.4`` = ``codes/ui_tars/action_parser.py``
at ``d9dedaf620a2f5776b26f944268f180ef08c6b82``).

The official parser "accepts" an output when ``parse_action_to_structure_output`` returns and
``parsing_response_to_pyautogui_code`` turns the result into code without raising. On every corpus entry
without a ``deviation``, Omnidesk and the official parser agree: both accept it with the same actions (the
official structure read with the meanings Omnidesk gives each action type — see
:mod:`omnidesk.agent.parsing.uitars`) and the same thought, or both refuse it. On an entry with a
``deviation``, the stated difference is real: the official parser refuses it or reads something else.
"""

from __future__ import annotations

import ast
import contextlib
import io
from typing import Any

import pytest

from omnidesk.agent.actions import (
    ACTION_ADAPTER,
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
from omnidesk.agent.keys import normalize_combo
from omnidesk.agent.parsing import parser_for
from tests.agent.parsing.test_corpus import corpus
from tests.oracles import ui_tars_action_parser

WIDTH, HEIGHT = 1932, 1092
"""A screenshot size smart_resize keeps as it is, so the official normalised numbers × size are pixels."""


def _official(text: str) -> list[dict[str, Any]] | None:
    parse, to_code = ui_tars_action_parser()
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints what it cannot parse
            out: list[dict[str, Any]] = parse(text, 28, HEIGHT, WIDTH, model_type="qwen25vl")
            to_code(out, HEIGHT, WIDTH)
    except Exception:  # noqa: BLE001 - any failure of the official code is its refusal
        return None
    return out


def _point(box: str) -> Point:
    numbers = ast.literal_eval(box)  # the official parser's own str(list) of floats
    x1, y1, x2, y2 = numbers
    return Point(x=round((x1 + x2) / 2 * WIDTH, 6), y=round((y1 + y2) / 2 * HEIGHT, 6), space="image_pixels")


def _meaning(official: list[dict[str, Any]]) -> list[Action | str]:
    """What the official structure does, as Omnidesk actions; a string where the official converter does
    something Omnidesk's actions do not (nothing at all, or a key left held)."""
    finished = [a for a in official if a["action_type"] == "finished"]
    if finished:  # the converter's code becomes "DONE"
        return [Done(answer=finished[0]["action_inputs"].get("content", ""))]
    actions: list[Action | str] = []
    held: list[str] = []
    used = True
    for item in official:
        kind, inputs = item["action_type"], item["action_inputs"]
        if kind in {"click", "left_single", "left_double", "right_single"}:
            button = "right" if kind == "right_single" else "left"
            click = Click(point=_point(inputs["start_box"]), button=button, count=2 if kind == "left_double" else 1)
            actions.append(click.model_copy(update={"modifiers": normalize_combo(held)}) if held else click)
            used = True
        elif kind == "hover":
            actions.append(Move(point=_point(inputs["start_box"])))
        elif kind in {"drag", "select"} and "end_box" in inputs:
            actions.append(Drag(start=_point(inputs["start_box"]), end=_point(inputs["end_box"])))
        elif kind == "hotkey":
            try:
                actions.append(
                    Hotkey(keys=normalize_combo([*held, *inputs.get("key", inputs.get("hotkey", "")).split()]))
                )
            except ValueError:  # an unknown name or too many keys: pyautogui gets them as they are
                actions.append(f"pyautogui.hotkey of {inputs}")
            used = True
        elif kind in {"press", "keydown"}:
            held += [k for k in normalize_combo(inputs["key"].split()) if k not in held]
            used = False
        elif kind in {"release", "keyup"}:
            if not used:
                actions.append(Hotkey(keys=normalize_combo(held)))
                used = True
            held = [k for k in held if k not in normalize_combo(inputs["key"].split())]
        elif kind == "type":
            if inputs.get("content"):
                actions.append(TypeText(text=inputs["content"]))
        elif kind == "scroll" and any(w in inputs.get("direction", "").lower() for w in ("up", "down")):
            dy = 5 if "up" in inputs["direction"].lower() else -5
            actions.append(Scroll(point=_point(inputs["start_box"]) if "start_box" in inputs else None, dy=dy))
        elif kind == "wait":
            actions.append(Wait(seconds=5.0))
        elif kind == "call_user":  # the agent loops end the run for the person (the prompt: "call the user")
            actions.append(AskUser(question=inputs.get("content") or "The agent needs your help to go on."))
            break
        else:  # the converter's "# Unrecognized action type", or a branch that emits nothing
            actions.append(f"nothing for {kind}({inputs})")
    if held:
        actions.append(f"keyDown of {held} and never keyUp")
    return actions


def _rounded(actions: tuple[Action, ...] | list[Action | str]) -> list[Any]:
    def fix(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: round(v, 6) if k in {"x", "y"} else fix(v) for k, v in value.items()}
        return value

    return [a if isinstance(a, str) else fix(ACTION_ADAPTER.dump_python(a, mode="json")) for a in actions]


ENTRIES = [pytest.param(e, id=e["id"]) for e in corpus("uitars")["positives"] + corpus("uitars")["negatives"]]


@pytest.mark.parametrize("entry", ENTRIES)
def test_agrees_with_the_official_parser(entry: dict[str, Any]) -> None:
    official = _official(entry["text"])
    try:
        ours: tuple[Action, ...] | None = (
            parser_for("uitars").parse(entry["text"], reasoning=entry.get("reasoning", "")).actions
        )
    except ModelOutputError:
        ours = None
    theirs = None if official is None else _meaning(official)
    if "deviation" in entry:
        assert theirs is None or ours is None or _rounded(theirs) != _rounded(ours), entry["deviation"]
        return
    assert (theirs is None) == (ours is None), (entry["id"], official)
    if theirs is not None and ours is not None:
        assert _rounded(ours) == _rounded(theirs)
        assert official is not None
        if official[0]["thought"] is not None and "point=" not in entry["text"]:
            assert parser_for("uitars").parse(entry["text"]).thought == official[0]["thought"]


def test_the_oracle_agrees_on_most_of_the_corpus() -> None:
    """Deviations stay the exception: the official parser accepts most positives as they are."""
    positives = corpus("uitars")["positives"]
    agreed = [e for e in positives if "deviation" not in e]
    assert all(_official(e["text"]) is not None for e in agreed)
    assert len(agreed) >= 60, len(agreed)
