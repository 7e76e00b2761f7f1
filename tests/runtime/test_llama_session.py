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
from omnidesk.runtime.llama.session import OmniSession
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
    assert session.capabilities.image_size == 32


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


def test_non_square_image_is_flagged(tiny_omni: TinyModel, caplog: pytest.LogCaptureFixture) -> None:
    image = _image(4).image
    wide = replace(image, pixels=np.zeros((32, 48, 3), dtype=np.uint8), content_hash="")
    with _fresh(tiny_omni) as s:
        s.generate(_step("task: look\n", ImagePart(image), max_tokens=1, seed=1))
        assert not [r for r in caplog.records if r.levelname == "WARNING"]
        s.generate(_step("task: look\n", ImagePart(wide), max_tokens=1, seed=1))
    assert any("48x32" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


def test_gguf_without_template_uses_the_bundled_one(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tests.models.tiny_gguf import write_nemotron_h_moe

    model = write_nemotron_h_moe(tmp_path / "no-template.gguf", template="")
    caplog.set_level(logging.INFO, logger="omnidesk.runtime.llama.session")
    with OmniSession.open(model, None, n_ctx=512) as s:
        deltas: list[TokenDelta] = []
        reply = s.generate(_step("task: x\n", max_tokens=4, seed=1), on_token=deltas.append)
    assert any("bundled Nemotron 3 Nano template" in r.getMessage() for r in caplog.records)
    assert reply.prompt_tokens > 20 and deltas[0].channel == "reasoning"
