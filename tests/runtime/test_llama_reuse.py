"""Evaluation on the recurrent tiny Nemotron-H: where prefix reuse splits a prompt into llama_decode calls
(``EvalStats.token_batches`` is the seam), that what the snapshots give back matches a fresh evaluation, and
when llama.cpp polls the Python abort callback."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

from omnidesk.runtime.llama.engine import Engine, EngineOptions, EvalStats
from omnidesk.runtime.llama.reuse import PrefixCache
from tests.models.plugin import TinyModel

pytestmark = pytest.mark.model

SYSTEM = "<|im_start|>system\nYou operate a computer. Answer with one action.<|im_end|>\n"
USER = "<|im_start|>user\nOpen the settings and turn the dark theme on.<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def engine(tiny_omni: TinyModel) -> Iterator[Engine]:
    engine = Engine(tiny_omni.model, None, EngineOptions(n_ctx=2048, n_batch=512, n_ubatch=64))
    yield engine
    engine.close()


def _fresh_logits(engine: Engine, tokens: list[int]) -> np.ndarray:
    engine.clear()
    engine.evaluate(list(tokens), 0, logits_last=True, stats=EvalStats())
    return engine.last_logits()


def test_a_cold_prompt_is_split_only_where_a_state_is_saved(engine: Engine) -> None:
    assert engine.keeps_state_only  # the hybrid model: reuse goes through saved states
    cache = PrefixCache(engine, snapshots=True)
    system = engine.text_tokens(SYSTEM)
    prompt = engine.text_tokens(SYSTEM + USER)
    assert prompt[: len(system)] == system and len(prompt) > len(system) + 2
    stats = EvalStats()
    n_past, reused = cache.prefill(prompt, stats, hints=[len(system)])
    # Two calls: to the end of the system turn (saved), then the rest at once, saved with its logits
    # afterwards (the last token is not evaluated alone to save the state before it).
    assert (n_past, reused) == (len(prompt), 0)
    assert stats.token_batches == [len(system), len(prompt) - len(system)]
    first = engine.last_logits()
    np.testing.assert_allclose(first, _fresh_logits(engine, prompt), rtol=1e-5, atol=1e-5)


def test_the_same_prompt_again_evaluates_nothing_and_an_extension_only_its_new_tokens(engine: Engine) -> None:
    cache = PrefixCache(engine, snapshots=True)
    system = engine.text_tokens(SYSTEM)
    prompt = engine.text_tokens(SYSTEM + USER)
    cache.prefill(prompt, EvalStats(), hints=[len(system)])
    expected = engine.last_logits()
    n_past = len(prompt)
    for token in engine.text_tokens("click twice", add_special=False):  # an answer moves the state on
        n_past = engine.evaluate([token], n_past, logits_last=True, stats=EvalStats())
        cache.generated(token)

    again = EvalStats()
    assert cache.prefill(prompt, again, hints=[len(system)]) == (len(prompt), len(prompt))
    assert again.token_batches == []  # restored with the saved logits
    np.testing.assert_array_equal(engine.last_logits(), expected)

    longer = prompt + engine.text_tokens("<|im_start|>user\nNext step.<|im_end|>\n", add_special=False)
    extended = EvalStats()
    assert cache.prefill(longer, extended, hints=[len(system)]) == (len(longer), len(prompt))
    assert extended.token_batches == [len(longer) - len(prompt)]
    got = engine.last_logits()
    np.testing.assert_allclose(got, _fresh_logits(engine, longer), rtol=1e-5, atol=1e-5)


class _CountingEvent(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.polls = 0

    def is_set(self) -> bool:
        self.polls += 1
        return super().is_set()


def test_the_abort_callback_is_polled_inside_batches_and_not_inside_a_one_token_step(engine: Engine) -> None:
    tokens = engine.text_tokens(SYSTEM + USER)
    engine.clear()
    engine.abort = event = _CountingEvent()
    try:
        n_past = engine.evaluate(tokens[:-2], 0, logits_last=True, stats=EvalStats())
        assert event.polls > 0  # a prompt batch can be stopped inside llama.cpp's graph compute
        event.polls = 0
        n_past = engine.evaluate(tokens[-2:-1], n_past, logits_last=True, stats=EvalStats())
        assert event.polls == 1  # a decode step: only evaluate's own check between tokens
        event.polls = 0
        engine.evaluate(tokens[-1:] * 2, n_past, logits_last=True, stats=EvalStats())
        assert event.polls > 1  # polled inside the batch again
    finally:
        engine.abort = threading.Event()
