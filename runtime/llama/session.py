"""The local omni model session: the :class:`ModelClient` port on llama.cpp (libllama + libmtmd).

One :meth:`OmniSession.generate` renders the request with the model's chat template, tokenizes text and
media, restores the state saved at the previous request's ``CachePoint`` when the new prefix extends it
(a hybrid Mamba model cannot cut its cache back, so state snapshots are the way to reuse a prompt),
evaluates the rest chunk by chunk, and samples token by token, streaming reasoning and answer.

A stop request is honoured between tokens, between media chunks and inside llama.cpp's graph compute
(abort callback, one micro-batch); the session then still holds its last good snapshot and the next
request starts from it.
"""

from __future__ import annotations

import codecs
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from omnidesk.agent.errors import ModelError
from omnidesk.agent.ports import (
    AudioPart,
    CancelToken,
    ImagePart,
    ModelCapabilities,
    ModelReply,
    ModelRequest,
    TokenDelta,
)
from omnidesk.runtime.llama.engine import Aborted, Engine, EngineOptions, EvalStats, Prompt, item_key
from omnidesk.runtime.llama.engine import count_tokens as _count_tokens
from omnidesk.runtime.llama.offload import (
    default_threads,
    detect_memory,
    footprint_from_gguf,
    plan_offload,
)
from omnidesk.runtime.llama.prompt import load_fallback_template, render_prompt
from omnidesk.runtime.llama.reasoning import ThinkSplitter
from omnidesk.runtime.llama.sampling import SamplingDefaults, build_sampler, resolve_sampler
from omnidesk.runtime.llama.validate import DEFAULT_ARCHITECTURES, validate_model_files

__all__ = ["OmniSession", "SessionProfile"]

log = logging.getLogger(__name__)

Convention = Literal["fraction", "thousandths", "image_pixels"]


@dataclass(frozen=True, slots=True)
class SessionProfile:
    """What a model profile tells the session (see ``runtime/profiles.py``)."""

    name: str = "nemotron-3-nano-omni"
    architectures: tuple[str, ...] = DEFAULT_ARCHITECTURES
    sampling: SamplingDefaults = field(default_factory=SamplingDefaults)
    enable_thinking: bool = True
    coordinate_convention: Convention = "fraction"
    image_size: int | None = None


@dataclass(slots=True)
class _Snapshot:
    keys: tuple[int | tuple[str, int], ...]
    state: Any
    n_past: int
    n_tokens: int


