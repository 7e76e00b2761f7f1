"""Grammar-constrained JSON: the fixed string rule keeps every output strictly parseable.

200 generations at temperature 1.0 from the tiny random model, biased towards quotes, escapes and
non-ASCII characters, constrained by the agent's real action schema: all parse with strict
``json.loads``. The same seeds through llama-cpp-python's unpatched converter produce at least one
failure (raw control characters inside strings), so this test is known to bite.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest

from omnidesk.runtime.llama.engine import Engine, EngineOptions, EvalStats
from omnidesk.runtime.llama.grammar import schema_to_gbnf
from omnidesk.runtime.llama.prompt import RenderedPrompt
from omnidesk.runtime.llama.sampling import SamplerParams, build_sampler
from tests.models.plugin import TinyModel
from tests.models.tiny_gguf import VOCAB

pytestmark = pytest.mark.model

N_RUNS = 200
MAX_TOKENS = 400


def _action_schema() -> dict[str, Any]:
    text = resources.files("omnidesk.assets").joinpath("grammars/action.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _bias() -> dict[int, float]:
    tokens = VOCAB[0]
    bias = {tokens.index('"'): 4.0}
    for piece in ("é", "ü", "中", "🙂", "—", "\\n", '\\"', "\\u00e9", "\\\\", "\\"):
        bias[tokens.index(piece)] = 2.0
    return bias


class _Generator:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        text = "<|im_start|>user\nAct.<|im_end|>\n<|im_start|>assistant\n"
        with engine.tokenize(RenderedPrompt(text)) as prompt:
            tokens = [t for t in prompt.items if isinstance(t, int)]
        engine.clear()
        self.n_past = engine.evaluate(tokens[:-1], 0, logits_last=False, stats=EvalStats())
        self.last = tokens[-1]
        self.state = engine.save_state()

    def run(self, grammar: str, seed: int) -> tuple[bytes, bool]:
        """Returns the output bytes and whether the grammar completed (end of generation)."""
        import llama_cpp

        engine = self.engine
        engine.restore_state(self.state)
        stats = EvalStats()
        n_past = engine.evaluate([self.last], self.n_past, logits_last=True, stats=stats)
        params = SamplerParams(temperature=1.0, top_p=1.0, top_k=0, seed=seed)
        sampler = build_sampler(engine.vocab, params, grammar, logit_bias=_bias())
        out = b""
        try:
            for _ in range(MAX_TOKENS):
                token = engine.sample(sampler)
                if engine.is_eog(token):
                    return out, True
                out += engine.piece(token)
                n_past = engine.evaluate([token], n_past, logits_last=True, stats=stats)
        finally:
            llama_cpp.llama_sampler_free(sampler)
        return out, False


@pytest.fixture(scope="module")
def generator(tiny_omni: TinyModel) -> Iterator[_Generator]:
    engine = Engine(tiny_omni.model, None, EngineOptions(n_ctx=512, n_batch=64, n_ubatch=64))
    yield _Generator(engine)
    engine.close()


def _strict_parse(out: bytes) -> Any:
    # Decoded as the session decodes model output (invalid UTF-8 becomes U+FFFD), then parsed strictly.
    return json.loads(out.decode("utf-8", errors="replace"))


def test_fixed_grammar_outputs_always_parse(generator: _Generator) -> None:
    grammar = schema_to_gbnf(_action_schema())
    assert r"\x7F\x00-\x1F" in grammar
    escapes = non_ascii = 0
    for seed in range(N_RUNS):
        out, finished = generator.run(grammar, seed)
        assert finished, f"seed {seed}: the grammar did not complete in {MAX_TOKENS} tokens: {out!r}"
        value = _strict_parse(out)
        assert isinstance(value, dict) and isinstance(value.get("kind"), str), out
        escapes += out.count(b"\\")
        non_ascii += sum(1 for ch in out.decode(errors="replace") if ord(ch) > 127)
    # The outputs really are heavy in escapes and non-ASCII text.
    assert escapes > N_RUNS and non_ascii > N_RUNS


def test_unpatched_converter_lets_control_characters_through(generator: _Generator) -> None:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    grammar = json_schema_to_gbnf(json.dumps(_action_schema()))
    errors: list[str] = []
    for seed in range(N_RUNS):
        out, finished = generator.run(grammar, seed)
        if not finished:
            continue
        try:
            _strict_parse(out)
        except ValueError as exc:
            errors.append(str(exc))
            break
    assert errors and "control character" in errors[0]


def test_the_callers_schema_is_left_untouched_and_reusable() -> None:
    import copy
    import json
    from importlib.resources import files

    from omnidesk.runtime.llama.grammar import schema_to_gbnf

    schema = json.loads(files("omnidesk.assets").joinpath("grammars/action.schema.json").read_text())
    before = copy.deepcopy(schema)
    first = schema_to_gbnf(schema)
    assert schema == before
    assert schema_to_gbnf(schema) == first
