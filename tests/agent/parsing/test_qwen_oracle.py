"""The Qwen corpora against Qwen's own function-call parser on PyPI: qwen-agent 0.0.34's
``NousFnCallPrompt.postprocess_fncall_messages`` (``qwen_agent/llm/fncall_prompts/nous_fncall_prompt.py``,
the format the cookbooks' system text teaches).

qwen-agent finds the ``<tool_call>`` blocks of a reply (skipping a ``<think>`` block, reading a last unclosed
call) and returns each as a function call (name, JSON arguments). On every corpus entry written as text, the
calls it finds, read by Omnidesk as the engine's ``tool_calls``, are the actions Omnidesk reads from the text
itself, or both refuse it. qwen-agent is more lenient than the cookbooks' ``json.loads`` and vLLM's hermes
parser that Omnidesk follows (it reads JSON5): where it accepts what Omnidesk refuses, the entry is one of
:data:`LENIENT`.
"""

from __future__ import annotations

from typing import Any

import pytest

from omnidesk.agent.errors import ModelOutputError
from omnidesk.agent.parsing import parser_for
from omnidesk.agent.ports import ToolCall
from tests.agent.parsing.test_corpus import corpus
from tests.oracles import qwen_agent_function_calls

LENIENT = {
    "single-quotes": "qwen-agent reads JSON5, so single quotes pass",
}


def _entries() -> list[Any]:
    return [
        pytest.param(family, entry, id=f"{family}-{entry['id']}")
        for family in ("qwen2.5", "qwen3")
        for entry in corpus(family)["positives"] + corpus(family)["negatives"]
        if entry["text"] and "tool_calls" not in entry and not entry.get("reasoning")
    ]


@pytest.mark.parametrize(("family", "entry"), _entries())
def test_qwen_agent_finds_the_same_calls(family: str, entry: dict[str, Any]) -> None:
    parser = parser_for(family)
    try:
        ours = parser.parse(entry["text"]).actions
    except ModelOutputError:
        ours = None
    calls = qwen_agent_function_calls(entry["text"])
    try:
        theirs = parser.parse("", tool_calls=[ToolCall(name, arguments) for name, arguments in calls]).actions
    except ModelOutputError:
        theirs = None
    if entry["id"] in LENIENT:
        assert ours is None and theirs is not None, LENIENT[entry["id"]]
        return
    assert ours == theirs, (entry["id"], calls)


def test_the_oracle_reads_most_entries() -> None:
    positives = [e for e in _entries() if "actions" in e.values[1]]
    assert len(positives) >= 80, len(positives)