class OmniSession:
    """A loaded model + mmproj that answers :class:`ModelRequest` s (implements ``ModelClient``)."""

    def __init__(self, engine: Engine, *, template: str, profile: SessionProfile, name: str) -> None:
        self._engine = engine
        self._template = template
        self._profile = profile
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._warned_size = False
        self._capabilities = ModelCapabilities(
            name=name,
            vision=engine.vision,
            audio=engine.audio,
            image_size=profile.image_size,
            coordinate_convention=profile.coordinate_convention,
            context_length=engine.options.n_ctx,
        )

    @classmethod
    def open(
        cls,
        model: Path,
        mmproj: Path | None = None,
        *,
        profile: SessionProfile | None = None,
        n_ctx: int = 4096,
        n_batch: int = 512,
        n_ubatch: int = 128,
        n_threads: int = 0,
        n_gpu_layers: int | None = 0,
        experts_on_cpu: bool = False,
    ) -> OmniSession:
        """Validate the files (clear errors instead of a crash inside llama.cpp), then load them.

        ``n_gpu_layers=None`` decides from the files' sizes and the free VRAM/RAM (logged in words).
        """
        profile = profile or SessionProfile()
        text, mm = validate_model_files(model, mmproj, profile.architectures)
        if n_gpu_layers is None:
            import llama_cpp

            footprint = footprint_from_gguf(text.header, mm.header if mm else None, n_ctx)
            memory = detect_memory(bool(llama_cpp.llama_supports_gpu_offload()))
            plan = plan_offload(footprint, memory, can_keep_experts_on_cpu=True)
            log.info("GPU offload: %s", plan.explanation)
            n_gpu_layers, experts_on_cpu = plan.n_gpu_layers, plan.experts_on_cpu
        options = EngineOptions(
            n_ctx=n_ctx,
            n_batch=n_batch,
            n_ubatch=min(n_ubatch, n_batch),
            n_threads=n_threads or default_threads(),
            n_gpu_layers=n_gpu_layers,
            experts_on_cpu=experts_on_cpu,
        )
        engine = Engine(model, mmproj, options)
        template = text.chat_template or load_fallback_template()
        if not text.chat_template:
            log.info("%s has no chat template; using the bundled Nemotron 3 Nano template", model.name)
        if mm is not None and mm.image_size and mm.image_size != profile.image_size:
            # The mmproj's own canvas size is what its fixed-size preprocessor really uses.
            profile = SessionProfile(
                name=profile.name,
                architectures=profile.architectures,
                sampling=profile.sampling,
                enable_thinking=profile.enable_thinking,
                coordinate_convention=profile.coordinate_convention,
                image_size=mm.image_size,
            )
        log.info(
            "loaded %s (%s, %d layers) vision=%s audio=%s ctx=%d threads=%d",
            text.name,
            text.architecture,
            text.n_layer,
            engine.vision,
            engine.audio,
            n_ctx,
            options.n_threads,
        )
        return cls(engine, template=template, profile=profile, name=text.name)

    @property
    def capabilities(self) -> ModelCapabilities:
        return self._capabilities

    # --- generation --------------------------------------------------------------------------------

    def generate(
        self,
        request: ModelRequest,
        *,
        on_token: Callable[[TokenDelta], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> ModelReply:
        if self._closed:
            raise ModelError("the model session is closed; load the model again")
        with self._lock:
            return self._generate(request, on_token, cancel)

    def _generate(
        self,
        request: ModelRequest,
        on_token: Callable[[TokenDelta], None] | None,
        cancel: CancelToken | None,
    ) -> ModelReply:
        grammar = self._grammar(request)
        thinking = self._profile.enable_thinking if request.enable_thinking is None else request.enable_thinking
        if grammar is not None:
            thinking = False  # the grammar constrains the whole output, so no free-text reasoning
        rendered = render_prompt(self._template, request.messages, enable_thinking=thinking)
        self._check_image_sizes(rendered.prefix_media + rendered.suffix_media)
        abort = threading.Event()
        self._engine.abort = abort
        if cancel is not None:
            cancel.on_cancel(abort.set)
        stats = EvalStats()
        started = time.perf_counter()
        with self._engine.tokenize(rendered) as prompt:
            try:
                n_past, reused = self._prefill(prompt, stats)
            except Aborted:
                log.info("generation cancelled during prefill after %.3f s", time.perf_counter() - started)
                return self._reply(
                    text="",
                    reasoning="",
                    prompt_tokens=prompt.n_tokens,
                    completion_tokens=0,
                    reused=0,
                    started=started,
                    prefilled=started,
                    stop_reason="cancelled",
                    stats=stats,
                )
        prefilled = time.perf_counter()
        params = resolve_sampler(request, self._profile.sampling, thinking=thinking)
        splitter = ThinkSplitter(thinking=thinking)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        sampler = build_sampler(self._engine.vocab, params, grammar)
        stop_reason: Literal["stop", "length", "cancelled"] = "length"
        generated = 0
        answer_cut: int | None = None

        def emit(deltas: list[TokenDelta]) -> None:
            if on_token is not None:
                for delta in deltas:
                    on_token(delta)

        try:
            for _ in range(request.max_tokens):
                if abort.is_set():
                    stop_reason = "cancelled"
                    break
                token = self._engine.sample(sampler)
                generated += 1
                if self._engine.is_eog(token):
                    stop_reason = "stop"
                    break
                emit(splitter.feed(decoder.decode(self._engine.piece(token))))
                answer_cut = _find_stop(splitter.answer, request.stop)
                if answer_cut is not None:
                    stop_reason = "stop"
                    break
                if n_past + 1 > self._engine.options.n_ctx:
                    log.warning("the context (%d tokens) is full; the answer is cut", n_past)
                    break  # "length": the context ran out before max_tokens
                n_past = self._engine.evaluate([token], n_past, logits_last=True, stats=stats)
        except Aborted:
            stop_reason = "cancelled"
        finally:
            import llama_cpp

            llama_cpp.llama_sampler_free(sampler)
        emit(splitter.feed(decoder.decode(b"", final=True)) + splitter.finish())
        answer = splitter.answer if answer_cut is None else splitter.answer[:answer_cut]
        if stop_reason == "cancelled":
            log.info("generation cancelled after %d tokens", generated)
        return self._reply(
            text=answer,
            reasoning=splitter.reasoning,
            prompt_tokens=prompt.n_tokens,
            completion_tokens=generated,
            reused=reused,
            started=started,
            prefilled=prefilled,
            stop_reason=stop_reason,
            stats=stats,
        )

    def _prefill(self, prompt: Prompt, stats: EvalStats) -> tuple[int, int]:
        """Evaluate the prompt, reusing the saved prefix state when it applies; returns (n_past, reused)."""
        engine = self._engine
        keys = tuple(item_key(i) for i in prompt.prefix)
        snap = self._snapshot
        start, n_past, reused = 0, 0, 0
        if snap is not None and snap.keys and keys[: len(snap.keys)] == snap.keys:
            engine.restore_state(snap.state)
            start, n_past, reused = len(snap.keys), snap.n_past, snap.n_tokens
        else:
            engine.clear()
        if prompt.prefix:
            n_past = engine.evaluate(prompt.prefix[start:], n_past, logits_last=False, stats=stats)
            if snap is None or keys != snap.keys:
                self._snapshot = _Snapshot(keys, engine.save_state(), n_past, _count_tokens(prompt.prefix))
        n_past = engine.evaluate(prompt.suffix, n_past, logits_last=True, stats=stats)
        return n_past, reused

    def _check_image_sizes(self, media: tuple[ImagePart | AudioPart, ...]) -> None:
        size = self._capabilities.image_size
        if not size or self._warned_size:
            return
        for part in media:
            if isinstance(part, ImagePart) and part.image.pixels.shape[:2] != (size, size):
                height, width = part.image.pixels.shape[:2]
                log.warning(
                    "an image of %dx%d reached the model, which resizes everything onto %dx%d: its "
                    "ImageTransform no longer matches what the model sees (build images with "
                    "runtime.images at the model's image_size)",
                    width,
                    height,
                    size,
                    size,
                )
                self._warned_size = True
                return

    def _grammar(self, request: ModelRequest) -> str | None:
        if request.grammar is not None and request.json_schema is not None:
            raise ModelError("a request may set grammar or json_schema, not both")
        if request.json_schema is not None:
            from omnidesk.runtime.llama.grammar import schema_to_gbnf

            return schema_to_gbnf(request.json_schema)
        return request.grammar

    def _reply(
        self,
        *,
        text: str,
        reasoning: str,
        prompt_tokens: int,
        completion_tokens: int,
        reused: int,
        started: float,
        prefilled: float,
        stop_reason: Literal["stop", "length", "cancelled"],
        stats: EvalStats,
    ) -> ModelReply:
        now = time.perf_counter()
        return ModelReply(
            text=text.strip(),
            reasoning=reasoning.strip(),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            reused_tokens=reused,
            prefill_seconds=prefilled - started,
            decode_seconds=max(0.0, now - prefilled) if completion_tokens else 0.0,
            stop_reason=stop_reason,
            images_encoded=stats.images_encoded,
            images_from_cache=stats.images_from_cache,
        )

    # --- test and bench hooks ----------------------------------------------------------------------

    def last_logits(self) -> Any:
        """Logits of the last evaluated position (for equality checks in tests)."""
        return self._engine.last_logits()

    def reset(self) -> None:
        """Forget the saved prefix and cached media embeddings."""
        with self._lock:
            self._snapshot = None
            self._engine.embeddings.clear()
            self._engine.clear()

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._snapshot = None
                self._engine.close()

    def __enter__(self) -> OmniSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _find_stop(text: str, stops: tuple[str, ...]) -> int | None:
    hits = [text.find(s) for s in stops if s]
    hits = [h for h in hits if h >= 0]
    return min(hits) if hits else None
