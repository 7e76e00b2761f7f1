"""Tiny random-weight GGUF files that real llama.cpp loads and runs in milliseconds.

* :func:`write_nemotron_h_moe` — a ``nemotron_h_moe`` text model with a Mamba-2 / attention / MoE layer
  pattern, a SentencePiece-style byte vocabulary and the Nemotron 3 Nano chat template;
* :func:`write_mmproj` — a ``clip`` mmproj with a ``nemotron_v2_vl`` vision encoder and (optionally) a
  ``parakeet`` audio encoder;
* :func:`write_llama` — a plain ``llama`` model (for wrong-architecture tests).

Numpy shapes are the reverse of ggml's ``ne``. Weights are small random numbers from a fixed seed, so
outputs are deterministic for a given sampler seed.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import gguf
import numpy as np

__all__ = [
    "VOCAB",
    "BenchSize",
    "TextSize",
    "chat_template",
    "write_llama",
    "write_mmproj",
    "write_nemotron_h_moe",
]

_TOKEN_NORMAL = 1
_TOKEN_UNKNOWN = 2
_TOKEN_CONTROL = 3
_TOKEN_USER_DEFINED = 4
_TOKEN_BYTE = 6


def _vocab() -> tuple[list[str], list[int]]:
    tokens = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
    types = [_TOKEN_UNKNOWN, _TOKEN_CONTROL, _TOKEN_CONTROL, _TOKEN_CONTROL, _TOKEN_CONTROL]
    types += [_TOKEN_USER_DEFINED, _TOKEN_USER_DEFINED]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [_TOKEN_BYTE] * 256
    pieces = ["▁"] + [c for c in string.printable if c not in string.whitespace]
    pieces += ["▁" + c for c in string.ascii_letters] + ['{"', '":', '",', '"}']
    # Non-ASCII and JSON escapes as single tokens, so constrained strings can be full of them.
    pieces += ["é", "ü", "ß", "中", "文", "—", "🙂", "\\n", '\\"', "\\u00e9", "\\\\"]
    tokens += pieces
    types += [_TOKEN_NORMAL] * len(pieces)
    return tokens, types


VOCAB = _vocab()
IM_END = 4


def chat_template() -> str:
    """The Nemotron 3 Nano chat template shipped in ``assets/templates``."""
    return resources.files("omnidesk.assets").joinpath("templates/nemotron-3-nano.jinja").read_text(encoding="utf-8")


def _add_vocab(writer: gguf.GGUFWriter, template: str | None) -> None:
    tokens, types = VOCAB
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_scores([0.0 if t != _TOKEN_NORMAL else -float(i) / 1000 for i, t in enumerate(types)])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(IM_END)
    writer.add_unk_token_id(0)
    writer.add_pad_token_id(2)
    writer.add_add_bos_token(False)
    writer.add_add_eos_token(False)
    if template is not None:
        writer.add_chat_template(template)


class _Weights:
    def __init__(self, writer: gguf.GGUFWriter, seed: int, scale: float = 0.2) -> None:
        self._writer = writer
        self._rng = np.random.default_rng(seed)
        self._scale = scale

    def rand(self, name: str, *shape: int, scale: float | None = None) -> None:
        data = self._rng.standard_normal(shape).astype(np.float32) * (scale or self._scale)
        self._writer.add_tensor(name, data)

    def ones(self, name: str, *shape: int) -> None:
        self._writer.add_tensor(name, np.ones(shape, dtype=np.float32))

    def const(self, name: str, value: float, *shape: int) -> None:
        self._writer.add_tensor(name, np.full(shape, value, dtype=np.float32))


@dataclass(frozen=True, slots=True)
class TextSize:
    """Dimensions of the generated text model (defaults: tiny; see :class:`BenchSize`)."""

    n_embd: int = 64
    pattern: str = "MAE"  # M = Mamba-2, A = attention, E = MoE experts
    n_head: int = 4
    n_head_kv: int = 2
    head_dim: int = 16
    d_inner: int = 128
    d_state: int = 16
    n_group: int = 2
    ssm_heads: int = 8
    d_conv: int = 4
    n_expert: int = 8
    n_expert_used: int = 2
    n_ff_exp: int = 32
    n_ff_shexp: int = 48
    context_length: int = 4096


BenchSize = TextSize(
    n_embd=1024,
    pattern="MEMEMAME",
    n_head=8,
    n_head_kv=2,
    head_dim=128,
    d_inner=2048,
    d_state=64,
    n_group=8,
    ssm_heads=32,
    n_expert=16,
    n_expert_used=4,
    n_ff_exp=512,
    n_ff_shexp=1024,
    context_length=8192,
)


def write_nemotron_h_moe(
    path: Path, *, size: TextSize = TextSize(), template: str | None = None, seed: int = 1
) -> Path:
    """Write a random ``nemotron_h_moe`` model; ``template`` defaults to the Nemotron 3 Nano one."""
    arch = "nemotron_h_moe"
    s = size
    n_vocab = len(VOCAB[0])
    n_layer = len(s.pattern)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name("omnidesk-tiny-nemotron-h-moe")
    writer.add_context_length(s.context_length)
    writer.add_embedding_length(s.n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length([s.n_ff_exp if k == "E" else 0 for k in s.pattern])
    writer.add_head_count(s.n_head)
    writer.add_head_count_kv([s.n_head_kv if k == "A" else 0 for k in s.pattern])
    writer.add_key_length(s.head_dim)
    writer.add_value_length(s.head_dim)
    writer.add_layer_norm_eps(1e-5)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_ssm_conv_kernel(s.d_conv)
    writer.add_ssm_inner_size(s.d_inner)
    writer.add_ssm_state_size(s.d_state)
    writer.add_ssm_time_step_rank(s.ssm_heads)
    writer.add_ssm_group_count(s.n_group)
    writer.add_expert_count(s.n_expert)
    writer.add_expert_used_count(s.n_expert_used)
    writer.add_expert_feed_forward_length(s.n_ff_exp)
    writer.add_expert_shared_feed_forward_length(s.n_ff_shexp)
    writer.add_expert_shared_count(1)
    writer.add_expert_weights_norm(True)
    writer.add_expert_weights_scale(1.0)
    writer.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    _add_vocab(writer, chat_template() if template is None else template)

    w = _Weights(writer, seed)
    w.rand("token_embd.weight", n_vocab, s.n_embd, scale=1.0)
    w.ones("output_norm.weight", s.n_embd)
    w.rand("output.weight", n_vocab, s.n_embd)
    conv_dim = s.d_inner + 2 * s.n_group * s.d_state
    d_in_proj = 2 * s.d_inner + 2 * s.n_group * s.d_state + s.ssm_heads
    for i, kind in enumerate(s.pattern):
        p = f"blk.{i}"
        w.ones(f"{p}.attn_norm.weight", s.n_embd)
        if kind == "M":
            w.rand(f"{p}.ssm_in.weight", d_in_proj, s.n_embd)
            w.rand(f"{p}.ssm_conv1d.weight", conv_dim, s.d_conv)
            w.rand(f"{p}.ssm_conv1d.bias", conv_dim)
            w.rand(f"{p}.ssm_dt.bias", s.ssm_heads)
            w.const(f"{p}.ssm_a", -1.0, s.ssm_heads, 1)
            w.ones(f"{p}.ssm_d", s.ssm_heads, 1)
            w.ones(f"{p}.ssm_norm.weight", s.n_group, s.d_inner // s.n_group)
            w.rand(f"{p}.ssm_out.weight", s.n_embd, s.d_inner)
        elif kind == "A":
            w.rand(f"{p}.attn_q.weight", s.n_head * s.head_dim, s.n_embd)
            w.rand(f"{p}.attn_k.weight", s.n_head_kv * s.head_dim, s.n_embd)
            w.rand(f"{p}.attn_v.weight", s.n_head_kv * s.head_dim, s.n_embd)
            w.rand(f"{p}.attn_output.weight", s.n_embd, s.n_head * s.head_dim)
        else:
            w.rand(f"{p}.ffn_gate_inp.weight", s.n_expert, s.n_embd)
            w.rand(f"{p}.exp_probs_b.bias", s.n_expert)
            w.rand(f"{p}.ffn_up_exps.weight", s.n_expert, s.n_ff_exp, s.n_embd)
            w.rand(f"{p}.ffn_down_exps.weight", s.n_expert, s.n_embd, s.n_ff_exp)
            w.rand(f"{p}.ffn_up_shexp.weight", s.n_ff_shexp, s.n_embd)
            w.rand(f"{p}.ffn_down_shexp.weight", s.n_embd, s.n_ff_shexp)
    _finish(writer)
    return path


def write_llama(path: Path, *, seed: int = 2) -> Path:
    """Write a tiny random ``llama`` model (a valid GGUF of the wrong architecture for Omnidesk)."""
    n_embd, n_ff, n_head = 64, 128, 4
    n_vocab = len(VOCAB[0])
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("omnidesk-tiny-llama")
    writer.add_context_length(512)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(2)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head)
    writer.add_rope_dimension_count(n_embd // n_head)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    _add_vocab(writer, chat_template())
    w = _Weights(writer, seed)
    w.rand("token_embd.weight", n_vocab, n_embd, scale=1.0)
    w.ones("output_norm.weight", n_embd)
    w.rand("output.weight", n_vocab, n_embd)
    for i in range(2):
        p = f"blk.{i}"
        w.ones(f"{p}.attn_norm.weight", n_embd)
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            w.rand(f"{p}.{name}.weight", n_embd, n_embd)
        w.ones(f"{p}.ffn_norm.weight", n_embd)
        w.rand(f"{p}.ffn_gate.weight", n_ff, n_embd)
        w.rand(f"{p}.ffn_up.weight", n_ff, n_embd)
        w.rand(f"{p}.ffn_down.weight", n_embd, n_ff)
    _finish(writer)
    return path


def write_mmproj(
    path: Path,
    *,
    text_embd: int = 64,
    image_size: int = 32,
    audio: bool = True,
    vision: bool = True,
    patch_size: int = 8,
    seed: int = 3,
) -> Path:
    """Write a random ``clip`` mmproj: ``nemotron_v2_vl`` vision and ``parakeet`` audio encoders.

    The published mmproj has ``image_size`` 512 and ``patch_size`` 16 (256 tokens per image); the default
    tiny one 32 and 8 (4 tokens).
    """
    writer = gguf.GGUFWriter(str(path), "clip")
    writer.add_name("omnidesk-tiny-mmproj")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_bool("clip.has_vision_encoder", vision)
    writer.add_bool("clip.has_audio_encoder", audio)
    writer.add_bool("clip.has_text_encoder", False)
    w = _Weights(writer, seed, scale=0.05)
    if vision:
        _add_vision(writer, w, text_embd=text_embd, image_size=image_size, patch=patch_size)
    if audio:
        _add_audio(writer, w, text_embd=text_embd)
    _finish(writer)
    return path


def _add_vision(writer: gguf.GGUFWriter, w: _Weights, *, text_embd: int, image_size: int, patch: int) -> None:
    c, ff, n_layer, n_registers = 32, 64, 1, 2
    writer.add_string("clip.vision.projector_type", "nemotron_v2_vl")
    writer.add_uint32("clip.vision.image_size", image_size)
    writer.add_uint32("clip.vision.patch_size", patch)
    writer.add_uint32("clip.vision.embedding_length", c)
    writer.add_uint32("clip.vision.feed_forward_length", ff)
    writer.add_uint32("clip.vision.block_count", n_layer)
    writer.add_uint32("clip.vision.projection_dim", text_embd)
    writer.add_uint32("clip.vision.attention.head_count", 2)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    writer.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    writer.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])
    writer.add_uint32("clip.vision.projector.scale_factor", 2)
    n_patches = (image_size // patch) ** 2
    w.rand("v.patch_embd.weight", c, 3, patch, patch)
    w.rand("v.position_embd.weight", n_patches, c)
    w.rand("v.class_embd", n_registers, c)
    for i in range(n_layer):
        p = f"v.blk.{i}"
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            w.rand(f"{p}.{name}.weight", c, c)
            w.rand(f"{p}.{name}.bias", c)
        for name in ("ln1", "ln2"):
            w.ones(f"{p}.{name}.weight", c)
            w.const(f"{p}.{name}.bias", 0.0, c)
        w.rand(f"{p}.ffn_up.weight", ff, c)
        w.rand(f"{p}.ffn_up.bias", ff)
        w.rand(f"{p}.ffn_down.weight", c, ff)
        w.rand(f"{p}.ffn_down.bias", c)
    merged = c * 4
    w.ones("mm.model.mlp.0.weight", merged)
    w.rand("mm.model.mlp.1.weight", merged, merged)
    w.rand("mm.model.mlp.3.weight", text_embd, merged)


def _add_audio(writer: gguf.GGUFWriter, w: _Weights, *, text_embd: int) -> None:
    d, ff, n_layer, n_mel, chan, kernel = 32, 64, 1, 128, 8, 9
    writer.add_string("clip.audio.projector_type", "parakeet")
    writer.add_uint32("clip.audio.num_mel_bins", n_mel)
    writer.add_uint32("clip.audio.embedding_length", d)
    writer.add_uint32("clip.audio.feed_forward_length", ff)
    writer.add_uint32("clip.audio.block_count", n_layer)
    writer.add_uint32("clip.audio.projection_dim", text_embd)
    writer.add_uint32("clip.audio.attention.head_count", 2)
    writer.add_float32("clip.audio.attention.layer_norm_epsilon", 1e-5)
    writer.add_uint32("clip.audio.subsampling_factor", 8)
    writer.add_uint32("clip.audio.conv_kernel_size", kernel)
    n_fft = 512
    w.rand("a.mel_filters", n_mel, n_fft // 2 + 1, scale=0.01)
    w.ones("a.window", 400)
    w.rand("a.conv1d.0.weight", chan, 1, 3, 3)
    w.rand("a.conv1d.0.bias", chan)
    w.rand("a.conv1d.2.weight", chan, 1, 3, 3)
    w.rand("a.conv1d.2.bias", chan)
    w.rand("a.conv1d.3.weight", chan, chan, 1, 1)
    w.rand("a.conv1d.3.bias", chan)
    w.rand("a.conv1d.5.weight", chan, 1, 3, 3)
    w.rand("a.conv1d.5.bias", chan)
    w.rand("a.conv1d.6.weight", chan, chan, 1, 1)
    w.rand("a.conv1d.6.bias", chan)
    w.rand("a.pre_encode.out.weight", d, chan * (n_mel // 8))
    w.rand("a.pre_encode.out.bias", d)
    n_head = 2
    for i in range(n_layer):
        p = f"a.blk.{i}"
        for norm in ("ffn_norm", "ln1", "norm_conv", "ffn_norm_1", "ln2", "conv_norm"):
            w.ones(f"{p}.{norm}.weight", d)
            w.const(f"{p}.{norm}.bias", 0.0, d)
        w.const(f"{p}.conv_norm_mean", 0.0, d)
        w.ones(f"{p}.conv_norm_var", d)
        for up, down in (("ffn_up", "ffn_down"), ("ffn_up_1", "ffn_down_1")):
            w.rand(f"{p}.{up}.weight", ff, d)
            w.rand(f"{p}.{down}.weight", d, ff)
        for name in ("attn_q", "attn_k", "attn_v", "attn_out", "linear_pos"):
            w.rand(f"{p}.{name}.weight", d, d)
        w.rand(f"{p}.pos_bias_u", n_head, d // n_head)
        w.rand(f"{p}.pos_bias_v", n_head, d // n_head)
        w.rand(f"{p}.conv_pw1.weight", 2 * d, d)
        w.rand(f"{p}.conv_dw.weight", d, kernel)
        w.rand(f"{p}.conv_pw2.weight", d, d)
    w.ones("mm.a.norm_pre.weight", d)
    w.rand("mm.a.mlp.1.weight", 2 * d, d)
    w.rand("mm.a.mlp.1.bias", 2 * d)
    w.rand("mm.a.mlp.2.weight", text_embd, 2 * d)
    w.rand("mm.a.mlp.2.bias", text_embd)


def _finish(writer: gguf.GGUFWriter) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
