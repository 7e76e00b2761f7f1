"""The omni session on a real llama.cpp with the tiny random-weight Nemotron-H MoE + omni mmproj."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from omnidesk.agent.errors import ModelCapabilityError, ModelError
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import (
    AudioClip,
    AudioPart,
    CachePoint,
    CancelToken,
    ChatMessage,
    Frame,
    ImagePart,
    ModelRequest,
    TextPart,
    TokenDelta,
)
from omnidesk.runtime.images import overview_image
from omnidesk.runtime.llama.session import OmniSession, SessionProfile
from tests.models.plugin import TinyModel

pytestmark = pytest.mark.model
log = logging.getLogger(__name__)

SYSTEM = ChatMessage.text("system", "You operate a computer. Answer with one action.")


@pytest.fixture(scope="module")
def session(tiny_omni: TinyModel) -> Iterator[OmniSession]:
    with OmniSession.open(tiny_omni.model, tiny_omni.mmproj, n_ctx=8192, n_ubatch=16) as s:
        yield s


def _fresh(tiny: TinyModel) -> OmniSession:
    return OmniSession.open(tiny.model, tiny.mmproj, n_ctx=8192, n_ubatch=16)


def _image(seed: int, *, label: bool = True) -> ImagePart:
    pixels = np.random.default_rng(seed).integers(0, 255, (720, 1280, 4), dtype=np.uint8)
    frame = Frame(pixels, 1.0, MonitorInfo(1, "DUMMY0", Rect(0, 0, 1280, 720)))
    image = overview_image(frame, 32)
    return ImagePart(image if label else replace(image, label=""))


def _audio(seconds: float) -> AudioPart:
    n = int(16000 * seconds)
    samples = (np.sin(np.arange(n) * 2 * np.pi * 440 / 16000) * 0.3).astype(np.float32)
    return AudioPart(AudioClip(samples, 16000, 0.0, seconds))


def _step(history: str, *parts: TextPart | ImagePart | AudioPart, **kw: object) -> ModelRequest:
    user = ChatMessage("user", (TextPart(history), CachePoint(), *parts, TextPart("What next?")))
    return ModelRequest((SYSTEM, user), **kw)  # type: ignore[arg-type]


def test_streams_reasoning_then_answer(session: OmniSession) -> None:
    deltas: list[TokenDelta] = []
    reply = session.generate(_step("task: open the menu\n", max_tokens=24, seed=7), on_token=deltas.append)
    assert reply.completion_tokens == 24 and reply.stop_reason == "length"
    assert deltas and deltas[0].channel == "reasoning"  # thinking is on by default
    assert "".join(d.text for d in deltas if d.channel == "reasoning").strip() == reply.reasoning
    assert "".join(d.text for d in deltas if d.channel == "answer").strip() == reply.text
    assert reply.prefill_seconds > 0 and reply.decode_seconds > 0
    assert session.capabilities.vision and session.capabilities.audio
    assert session.capabilities.image_size == 32  # the mmproj's fixed canvas


def test_thinking_switch(session: OmniSession) -> None:
    for thinking, first_channel in ((True, "reasoning"), (False, "answer")):
        deltas: list[TokenDelta] = []
        request = _step("task: a\n", max_tokens=8, seed=2, enable_thinking=thinking)
        session.generate(request, on_token=deltas.append)
        assert deltas[0].channel == first_channel


def test_same_seed_same_tokens_across_sessions(session: OmniSession, tiny_omni: TinyModel) -> None:
    request = _step("task: type hello\n", _image(1), max_tokens=16, seed=42, temperature=1.0)
    first = session.generate(request)
    with _fresh(tiny_omni) as other:
        second = other.generate(request)
    assert (first.text, first.reasoning) == (second.text, second.reasoning)
    different = session.generate(_step("task: type hello\n", _image(1), max_tokens=16, seed=43, temperature=1.0))
    assert (different.text, different.reasoning) != (first.text, first.reasoning)


def test_media_chunks_add_tokens(session: OmniSession) -> None:
    base = session.generate(_step("task: listen\n", max_tokens=1, seed=1)).prompt_tokens
    one_image = session.generate(_step("task: listen\n", _image(2), max_tokens=1, seed=1)).prompt_tokens
    one_s = session.generate(_step("task: listen\n", _audio(1.0), max_tokens=1, seed=1)).prompt_tokens
    two_s = session.generate(_step("task: listen\n", _audio(2.0), max_tokens=1, seed=1)).prompt_tokens
    # A 32x32 image is 4 tokens (its label is not injected); audio is about 12.5 tokens per second.
    assert one_image - base == 4
    assert 10 <= one_s - base <= 16
    assert 22 <= two_s - base <= 29


def test_vision_only_mmproj_refuses_audio_but_sees(tiny_omni_vision_only: TinyModel) -> None:
    with OmniSession.open(tiny_omni_vision_only.model, tiny_omni_vision_only.mmproj, n_ctx=1024) as s:
        assert s.capabilities.vision and not s.capabilities.audio
        reply = s.generate(_step("task: look\n", _image(3), max_tokens=2, seed=1))
        assert reply.images_encoded == 1
        with pytest.raises(ModelCapabilityError, match="no audio encoder"):
            s.generate(_step("task: listen\n", _audio(1.0), max_tokens=2, seed=1))


def test_prefix_state_is_reused_and_matches_a_fresh_evaluation(tiny_omni: TinyModel) -> None:
    history_1 = "task: open settings\n# Step 1:\nclicked the gear\n"
    history_2 = history_1 + "# Step 2:\nopened the menu\n"
    shot_1, shot_2 = _image(10), _image(11)
    step_1 = _step(history_1, shot_1, max_tokens=12, seed=5, temperature=1.0)
    step_2 = _step(history_2, shot_1, shot_2, max_tokens=12, seed=5, temperature=1.0)
    with _fresh(tiny_omni) as warm, _fresh(tiny_omni) as cold:
        first = warm.generate(step_1)
        assert first.reused_tokens == 0 and first.images_encoded == 1
        second = warm.generate(step_2)
        scratch = cold.generate(step_2)
        assert second.reused_tokens > 0
        assert second.reused_tokens < second.prompt_tokens == scratch.prompt_tokens
        # shot_1 comes from the embedding cache, shot_2 is new.
        assert (second.images_encoded, second.images_from_cache) == (1, 1)
        assert (second.text, second.reasoning) == (scratch.text, scratch.reasoning)
        # Logits after the prompt agree too (greedy one-token requests leave them in place).
        warm.generate(_step(history_2, shot_1, shot_2, max_tokens=1, top_k=1))
        cold.generate(_step(history_2, shot_1, shot_2, max_tokens=1, top_k=1))
        np.testing.assert_allclose(warm.last_logits(), cold.last_logits(), rtol=1e-4, atol=1e-4)


def test_the_same_prompt_again_samples_its_first_token_from_the_saved_logits(tiny_omni: TinyModel) -> None:
    request = _step("task: open settings\n", _image(12), max_tokens=12, seed=7, temperature=1.0)
    with _fresh(tiny_omni) as s:
        first = s.generate(request)
        again = s.generate(request)
    # The whole prompt comes back from the state saved after it (nothing evaluated, no image encoded), and the
    # seeded sampler draws the same answer from the saved logits as it did from the context's.
    assert first.reused_tokens == 0 and again.reused_tokens == again.prompt_tokens == first.prompt_tokens
    assert (again.images_encoded, again.images_from_cache) == (0, 0)
    assert (again.text, again.reasoning, again.completion_tokens) == (
        first.text,
        first.reasoning,
        first.completion_tokens,
    )


def _cancel_after(token: CancelToken, seconds: float, stamp: list[float]) -> threading.Timer:
    def fire() -> None:
        stamp.append(time.perf_counter())
        token.cancel()

    timer = threading.Timer(seconds, fire)
    timer.start()
    return timer


def test_cancel_mid_prefill_returns_promptly_and_session_recovers(tiny_omni: TinyModel) -> None:
    long_history = "task: read everything\n" + "line of history text\n" * 280  # ~6000 tokens
    request = _step(long_history, max_tokens=8, seed=9, temperature=1.0)
    with _fresh(tiny_omni) as s, _fresh(tiny_omni) as reference:
        token = CancelToken()
        stamp: list[float] = []
        timer = _cancel_after(token, 0.1, stamp)
        reply = s.generate(request, cancel=token)
        returned = time.perf_counter()
        timer.join()
        assert reply.stop_reason == "cancelled" and reply.completion_tokens == 0
        latency = returned - stamp[0]
        log.info("stop latency during prefill: %.3f s", latency)
        print(f"stop latency during prefill: {latency:.3f} s")
        assert latency <= 1.0
        short = _step("task: after the stop\n", max_tokens=10, seed=4, temperature=1.0)
        again = s.generate(short)
        expected = reference.generate(short)
        assert again.stop_reason == "length"
        assert (again.text, again.reasoning) == (expected.text, expected.reasoning)


def test_cancel_mid_decode_returns_promptly_and_session_recovers(tiny_omni: TinyModel) -> None:
    history = "task: write a long answer\n"
    with _fresh(tiny_omni) as s, _fresh(tiny_omni) as reference:
        token = CancelToken()
        seen: list[TokenDelta] = []
        stamp: list[float] = []

        def on_token(delta: TokenDelta) -> None:
            seen.append(delta)
            if len(seen) == 5:
                stamp.append(time.perf_counter())
                token.cancel()

        reply = s.generate(_step(history, max_tokens=500, seed=3), on_token=on_token, cancel=token)
        latency = time.perf_counter() - stamp[0]
        log.info("stop latency during decode: %.3f s", latency)
        print(f"stop latency during decode: {latency:.3f} s")
        assert reply.stop_reason == "cancelled" and 5 <= reply.completion_tokens < 500
        assert latency <= 1.0
        follow = _step(history + "# Step 1:\nstopped\n", max_tokens=10, seed=8, temperature=1.0)
        again = s.generate(follow)
        assert again.reused_tokens > 0  # the last good snapshot (the step-1 prefix) was kept
        expected = reference.generate(follow)
        assert (again.text, again.reasoning) == (expected.text, expected.reasoning)


def test_full_context_ends_with_length(tiny_omni: TinyModel) -> None:
    with OmniSession.open(tiny_omni.model, None, n_ctx=128) as s:
        reply = s.generate(ModelRequest((ChatMessage.text("user", "x" * 40),), max_tokens=500, seed=1))
        assert reply.stop_reason == "length" and reply.prompt_tokens + reply.completion_tokens <= 129
        with pytest.raises(ModelError, match="context"):
            s.generate(ModelRequest((ChatMessage.text("user", "y" * 400),), max_tokens=5))
        again = s.generate(ModelRequest((ChatMessage.text("user", "z"),), max_tokens=3, seed=1))
        assert again.stop_reason in ("stop", "length") and again.completion_tokens >= 1


def test_capabilities_say_how_the_engine_sizes_images(session: OmniSession, tiny_qwen3: TinyModel) -> None:
    canvas = session.capabilities.image_canvas
    assert canvas is not None and (canvas.kind, canvas.side, canvas.projector) == ("fixed", 32, "nemotron_v2_vl")
    view = canvas.view(1920, 1080)  # a whole screenshot is letterboxed onto the fixed canvas
    assert (view.tokens, view.content) == (4, Rect(0, 7, 32, 18)) and view.letterboxed
    assert session.capabilities.pointing_reference == "canvas"
    profile = SessionProfile(architectures=("qwen3vl",))
    with OmniSession.open(tiny_qwen3.model, tiny_qwen3.mmproj, profile=profile, n_ctx=4096) as qwen:
        caps = qwen.capabilities
        assert caps.image_size is None  # not the mmproj's image_size (768): a placeholder nothing sizes by
        assert caps.image_canvas is not None and caps.image_canvas.factor == 32
        total, media = qwen.count_tokens(ModelRequest((ChatMessage("user", (_screen(1280, 720),)),)))
        assert media == [caps.image_canvas.view(1280, 720).tokens] == [920] and total > 920


def _screen(width: int, height: int, seed: int = 0) -> ImagePart:
    from tests.models.parity import screenshot

    return screenshot(width, height, seed)


def _window_requests(n_steps: int, *, width: int = 320, height: int = 180) -> list[ModelRequest]:
    """Steps of the trained computer-use layout: the last 3 screenshots, each first in its own user turn,
    earlier steps as text in the oldest turn that still has an image (what a sliding window does)."""
    shots = [_screen(width, height, seed) for seed in range(n_steps)]
    requests = []
    for step in range(n_steps):
        first = max(0, step - 2)
        older = "".join(f"# Step {i + 1}:\n## Action:\nclick {i}\n" for i in range(first))
        messages: list[ChatMessage] = [SYSTEM]
        for i in range(first, step + 1):
            text = "# Task Instruction:\nopen settings\n" + (older if i == first else "") + f"Step {i + 1}.\n"
            messages.append(ChatMessage("user", (shots[i], TextPart(text))))
            if i < step:
                messages.append(ChatMessage.text("assistant", f"## Action:\nclick {i}\n"))
        requests.append(ModelRequest(tuple(messages), max_tokens=1, top_k=1, enable_thinking=False))
    return requests


@pytest.mark.parametrize("fixture", ["tiny_omni", "tiny_qwen3"])
def test_sliding_window_reuses_what_it_shares_and_matches_a_fresh_evaluation(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    tiny: TinyModel = request.getfixturevalue(fixture)
    profile = SessionProfile(architectures=(tiny.architecture,))
    steps = _window_requests(6)
    with OmniSession.open(tiny.model, tiny.mmproj, profile=profile, n_ctx=8192) as warm:
        replies = [warm.generate(step) for step in steps]
        with OmniSession.open(tiny.model, tiny.mmproj, profile=profile, n_ctx=8192) as cold:
            scratch = cold.generate(steps[-1])
            np.testing.assert_allclose(warm.last_logits(), cold.last_logits(), rtol=1e-4, atol=1e-4)
    # Each screenshot is encoded once. Steps 2 and 3 reuse the earlier images with the prefix they are in;
    # once the window slides, the two kept screenshots come from the embedding cache.
    assert [r.images_encoded for r in replies] == [1] * 6
    assert [r.images_from_cache for r in replies] == [0, 0, 0, 2, 2, 2]
    # Steps 2 and 3 extend the previous prompt; from step 4 the window slides and the first turn changes:
    # the system prompt (and the turn header) is all that is shared, and it is reused (for the hybrid
    # model from a state saved at the end of the system prompt on step 1).
    assert replies[1].reused_tokens > replies[0].prompt_tokens // 2
    for reply in replies[3:]:
        assert 0 < reply.reused_tokens < reply.prompt_tokens // 2
    assert replies[-1].prompt_tokens == scratch.prompt_tokens and scratch.reused_tokens == 0


def test_reasoning_budget_closes_the_thought_and_the_answer_follows(tiny_omni: TinyModel) -> None:
    request = _step("task: think hard\n", max_tokens=40, seed=3, temperature=1.0, reasoning_budget=6)
    with _fresh(tiny_omni) as s:
        deltas: list[TokenDelta] = []
        reply = s.generate(request, on_token=deltas.append)
        unbounded = s.generate(replace(request, reasoning_budget=None))
    channels = [d.channel for d in deltas]
    assert channels[0] == "reasoning" and "answer" in channels
    assert channels.index("answer") == len(channels) - channels[::-1].index("reasoning")  # one switch
    assert reply.reasoning and reply.completion_tokens > 6
    # Without a budget the random model keeps "thinking" for all 40 tokens.
    assert not unbounded.text and unbounded.completion_tokens == 40


def test_zero_budget_means_no_thought_and_budgets_fit_the_context(tiny_omni: TinyModel) -> None:
    with OmniSession.open(tiny_omni.model, tiny_omni.mmproj, n_ctx=512) as s:
        zero = s.generate(_step("task: act\n", max_tokens=12, seed=1, reasoning_budget=0))
        assert zero.reasoning == "" and zero.completion_tokens == 12
        # A budget larger than the context holds is fitted: the thought is closed before the context runs out.
        big = s.generate(_step("task: act\n", max_tokens=10_000, seed=2, temperature=1.0, reasoning_budget=5000))
        assert big.prompt_tokens + big.completion_tokens <= 512
        assert big.stop_reason == "stop" or big.text


def test_gguf_without_template_uses_the_bundled_one(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tests.models.tiny_gguf import write_nemotron_h_moe

    model = write_nemotron_h_moe(tmp_path / "no-template.gguf", template="")
    caplog.set_level(logging.INFO, logger="omnidesk.runtime.llama.session")
    with OmniSession.open(model, None, n_ctx=512) as s:
        deltas: list[TokenDelta] = []
        reply = s.generate(_step("task: x\n", max_tokens=4, seed=1), on_token=deltas.append)
    assert any("bundled Nemotron 3 Nano template" in r.getMessage() for r in caplog.records)
    assert reply.prompt_tokens > 20 and deltas[0].channel == "reasoning"
