"""The JSON action format: the shipped schema, parsing, and what a grammar built from it admits."""

from __future__ import annotations

from importlib.resources import files

import pytest

from omnidesk.agent.actions import Click, Done, Drag, Hotkey, Point, Scroll, TypeText
from omnidesk.agent.errors import ModelOutputError
from omnidesk.agent.json_actions import action_json_schema, parse_json_action, schema_text


def test_shipped_schema_equals_generated() -> None:
    shipped = files("omnidesk.assets").joinpath("grammars/action.schema.json").read_text(encoding="utf-8")
    assert shipped == schema_text(), "run: python -c 'from omnidesk.agent.json_actions import schema_text'"


def test_every_property_is_required_and_kind_is_const() -> None:
    schema = action_json_schema()
    kinds = set()
    for definition in schema["$defs"].values():
        assert definition["required"] == list(definition["properties"])
        assert definition["additionalProperties"] is False
        assert "thought" in definition["required"]
        kinds.add(definition["properties"]["kind"]["const"])
    assert kinds == {"click", "move", "drag", "scroll", "type", "hotkey", "wait", "done", "fail", "ask_user"}


def test_schema_converts_to_a_llama_cpp_grammar() -> None:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    grammar = json_schema_to_gbnf(schema_text())
    assert '"\\"click\\""' in grammar and "root ::=" in grammar


def test_parse_click_in_fractions() -> None:
    text = '{"thought":"the OK button","kind":"click","x":0.41,"y":0.22,"button":"left","count":1}'
    action, thought = parse_json_action(text)
    assert action == Click(point=Point(x=0.41, y=0.22, space="fraction"))
    assert thought == "the OK button"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"thought":"","kind":"type","text":"Grüße <ok>"}', TypeText(text="Grüße <ok>")),
        ('{"thought":"","kind":"hotkey","keys":["Control_L","W"]}', Hotkey(keys=("ctrl", "w"))),
        ('{"thought":"","kind":"done","answer":"42"}', Done(answer="42")),
        (
            '{"thought":"","kind":"scroll","x":500,"y":500,"dy":-3}',
            Scroll(point=Point(x=500, y=500, space="thousandths"), dy=-3),
        ),
        (
            '{"thought":"","kind":"drag","x":1,"y":2,"to_x":30,"to_y":40}',
            Drag(start=Point(x=1, y=2, space="thousandths"), end=Point(x=30, y=40, space="thousandths")),
        ),
    ],
)
def test_parse_other_kinds(text: str, expected: object) -> None:
    assert parse_json_action(text, "thousandths")[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "click(0.1, 0.2)",
        "[]",
        '{"kind":"click","x":0.1,"y":0.2,"button":"left","count":1}',  # no thought
        '{"thought":"","kind":"click","x":0.1,"y":0.2,"button":"left","count":1,"z":1}',
        '{"thought":"","kind":"explode"}',
        '{"thought":"","kind":"hotkey","keys":["hyperdrive"]}',
        '{"thought":"","kind":"click","x":-1,"y":0.2,"button":"left","count":1}',
        '{"thought":"","kind":"click","x":1001,"y":0.2,"button":"left","count":1}',
        '{"thought":"","kind":"click","x":NaN,"y":0.2,"button":"left","count":1}',
        '{"thought":"","kind":"click","x":0.1,"y":0.2,"button":"left","count":9}',
        '{"thought":"","kind":"type","text":""}',
        '{"thought":"","kind":"click","x":0.1,"y":0.2,"button":"left","count":1}{"thought":""}',
    ],
)
def test_invalid_json_is_a_model_output_error(text: str) -> None:
    with pytest.raises(ModelOutputError) as info:
        parse_json_action(text, "thousandths")
    assert info.value.raw_output == text
