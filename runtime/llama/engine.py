"""The libllama/libmtmd handles of one loaded model, and the operations the session builds on.

Everything that touches ctypes lives here: loading, tokenizing text + media into *items* (token ids
and media chunks), evaluating items chunk by chunk with a small micro-batch (so the abort callback is
polled often), encoding media through the embedding cache, and saving/restoring sequence state.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from omnidesk.agent.errors import ModelCapabilityError, ModelError, ModelLoadError
from omnidesk.agent.ports import AudioPart, ImagePart
from omnidesk.runtime.llama.media import EmbeddingCache, make_bitmap
from omnidesk.runtime.llama.prompt import RenderedPrompt, TemplateVocab
from omnidesk.runtime.llama.sampling import sample_logits

__all__ = ["Aborted", "Engine", "EngineOptions", "MediaItem", "Prompt", "item_key"]

log = logging.getLogger(__name__)

_DECODE_ABORTED = 2
_LOG_KEEPALIVE: list[Any] = []  # ctypes callbacks must outlive every native call that may use them
_LOG_LOCK = threading.Lock()


class Aborted(Exception):
    """A stop request interrupted evaluation (libllama's abort callback fired)."""


@dataclass(frozen=True, slots=True)
class MediaItem:
    """One media chunk of a tokenized prompt; ``chunk`` is owned by its :class:`Prompt`."""

    key: str
    n_tokens: int
    is_image: bool
    chunk: Any = field(compare=False)
    n_pos: int = 0  # positions it takes (M-RoPE images: max(grid w, h), else n_tokens)

    @property
    def positions(self) -> int:
        return self.n_pos or self.n_tokens


Item = int | MediaItem


def item_key(item: Item) -> int | tuple[str, int]:
    return item if isinstance(item, int) else (item.key, item.n_tokens)


def count_tokens(items: Sequence[Item]) -> int:
    return sum(1 if isinstance(i, int) else i.n_tokens for i in items)


def count_positions(items: Sequence[Item]) -> int:
    return sum(1 if isinstance(i, int) else i.positions for i in items)


@dataclass(slots=True)
class Prompt:
    """A tokenized prompt: token ids and media chunks in order (chunks valid inside ``Engine.tokenize``)."""

    items: list[Item]

    @property
    def n_tokens(self) -> int:
        return count_tokens(self.items)


@dataclass(frozen=True, slots=True)
class EngineOptions:
    n_ctx: int = 4096
    n_batch: int = 512
    n_ubatch: int = 128
    n_threads: int = 1
    n_gpu_layers: int = 0
    experts_on_cpu: bool = False
    image_min_tokens: int = -1  # libmtmd's image token limits (-1: the projector's defaults)
    image_max_tokens: int = -1
    flash_attn: bool | None = None  # None: llama.cpp decides (its "auto")


@dataclass(slots=True)
class EvalStats:
    images_encoded: int = 0
    images_from_cache: int = 0
    token_batches: list[int] = field(default_factory=list)  # tokens per llama_decode call, in order


def _flash_attn_type(flash_attn: bool | None) -> int:
    """llama.cpp's ``llama_flash_attn_type``: -1 auto, 0 disabled, 1 enabled."""
    return -1 if flash_attn is None else int(flash_attn)


def _route_native_logs() -> None:
    """Send libllama/libmtmd logs to Python logging (once per process)."""
    import llama_cpp
    from llama_cpp import mtmd_cpp

    with _LOG_LOCK:
        if _LOG_KEEPALIVE:
            return
        native_log = logging.getLogger("omnidesk.runtime.llama.native")

        def _log(level: int, text: bytes, _user: Any) -> None:
            message = text.decode("utf-8", errors="replace").rstrip()
            if message:
                native_log.debug("%s", message)

        callback = llama_cpp.llama_log_callback(_log)
        _LOG_KEEPALIVE.append(callback)
        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
        mtmd_cpp.mtmd_log_set(callback, ctypes.c_void_p(0))
        mtmd_cpp.mtmd_helper_log_set(callback, ctypes.c_void_p(0))
        llama_cpp.llama_backend_init()


class Engine:
    """Owns the model, context, mtmd context and a batch; not thread-safe (one generation at a time)."""

    def __init__(self, model_path: Path, mmproj_path: Path | None, options: EngineOptions) -> None:
        import llama_cpp
        from llama_cpp import mtmd_cpp

        _route_native_logs()
        self.options = options
        self.abort = threading.Event()
        self.embeddings = EmbeddingCache()
        self._model: Any = None
        self._ctx: Any = None
        self._mctx: Any = None
        self._batch: Any = None
        self._held_logits: npt.NDArray[np.float32] | None = None  # a restored prompt's, until the next decode
        mparams = llama_cpp.llama_model_default_params()
        mparams.n_gpu_layers = options.n_gpu_layers
        self._overrides = None
        if options.experts_on_cpu:
            from omnidesk.runtime.llama.overrides import cpu_expert_overrides

            self._overrides = cpu_expert_overrides()
            mparams.tensor_buft_overrides = self._overrides.pointer
        self._model = llama_cpp.llama_model_load_from_file(str(model_path).encode(), mparams)
        if not self._model:
            raise ModelLoadError(
                f"llama.cpp could not load {model_path}; check free memory and that llama-cpp-python "
                "is recent enough for this model"
            )
        self._abort_cb = llama_cpp.ggml_abort_callback(lambda _data: self.abort.is_set())
        self._no_abort_cb = llama_cpp.ggml_abort_callback()  # NULL: nothing to poll
        self._polling = True  # the abort callback is installed (it is, from the context's parameters)
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = options.n_ctx
        cparams.n_batch = options.n_batch
        cparams.n_ubatch = options.n_ubatch
        cparams.n_seq_max = 1
        cparams.n_threads = options.n_threads
        cparams.n_threads_batch = options.n_threads
        cparams.abort_callback = self._abort_cb
        cparams.no_perf = True
        cparams.flash_attn_type = _flash_attn_type(options.flash_attn)
        self._ctx = llama_cpp.llama_init_from_model(self._model, cparams)
        if not self._ctx:
            self.close()
            raise ModelLoadError(
                f"llama.cpp could not create a {options.n_ctx}-token context; lower "
                "model.context_length or free some memory"
            )
        # A recurrent (Mamba) state cannot be cut back to a prefix: reuse needs saved states instead.
        self.keeps_state_only = bool(
            llama_cpp.llama_model_is_recurrent(self._model) or llama_cpp.llama_model_is_hybrid(self._model)
        )
        self.vocab = llama_cpp.llama_model_get_vocab(self._model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        # Media embeddings are as wide as the model's input (Qwen3-VL adds its deepstack features).
        self.n_embd = llama_cpp.llama_model_n_embd_inp(self._model)
        self._batch = llama_cpp.llama_batch_init(options.n_batch, 0, 1)
        self.vision = False
        self.audio = False
        self.audio_rate = 16000
        if mmproj_path is not None:
            params = mtmd_cpp.mtmd_context_params_default()
            params.use_gpu = options.n_gpu_layers != 0
            params.n_threads = options.n_threads
            params.warmup = False
            params.print_timings = False
            params.flash_attn_type = _flash_attn_type(options.flash_attn)
            params.image_min_tokens = options.image_min_tokens
            params.image_max_tokens = options.image_max_tokens
            self._mctx = mtmd_cpp.mtmd_init_from_file(str(mmproj_path).encode(), self._model, params)
            if not self._mctx:
                self.close()
                raise ModelLoadError(
                    f"libmtmd could not load the mmproj {mmproj_path}; it may not match the model or "
                    "this llama-cpp-python may be too old for its projector"
                )
            self.vision = bool(mtmd_cpp.mtmd_support_vision(self._mctx))
            self.audio = bool(mtmd_cpp.mtmd_support_audio(self._mctx))
            if self.audio:
                self.audio_rate = int(mtmd_cpp.mtmd_get_audio_sample_rate(self._mctx)) or 16000

    # --- tokenizing -------------------------------------------------------------------------------

    def template_vocab(self) -> TemplateVocab:
        """BOS/EOS texts and flags as llama.cpp's server hands them to chat templates."""
        import llama_cpp

        def text(token: int) -> str:
            return "" if token < 0 else self.piece(token, special=True).decode("utf-8", errors="replace")

        return TemplateVocab(
            bos_token=text(int(llama_cpp.llama_vocab_bos(self.vocab))),
            eos_token=text(int(llama_cpp.llama_vocab_eos(self.vocab))),
            add_bos=bool(llama_cpp.llama_vocab_get_add_bos(self.vocab)),
            add_eos=bool(llama_cpp.llama_vocab_get_add_eos(self.vocab)),
        )

    def text_tokens(self, text: str, *, add_special: bool = True) -> list[int]:
        """Tokens of plain text as the server's first text chunk gets them (special tokens parsed)."""
        import llama_cpp

        data = text.encode("utf-8")
        capacity = len(data) + 16
        buf = (llama_cpp.llama_token * capacity)()
        n = llama_cpp.llama_tokenize(self.vocab, data, len(data), buf, capacity, add_special, True)
        if n < 0:
            raise ModelError("the prompt could not be tokenized (too long for the tokenizer buffer)")
        return list(buf[:n])

    def _check_media(self, media: Sequence[ImagePart | AudioPart]) -> None:
        for part in media:
            if isinstance(part, ImagePart) and not self.vision:
                raise ModelCapabilityError(
                    "this model was loaded without a vision projector; pass the mmproj with --mmproj"
                )
            if isinstance(part, AudioPart) and not self.audio:
                raise ModelCapabilityError(
                    "the loaded mmproj has no audio encoder (vision only); use the omni mmproj that "
                    "includes Parakeet audio, or send text/images only"
                )

    @contextmanager
    def tokenize(self, rendered: RenderedPrompt) -> Iterator[Prompt]:
        """Tokenize the whole prompt in one pass, as the server does (``add_special``, special tokens parsed).

        Media chunk handles stay valid inside the ``with`` block.
        """
        from llama_cpp import mtmd_cpp

        self._check_media(rendered.media)
        if self._mctx is None:
            yield Prompt(list[Item](self.text_tokens(rendered.text)))
            return
        chunks = mtmd_cpp.mtmd_input_chunks_init()
        try:
            yield Prompt(self._mtmd_tokenize(chunks, rendered.text, rendered.media))
        finally:
            mtmd_cpp.mtmd_input_chunks_free(chunks)

    def _mtmd_tokenize(self, chunks: Any, text: str, media: Sequence[ImagePart | AudioPart]) -> list[Item]:
        from llama_cpp import mtmd_cpp

        bitmaps = [make_bitmap(part, self.audio_rate) for part in media]
        try:
            array = (mtmd_cpp.mtmd_bitmap_p_ctypes * max(1, len(bitmaps)))(*bitmaps)
            data = text.encode("utf-8")
            inp = mtmd_cpp.mtmd_input_text()
            inp.text = data
            inp.text_len = len(data)
            inp.add_special = True
            inp.parse_special = True
            rc = mtmd_cpp.mtmd_tokenize(self._mctx, chunks, ctypes.byref(inp), array, len(bitmaps))
        finally:
            for bitmap in bitmaps:
                mtmd_cpp.mtmd_bitmap_free(bitmap)
        if rc != 0:
            raise ModelError(f"libmtmd could not tokenize the prompt (code {rc}); an image may be invalid")
        items: list[Item] = []
        for i in range(mtmd_cpp.mtmd_input_chunks_size(chunks)):
            chunk = mtmd_cpp.mtmd_input_chunks_get(chunks, i)
            kind = mtmd_cpp.mtmd_input_chunk_get_type(chunk)
            if kind == mtmd_cpp.MTMD_INPUT_CHUNK_TYPE_TEXT:
                n = ctypes.c_size_t(0)
                tokens = mtmd_cpp.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n))
                items.extend(int(tokens[j]) for j in range(n.value))
            else:
                key = (mtmd_cpp.mtmd_input_chunk_get_id(chunk) or b"").decode()
                n_tokens = int(mtmd_cpp.mtmd_input_chunk_get_n_tokens(chunk))
                n_pos = int(mtmd_cpp.mtmd_input_chunk_get_n_pos(chunk))
                is_image = kind == mtmd_cpp.MTMD_INPUT_CHUNK_TYPE_IMAGE
                items.append(MediaItem(key, n_tokens, is_image, chunk, n_pos))
        return items

    # --- evaluation --------------------------------------------------------------------------------

    def clear(self) -> None:
        import llama_cpp

        self._held_logits = None
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self._ctx), True)

    def cut(self, n_past: int) -> bool:
        """Forget every position from ``n_past`` on; False where the memory cannot (recurrent state)."""
        import llama_cpp

        return bool(llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(self._ctx), 0, n_past, -1))

    def evaluate(self, items: Sequence[Item], n_past: int, *, logits_last: bool, stats: EvalStats) -> int:
        """Evaluate items from position ``n_past``; returns the new position. Raises :class:`Aborted`."""
        i = 0
        while i < len(items):
            if self.abort.is_set():
                raise Aborted
            item = items[i]
            if isinstance(item, MediaItem):
                n_past = self._eval_media(item, n_past, stats)
                i += 1
                continue
            j = i
            while j < len(items) and isinstance(items[j], int) and j - i < self.options.n_batch:
                j += 1
            tokens = [t for t in items[i:j] if isinstance(t, int)]
            n_past = self._decode_tokens(tokens, n_past, logits=logits_last and j == len(items))
            stats.token_batches.append(len(tokens))
            i = j
        return n_past

    def _decode_tokens(self, tokens: list[int], n_past: int, *, logits: bool) -> int:
        import llama_cpp

        if n_past + len(tokens) > self.options.n_ctx:
            raise ModelError(
                f"the prompt needs more than the {self.options.n_ctx}-token context; raise "
                "model.context_length or send fewer images/less history"
            )
        batch = self._batch
        for k, token in enumerate(tokens):
            batch.token[k] = token
            batch.pos[k] = n_past + k
            batch.n_seq_id[k] = 1
            batch.seq_id[k][0] = 0
            batch.logits[k] = 1 if (logits and k == len(tokens) - 1) else 0
        batch.n_tokens = len(tokens)
        self._held_logits = None
        self._poll_abort(len(tokens) > 1)
        rc = llama_cpp.llama_decode(self._ctx, batch)
        if rc == _DECODE_ABORTED or (rc != 0 and self.abort.is_set()):
            raise Aborted
        if rc != 0:
            raise ModelError(f"llama_decode failed with code {rc}; the context may be full")
        return n_past + len(tokens)

    def _poll_abort(self, on: bool) -> None:
        """Let llama.cpp poll the abort callback (after every graph node) for batches, not for one token.

        The callback is Python: each poll takes the GIL, once per graph node whatever the batch size (182
        per llama_decode on the bench's Nemotron-H), which a batch amortizes and a one-token decode step pays
        in full; a stop request is seen between tokens anyway.
        """
        import llama_cpp

        if on != self._polling:
            llama_cpp.llama_set_abort_callback(self._ctx, self._abort_cb if on else self._no_abort_cb, None)
            self._polling = on

    def _eval_media(self, item: MediaItem, n_past: int, stats: EvalStats) -> int:
        import llama_cpp
        from llama_cpp import mtmd_cpp

        if n_past + item.n_tokens > self.options.n_ctx:
            raise ModelError(
                f"the prompt needs more than the {self.options.n_ctx}-token context; raise "
                "model.context_length or send fewer images"
            )
        embd = self.embeddings.get(item.key)
        if embd is None:
            if mtmd_cpp.mtmd_encode_chunk(self._mctx, item.chunk) != 0:
                raise ModelError("libmtmd failed to encode an image/audio chunk")
            out = mtmd_cpp.mtmd_get_output_embd(self._mctx)
            embd = np.ctypeslib.as_array(out, shape=(item.n_tokens * self.n_embd,)).copy()
            self.embeddings.put(item.key, embd)
            if item.is_image:
                stats.images_encoded += 1
        elif item.is_image:
            stats.images_from_cache += 1
        if self.abort.is_set():
            raise Aborted
        new_n_past = llama_cpp.llama_pos(0)
        self._held_logits = None
        self._poll_abort(True)
        rc = mtmd_cpp.mtmd_helper_decode_image_chunk(
            self._mctx,
            self._ctx,
            item.chunk,
            embd.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
            n_past,
            0,
            self.options.n_batch,
            ctypes.byref(new_n_past),
            mtmd_cpp.mtmd_helper_post_decode_callback(),
            None,
        )
        if rc != 0:
            if self.abort.is_set():
                raise Aborted
            raise ModelError(f"decoding media embeddings failed (code {rc})")
        return int(new_n_past.value)

    def last_logits(self) -> npt.NDArray[np.float32]:
        import llama_cpp

        if self._held_logits is not None:
            return self._held_logits.copy()
        ptr = llama_cpp.llama_get_logits_ith(self._ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    # --- state -------------------------------------------------------------------------------------

    def save_state(self) -> Any:
        import llama_cpp

        size = llama_cpp.llama_state_seq_get_size(self._ctx, 0)
        buf = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(self._ctx, buf, size, 0)
        if written != size:
            raise ModelError("saving the model state failed")
        return buf

    def restore_state(self, buf: Any, logits: npt.NDArray[np.float32] | None = None) -> None:
        """Set the sequence's state; ``logits`` (those of the state's last position) are what the next
        :meth:`sample` and :meth:`last_logits` read, as if that position had just been evaluated."""
        import llama_cpp

        self.clear()
        if llama_cpp.llama_state_seq_set_data(self._ctx, buf, len(buf), 0) == 0:
            self.clear()
            raise ModelError("restoring the saved model state failed")
        self._held_logits = logits

    # --- sampling helpers --------------------------------------------------------------------------

    def sample(self, sampler: Any) -> int:
        import llama_cpp

        if self._held_logits is None:
            return int(llama_cpp.llama_sampler_sample(sampler, self._ctx, -1))
        return sample_logits(sampler, self._held_logits)

    def is_eog(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))

    def piece(self, token: int, *, special: bool = False) -> bytes:
        import llama_cpp

        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, special)
        return buf.raw[:n]

    def chat_template(self) -> str | None:
        import llama_cpp

        raw = llama_cpp.llama_model_chat_template(self._model, None)
        return raw.decode("utf-8") if raw else None

    def close(self) -> None:
        import llama_cpp
        from llama_cpp import mtmd_cpp

        if self._mctx:
            mtmd_cpp.mtmd_free(self._mctx)
        if self._batch is not None:
            llama_cpp.llama_batch_free(self._batch)
        if self._ctx:
            llama_cpp.llama_free(self._ctx)
        if self._model:
            llama_cpp.llama_model_free(self._model)
        self._mctx = self._ctx = self._model = self._batch = None
        self.embeddings.clear()
