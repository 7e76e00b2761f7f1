"""The tiny GGUF fixtures really load and run in llama-cpp-python and in xllamacpp's server."""

from __future__ import annotations

import base64
import io
import wave

import gguf
import httpx
import numpy as np
import pytest

from tests.models.llama_server import llama_server
from tests.models.plugin import TinyModel

pytestmark = pytest.mark.model


def _wav_b64(seconds: float = 1.0) -> str:
    sr = 16000
    t = np.arange(int(sr * seconds))
    pcm = (np.sin(t * 2 * np.pi * 440 / sr) * 0.3 * 32767).astype(np.int16)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return base64.b64encode(buf.getvalue()).decode()


def test_text_model_has_the_nemotron_layout(tiny_omni: TinyModel) -> None:
    reader = gguf.GGUFReader(tiny_omni.model)
    arch = reader.fields["general.architecture"]
    assert bytes(arch.parts[arch.data[0]]).decode() == "nemotron_h_moe"
    kv = reader.fields["nemotron_h_moe.attention.head_count_kv"]
    ff = reader.fields["nemotron_h_moe.feed_forward_length"]
    heads = [int(kv.parts[i][0]) for i in kv.data]
    ffn = [int(ff.parts[i][0]) for i in ff.data]
    # Mamba (both 0), attention (kv heads), MoE (ffn length).
    assert heads == [0, 2, 0] and ffn == [0, 0, 32]
    template = reader.fields["tokenizer.chat_template"]
    assert "enable_thinking" in bytes(template.parts[template.data[0]]).decode()


def test_text_model_generates_in_llama_cpp_python(tiny_omni: TinyModel) -> None:
    from llama_cpp import Llama

    llm = Llama(model_path=str(tiny_omni.model), n_ctx=256, verbose=False, seed=1)
    out = llm.create_completion("<|im_start|>user\nhi<|im_end|>\n", max_tokens=8, temperature=0.0)
    assert out["usage"]["completion_tokens"] >= 1
    llm.close()


def _mtmd_caps(model_path: str, mmproj: str) -> tuple[bool, bool, int]:
    import llama_cpp
    from llama_cpp import mtmd_cpp

    model = llama_cpp.llama_model_load_from_file(model_path.encode(), llama_cpp.llama_model_default_params())
    params = mtmd_cpp.mtmd_context_params_default()
    params.use_gpu = False
    params.warmup = False
    params.print_timings = False
    ctx = mtmd_cpp.mtmd_init_from_file(mmproj.encode(), model, params)
    assert ctx, "mtmd refused the tiny mmproj"
    caps = (
        bool(mtmd_cpp.mtmd_support_vision(ctx)),
        bool(mtmd_cpp.mtmd_support_audio(ctx)),
        int(mtmd_cpp.mtmd_get_audio_sample_rate(ctx)),
    )
    mtmd_cpp.mtmd_free(ctx)
    llama_cpp.llama_model_free(model)
    return caps


def test_mmproj_has_vision_and_audio(tiny_omni: TinyModel) -> None:
    assert tiny_omni.mmproj is not None
    assert _mtmd_caps(str(tiny_omni.model), str(tiny_omni.mmproj)) == (True, True, 16000)


def test_vision_only_mmproj_has_no_audio(tiny_omni_vision_only: TinyModel) -> None:
    assert tiny_omni_vision_only.mmproj is not None
    vision, audio, _ = _mtmd_caps(str(tiny_omni_vision_only.model), str(tiny_omni_vision_only.mmproj))
    assert vision and not audio


def test_llama_fixture_is_a_llama(tiny_llama: TinyModel) -> None:
    reader = gguf.GGUFReader(tiny_llama.model)
    arch = reader.fields["general.architecture"]
    assert bytes(arch.parts[arch.data[0]]).decode() == "llama"


def test_xllamacpp_server_answers_with_audio(tiny_omni: TinyModel) -> None:
    with llama_server(tiny_omni.model, tiny_omni.mmproj) as url:
        body = {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What do you hear?"},
                        {"type": "input_audio", "input_audio": {"data": _wav_b64(), "format": "wav"}},
                    ],
                }
            ],
            "max_tokens": 4,
        }
        text_only = {"messages": [{"role": "user", "content": "What do you hear?"}], "max_tokens": 4}
        with httpx.Client(timeout=60) as client:
            with_audio = client.post(f"{url}/v1/chat/completions", json=body).json()
            without = client.post(f"{url}/v1/chat/completions", json=text_only).json()
    # One second of audio adds about 13 media tokens to the prompt.
    grown = with_audio["usage"]["prompt_tokens"] - without["usage"]["prompt_tokens"]
    assert 10 <= grown <= 20, grown


@pytest.mark.parametrize("fixture", ["tiny_qwen25", "tiny_qwen3", "tiny_qwen3_moe"])
def test_qwen_fixtures_see_an_image_in_both_llama_cpp_builds(fixture: str, request: pytest.FixtureRequest) -> None:
    from omnidesk.agent.ports import ChatMessage, ModelRequest, TextPart
    from omnidesk.runtime.llama.session import OmniSession, SessionProfile
    from omnidesk.runtime.remote import encode_messages
    from tests.models.parity import screenshot
    from tests.models.tiny_qwen import qwen_vocab

    tiny: TinyModel = request.getfixturevalue(fixture)
    reader = gguf.GGUFReader(tiny.model)
    arch = reader.fields["general.architecture"]
    assert bytes(arch.parts[arch.data[0]]).decode() == tiny.architecture
    messages = (ChatMessage("user", (screenshot(448, 280, 1), TextPart("What is on the screen?"))),)
    profile = SessionProfile(architectures=(tiny.architecture,))
    with OmniSession.open(tiny.model, tiny.mmproj, profile=profile, n_ctx=2048) as session:
        reply = session.generate(ModelRequest(messages, max_tokens=4, top_k=1, enable_thinking=False))
    assert reply.images_encoded == 1 and reply.completion_tokens >= 1
    with llama_server(tiny.model, tiny.mmproj) as url, httpx.Client(timeout=60) as client:
        body = {"messages": encode_messages(messages), "max_tokens": 4}
        answer = client.post(f"{url}/v1/chat/completions", json=body).raise_for_status().json()
    # Both builds put <|vision_start|> … <|vision_end|> around the same image tokens.
    assert answer["usage"]["prompt_tokens"] == reply.prompt_tokens
    assert "<|vision_start|>" in qwen_vocab()[0]
