"""The shipped JSON action schema through the real runtime: llama.cpp's grammar-constrained decoding
(tiny random model, real mmproj images) always yields an object the parser reads — random weights
cannot write a syntax or shape error, only wrong values (out-of-range numbers, unknown key names)."""

from __future__ import annotations

import json

import pytest

from omnidesk.agent.config import AgentConfig, SafetyConfig
from omnidesk.agent.json_actions import JSON_ACTION_MODELS
from omnidesk.agent.loop import Agent
from omnidesk.agent.ports import CancelToken
from omnidesk.runtime.llama.session import OmniSession
from tests.fakes import FakeClock, FakeSampler, RecordingInputDevice, ScriptedConfirmer, StaticScreen, make_frame
from tests.models.plugin import TinyModel

pytestmark = pytest.mark.model

KINDS = {m.model_fields["kind"].annotation.__args__[0] for m in JSON_ACTION_MODELS}  # type: ignore[union-attr]


def test_grammar_constrained_outputs_always_parse(tiny_omni: TinyModel) -> None:
    # A random model may answer "done" at once; a few tasks give several constrained outputs either way.
    steps = []
    with OmniSession.open(tiny_omni.model, tiny_omni.mmproj, n_ctx=8192) as model:
        for task in ("press OK", "type hello into the field", "scroll the list down"):
            agent = Agent(
                model,
                FakeSampler(StaticScreen([make_frame()]), image_size=tiny_omni.image_size),
                RecordingInputDevice(),
                ScriptedConfirmer(),
                FakeClock(),
                AgentConfig(use_json_actions=True, max_output_tokens=1024),
                SafetyConfig(dry_run=True, max_steps=4, model_error_retries=10),
            )
            run = list(agent.run(task, CancelToken()))
            steps += run[:-1] if run[-1].error.startswith("stopped after") else run
    assert len(steps) >= 3
    for step in steps:
        assert step.raw_output, step
        data = json.loads(step.raw_output)  # always complete, valid JSON
        assert data["kind"] in KINDS and "thought" in data
        if step.status == "model_error":  # only values can be wrong (ranges, key names), never the shape
            shape_errors = [
                "not valid JSON",
                "unknown action kind",
                "one JSON object",
                "Field required",
                "Extra inputs",
            ]
            assert not any(e in step.error for e in shape_errors), step.error
