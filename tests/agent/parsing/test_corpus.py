"""Each family's corpus (``corpus/*.json``): published output forms → the actions Omnidesk reads.

Every positive entry parses to exactly its listed actions (and thought/summary where given); every negative
is a ModelOutputError whose message names the problem. The corpora are written from the models' published
formats, examples and official parsers (each entry says where from), never from Omnidesk's own prompts.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from omnidesk.agent.actions import ACTION_ADAPTER
from omnidesk.agent.errors import ModelOutputError
from omnidesk.agent.parsing import OutputParser, parser_for
from omnidesk.agent.ports import ToolCall

CORPUS = Path(__file__).parent / "corpus"
FAMILIES = {"nemotron": "nemotron", "qwen2.5": "qwen2.5", "qwen3": "qwen3", "uitars": "uitars"}
"""Corpus file name → the :func:`parser_for` format it is read with."""
MINIMUM = 60


@cache
def corpus(family: str) -> dict[str, Any]:
    return json.loads((CORPUS / f"{family}.json").read_text(encoding="utf-8"))


def _parse(parser: OutputParser, entry: dict[str, Any]) -> Any:
    calls = tuple(ToolCall(c["name"], c["arguments"]) for c in entry.get("tool_calls", []))
    return parser.parse(entry["text"], reasoning=entry.get("reasoning", ""), tool_calls=calls)


def _cases(kind: str) -> list[Any]:
    return [
        pytest.param(family, entry, id=f"{family}-{entry['id']}")
        for family in FAMILIES
        for entry in corpus(family)[kind]
    ]


@pytest.mark.parametrize(("family", "entry"), _cases("positives"))
def test_positive(family: str, entry: dict[str, Any]) -> None:
    parsed = _parse(parser_for(FAMILIES[family]), entry)
    expected = tuple(ACTION_ADAPTER.validate_python(a) for a in entry["actions"])
    assert parsed.actions == expected, entry["comment"]
    if "thought" in entry:
        assert parsed.thought == entry["thought"]
    if "summary" in entry:
        assert parsed.summary == entry["summary"]


@pytest.mark.parametrize(("family", "entry"), _cases("negatives"))
def test_negative(family: str, entry: dict[str, Any]) -> None:
    with pytest.raises(ModelOutputError) as info:
        _parse(parser_for(FAMILIES[family]), entry)
    assert entry["error"].lower() in str(info.value).lower(), entry["comment"]


@pytest.mark.parametrize("family", FAMILIES)
def test_corpus_is_large_and_sourced(family: str) -> None:
    data = corpus(family)
    ids = [e["id"] for e in data["positives"] + data["negatives"]]
    assert len(data["positives"]) >= MINIMUM and data["negatives"], (family, len(data["positives"]))
    assert len(ids) == len(set(ids)), "ids are unique"
    assert all(e["source"] and e["comment"] for e in data["positives"] + data["negatives"])
