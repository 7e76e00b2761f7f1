"""Tiny random-weight Qwen2.5-VL and Qwen3-VL GGUFs that real llama.cpp loads and runs in milliseconds.

Each is the pair a published model comes as: a text model (``qwen2vl`` for Qwen2.5-VL, ``qwen3vl`` or
``qwen3vlmoe`` for Qwen3-VL, M-RoPE positions) and an mmproj (``qwen2.5vl_merger`` / ``qwen3vl_merger``)
with the tensor names, key names and patch geometry llama.cpp's converter writes for the real models
(``conversion/qwenvl.py``, ``conversion/qwen3vl.py``, ``tools/mtmd/clip.cpp`` and ``models/qwen*vl.cpp`` of
the llama.cpp bundled with llama-cpp-python 0.3.36). Only the widths and depths are small. The tokenizer is
byte-level BPE like Qwen's (``gpt2`` model, ``qwen2`` pre-tokenizer) with Qwen's special tokens, and the chat
templates are the published ones (``templates/``).

What is smaller than the real thing, and why:

* the vision towers have one block (Qwen3-VL's is a deepstack block, so the deepstack path runs) or none
  (Qwen2.5-VL): a 4K screenshot is 16,320 patches, and full attention over them on a CPU would take seconds;
* Qwen2.5-VL's window attention is off (``n_wa_pattern`` 0): its mask is a dense patches² matrix built on the
  host (about 1 GB at 4K); the resize, patch grid, merger and M-RoPE positions are unchanged;
* ``image_size`` keeps the published placeholder values (560 and 768) that libmtmd does not size by.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import gguf

from tests.models.tiny_gguf import _finish, _Weights

__all__ = [
    "QWEN_SPECIALS",
    "QwenKind",
    "qwen_template",
    "qwen_vocab",
    "write_qwen_mmproj",
    "write_qwen_text",
]

QwenKind = Literal["qwen2.5-vl", "qwen3-vl", "qwen3-vl-moe"]

_NORMAL, _CONTROL, _USER_DEFINED = 1, 3, 4

# Qwen's added tokens, in their published order; the ``<|…|>`` ones are control tokens, the tag-like ones
# (``special: false`` in tokenizer.json) user-defined, as llama.cpp's converter types them.
QWEN_SPECIALS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<tool_call>",
    "</tool_call>",
    "<think>",
    "</think>",
    "<tool_response>",
    "</tool_response>",
)

# A few merges of frequent pairs, so the tokenizer really merges (words in prompts become several tokens).
_MERGES = (
    ("Ġ", "t"), ("Ġ", "a"), ("Ġ", "s"), ("Ġ", "c"), ("Ġ", "o"), ("t", "h"), ("h", "e"), ("i", "n"),
    ("e", "r"), ("a", "n"), ("o", "n"), ("r", "e"), ("a", "t"), ("e", "n"), ("Ġt", "he"), ("Ġ", "#"),
    ("#", "#"), ("Ċ", "Ċ"), ("s", "t"), ("o", "u"),
)  # fmt: skip


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte → printable character map (every byte-level BPE vocabulary uses it)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    chars = keep[:]
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(keep, (chr(c) for c in chars), strict=True))


def qwen_vocab() -> tuple[list[str], list[int], list[str]]:
    """Tokens, token types and merges of the tiny byte-level BPE vocabulary."""
    tokens = [_bytes_to_unicode()[b] for b in range(256)]
    merges = []
    for left, right in _MERGES:
        merges.append(f"{left} {right}")
        tokens.append(left + right)
    types = [_NORMAL] * len(tokens)
    for special in QWEN_SPECIALS:
        tokens.append(special)
        types.append(_CONTROL if special.startswith("<|") else _USER_DEFINED)
    return tokens, types, merges


def qwen_template(kind: QwenKind) -> str:
    """The published chat template: Qwen2.5-VL's ``chat_template.json``, Qwen3-VL-Thinking's."""
    name = "qwen2.5-vl.jinja" if kind == "qwen2.5-vl" else "qwen3-vl-thinking.jinja"
    text = resources.files("tests.models").joinpath(f"templates/{name}").read_text(encoding="utf-8")
    return text.removesuffix("\n")


@dataclass(frozen=True, slots=True)
class QwenTextSize:
    """Small enough that three 4K screenshots (about 12,000 tokens of context) prefill in about a second."""

    n_embd: int = 32
    n_layer: int = 2  # more layers than deepstack layers, as in the real models (b11549 asserts on equal)
    n_head: int = 2
    n_head_kv: int = 1
    head_dim: int = 16
    n_ff: int = 64
    n_expert: int = 4
    n_expert_used: int = 2
    n_ff_exp: int = 32
    context_length: int = 32768


def _add_qwen_vocab(writer: gguf.GGUFWriter, template: str) -> None:
    tokens, types, merges = qwen_vocab()
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokens.index("<|endoftext|>"))
    writer.add_eos_token_id(tokens.index("<|im_end|>"))
    writer.add_pad_token_id(tokens.index("<|endoftext|>"))
    writer.add_add_bos_token(False)
    writer.add_chat_template(template)


def write_qwen_text(
    path: Path, kind: QwenKind, *, size: QwenTextSize = QwenTextSize(), n_deepstack: int = 1, seed: int = 11
) -> Path:
    """A random ``qwen2vl`` / ``qwen3vl`` / ``qwen3vlmoe`` text model with the family's template."""
    arch = {"qwen2.5-vl": "qwen2vl", "qwen3-vl": "qwen3vl", "qwen3-vl-moe": "qwen3vlmoe"}[kind]
    s = size
    qwen3 = kind != "qwen2.5-vl"
    n_vocab = len(qwen_vocab()[0])
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(f"omnidesk-tiny-{kind}")
    writer.add_context_length(s.context_length)
    writer.add_embedding_length(s.n_embd)
    writer.add_block_count(s.n_layer)
    writer.add_feed_forward_length(s.n_ff)
    writer.add_head_count(s.n_head)
    writer.add_head_count_kv(s.n_head_kv)
    writer.add_rope_freq_base(1_000_000.0 if qwen3 else 10_000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    # Sections of the rotary half (head_dim / 2): time, height, width — [16, 24, 24] / [24, 20, 20] for 128.
    sections = [2, 3, 3, 0] if not qwen3 else [3, 3, 2, 0]
    if not qwen3 and s.n_head * s.head_dim != s.n_embd:
        raise ValueError("Qwen2 attention projects n_embd to n_embd: n_head * head_dim must equal n_embd")
    writer.add_array(f"{arch}.rope.dimension_sections", sections)
    if qwen3:
        writer.add_key_length(s.head_dim)
        writer.add_value_length(s.head_dim)
        writer.add_uint32(f"{arch}.n_deepstack_layers", n_deepstack)
    if kind == "qwen3-vl-moe":
        writer.add_expert_count(s.n_expert)
        writer.add_expert_used_count(s.n_expert_used)
        writer.add_expert_feed_forward_length(s.n_ff_exp)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    _add_qwen_vocab(writer, qwen_template("qwen2.5-vl" if not qwen3 else "qwen3-vl"))

    w = _Weights(writer, seed)
    w.rand("token_embd.weight", n_vocab, s.n_embd, scale=1.0)
    w.ones("output_norm.weight", s.n_embd)
    w.rand("output.weight", n_vocab, s.n_embd)
    q_dim, kv_dim = s.n_head * s.head_dim, s.n_head_kv * s.head_dim
    for i in range(s.n_layer):
        p = f"blk.{i}"
        w.ones(f"{p}.attn_norm.weight", s.n_embd)
        w.rand(f"{p}.attn_q.weight", q_dim, s.n_embd)
        w.rand(f"{p}.attn_k.weight", kv_dim, s.n_embd)
        w.rand(f"{p}.attn_v.weight", kv_dim, s.n_embd)
        w.rand(f"{p}.attn_output.weight", s.n_embd, q_dim)
        if qwen3:
            w.ones(f"{p}.attn_q_norm.weight", s.head_dim)
            w.ones(f"{p}.attn_k_norm.weight", s.head_dim)
        else:  # Qwen2 attention has q/k/v biases
            w.rand(f"{p}.attn_q.bias", q_dim)
            w.rand(f"{p}.attn_k.bias", kv_dim)
            w.rand(f"{p}.attn_v.bias", kv_dim)
        w.ones(f"{p}.ffn_norm.weight", s.n_embd)
        if kind == "qwen3-vl-moe":
            w.rand(f"{p}.ffn_gate_inp.weight", s.n_expert, s.n_embd)
            w.rand(f"{p}.ffn_gate_exps.weight", s.n_expert, s.n_ff_exp, s.n_embd)
            w.rand(f"{p}.ffn_up_exps.weight", s.n_expert, s.n_ff_exp, s.n_embd)
            w.rand(f"{p}.ffn_down_exps.weight", s.n_expert, s.n_embd, s.n_ff_exp)
        else:
            w.rand(f"{p}.ffn_gate.weight", s.n_ff, s.n_embd)
            w.rand(f"{p}.ffn_up.weight", s.n_ff, s.n_embd)
            w.rand(f"{p}.ffn_down.weight", s.n_embd, s.n_ff)
    _finish(writer)
    return path


def write_qwen_mmproj(
    path: Path,
    kind: QwenKind,
    *,
    text_embd: int = 32,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    seed: int = 13,
) -> Path:
    """A random ``qwen2.5vl_merger`` / ``qwen3vl_merger`` mmproj; ``min/max_pixels`` add the optional keys."""
    qwen3 = kind != "qwen2.5-vl"
    # One attention head: the parity tests run the encoder without flash attention (identical arithmetic in
    # both llama.cpp builds), where a 4K screenshot's patches² scores take about 1 GB per head.
    c, ff, n_head, n_layer = 8, 16, 1, 1
    patch = 16 if qwen3 else 14
    writer = gguf.GGUFWriter(str(path), "clip")
    writer.add_name(f"omnidesk-tiny-{kind}-mmproj")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_bool("clip.has_audio_encoder", False)
    writer.add_bool("clip.has_text_encoder", False)
    writer.add_string("clip.projector_type", "qwen3vl_merger" if qwen3 else "qwen2.5vl_merger")
    writer.add_uint32("clip.vision.image_size", 768 if qwen3 else 560)  # the published placeholders
    writer.add_uint32("clip.vision.patch_size", patch)
    writer.add_uint32("clip.vision.embedding_length", c)
    writer.add_uint32("clip.vision.feed_forward_length", ff)
    writer.add_uint32("clip.vision.block_count", n_layer)
    writer.add_uint32("clip.vision.projection_dim", text_embd)
    writer.add_uint32("clip.vision.attention.head_count", n_head)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    writer.add_array("clip.vision.image_mean", [0.48145466, 0.4578275, 0.40821073])
    writer.add_array("clip.vision.image_std", [0.26862954, 0.26130258, 0.27577711])
    if min_pixels is not None:
        writer.add_uint32("clip.vision.image_min_pixels", min_pixels)
    if max_pixels is not None:
        writer.add_uint32("clip.vision.image_max_pixels", max_pixels)
    if qwen3:
        writer.add_bool("clip.use_gelu", True)
        writer.add_uint32("clip.vision.spatial_merge_size", 2)
        writer.add_array("clip.vision.is_deepstack_layers", [True] * n_layer)
    else:
        writer.add_bool("clip.use_silu", True)
        writer.add_uint32("clip.vision.n_wa_pattern", 0)
    w = _Weights(writer, seed, scale=0.05)
    w.rand("v.patch_embd.weight", c, 3, patch, patch)
    w.rand("v.patch_embd.weight.1", c, 3, patch, patch)
    if qwen3:
        w.rand("v.patch_embd.bias", c)
        w.rand("v.position_embd.weight", 48 * 48, c)  # the published 48×48 learned grid
    for i in range(n_layer):
        if qwen3:
            _qwen3_block(w, i, c, ff, text_embd)
        else:
            _qwen25_block(w, i, c, ff)
    w.ones("v.post_ln.weight", c)
    if qwen3:
        w.const("v.post_ln.bias", 0.0, c)
    w.rand("mm.0.weight", 4 * c, 4 * c)
    w.rand("mm.0.bias", 4 * c)
    w.rand("mm.2.weight", text_embd, 4 * c)
    w.rand("mm.2.bias", text_embd)
    _finish(writer)
    return path


def _qwen25_block(w: _Weights, i: int, c: int, ff: int) -> None:
    """Qwen2.5-VL's block as converted: split q/k/v with biases, RMSNorm, SwiGLU MLP with biases."""
    p = f"v.blk.{i}"
    for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
        w.rand(f"{p}.{name}.weight", c, c)
        w.rand(f"{p}.{name}.bias", c)
    w.ones(f"{p}.ln1.weight", c)
    w.ones(f"{p}.ln2.weight", c)
    for name in ("ffn_gate", "ffn_up"):
        w.rand(f"{p}.{name}.weight", ff, c)
        w.rand(f"{p}.{name}.bias", ff)
    w.rand(f"{p}.ffn_down.weight", c, ff)
    w.rand(f"{p}.ffn_down.bias", c)


def _qwen3_block(w: _Weights, i: int, c: int, ff: int, text_embd: int) -> None:
    """Qwen3-VL's block: fused qkv, LayerNorm, GELU MLP, and a deepstack merger fed from its output."""
    p = f"v.blk.{i}"
    w.rand(f"{p}.attn_qkv.weight", 3 * c, c)
    w.rand(f"{p}.attn_qkv.bias", 3 * c)
    w.rand(f"{p}.attn_out.weight", c, c)
    w.rand(f"{p}.attn_out.bias", c)
    for norm in ("ln1", "ln2"):
        w.ones(f"{p}.{norm}.weight", c)
        w.const(f"{p}.{norm}.bias", 0.0, c)
    w.rand(f"{p}.ffn_up.weight", ff, c)
    w.rand(f"{p}.ffn_up.bias", ff)
    w.rand(f"{p}.ffn_down.weight", c, ff)
    w.rand(f"{p}.ffn_down.bias", c)
    ds = f"v.deepstack.{i}"
    w.ones(f"{ds}.norm.weight", 4 * c)
    w.const(f"{ds}.norm.bias", 0.0, 4 * c)
    w.rand(f"{ds}.fc1.weight", 4 * c, 4 * c)
    w.rand(f"{ds}.fc1.bias", 4 * c)
    w.rand(f"{ds}.fc2.weight", text_embd, 4 * c)
    w.rand(f"{ds}.fc2.bias", text_embd)
