"""The local omni model session: the :class:`ModelClient` port on llama.cpp (libllama + libmtmd).

One :meth:`OmniSession.generate` renders the request with the model's chat template exactly as llama.cpp's
server renders the same OpenAI request (``prompt.py``), tokenizes text and media in one pass as the server
does, hands libmtmd the images as they were sent (libmtmd sizes them by the projector's own rule, as in the
server), reuses the longest prefix it shares with what the context holds (``reuse.py``), evaluates the rest
chunk by chunk, and samples token by token, streaming reasoning and answer; a reasoning budget closes a long
thought and lets the answer follow.

A stop request is honoured between tokens, between media chunks and inside llama.cpp's graph compute
of a prompt batch (abort callback, one micro-batch; a one-token decode step is not polled, it ends within
one token's time); the session then still holds its last good snapshot and the next request starts from it.
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

from omnidesk.agent.canvas import ImageCanvas, PointingReference
from omnidesk.agent.errors import ModelError
from omnidesk.agent.ports import (
    CancelToken,
    ModelCapabilities,
    ModelReply,
    ModelRequest,
    TokenDelta,
)
from omnidesk.runtime.llama.engine import Aborted, Engine, EngineOptions, EvalStats
from omnidesk.runtime.llama.offload import (
    default_threads,
    detect_memory,
    footprint_from_gguf,
    plan_offload,
)
from omnidesk.runtime.llama.projector import image_canvas, mtmd_token_limits
from omnidesk.runtime.llama.prompt import RenderedPrompt, load_fallback_template, render_prompt
from omnidesk.runtime.llama.reasoning import ReasoningBudget, ThinkSplitter
from omnidesk.runtime.llama.reuse import PrefixCache
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
    pointing_reference: PointingReference = "canvas"


# Tokens kept free for the answer (at most a quarter of the new tokens) when a reasoning budget is fitted.
_ANSWER_RESERVE = 256


class OmniSession:
    """A loaded model + mmproj that answers :class:`ModelRequest` s (implements ``ModelClient``)."""

    def __init__(
        self,
        engine: Engine,
        *,
        template: str,
        profile: SessionProfile,
        name: str,
        canvas: ImageCanvas | None = None,
    ) -> None:
        self._engine = engine
        self._template = template
        self._profile = profile
        self._vocab = engine.template_vocab()
        self._cache = PrefixCache(engine, snapshots=engine.keeps_state_only)
        self._lock = threading.Lock()
        self._closed = False
        self._capabilities = ModelCapabilities(
            name=name,
            vision=engine.vision,
            audio=engine.audio,
            image_size=_square_side(canvas, profile),
            coordinate_convention=profile.coordinate_convention,
            context_length=engine.options.n_ctx,
            image_canvas=canvas,
            pointing_reference=profile.pointing_reference,
            slow_decoding=engine.options.n_gpu_layers == 0,  # CPU only: formats pick their short variant
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
        flash_attn: bool | None = None,
    ) -> OmniSession:
        """Validate the files (clear errors instead of a crash inside llama.cpp), then load them.

        ``n_gpu_layers=None`` decides from the files' sizes and the free VRAM/RAM (logged in words).
        ``flash_attn`` None lets llama.cpp decide; the builds' flash-attention kernels round differently.
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
        min_tokens, max_tokens = mtmd_token_limits(mm.header) if mm is not None else (-1, -1)
        options = EngineOptions(
            n_ctx=n_ctx,
            n_batch=n_batch,
            n_ubatch=min(n_ubatch, n_batch),
            n_threads=n_threads or default_threads(),
            n_gpu_layers=n_gpu_layers,
            experts_on_cpu=experts_on_cpu,
            image_min_tokens=min_tokens,
            image_max_tokens=max_tokens,
            flash_attn=flash_attn,
        )
        engine = Engine(model, mmproj, options)
        template = text.chat_template or load_fallback_template()
        if not text.chat_template:
            log.info("%s has no chat template; using the bundled Nemotron 3 Nano template", model.name)
        canvas = image_canvas(mm.header) if mm is not None and mm.has_vision else None
        if mm is not None and mm.has_vision and canvas is None:
            log.warning(
                "the vision projector %r is not one Omnidesk knows how libmtmd sizes; images are sent as they "
                "are and token estimates are unavailable",
                mm.vision_projector,
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
        return cls(engine, template=template, profile=profile, name=text.name, canvas=canvas)

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

    def _render(self, request: ModelRequest, thinking: bool, **kw: bool) -> RenderedPrompt:
        return render_prompt(
            self._template,
            request.messages,
            enable_thinking=thinking,
            template_kwargs=dict(request.template_kwargs),
            vocab=self._vocab,
            **kw,
        )

    def _thinking(self, request: ModelRequest, grammar: str | None) -> bool:
        if grammar is not None:
            return False  # the grammar constrains the whole output, so no free-text reasoning
        return self._profile.enable_thinking if request.enable_thinking is None else request.enable_thinking

    def _system_tokens(self, request: ModelRequest, thinking: bool) -> list[int]:
        """The tokens of the system turn alone (a snapshot point for hybrid models), or none."""
        messages = request.messages
        if len(messages) < 2 or messages[0].role != "system" or not self._engine.keeps_state_only:
            return []
        head = ModelRequest(messages[:1], template_kwargs=request.template_kwargs)
        try:
            text = self._render(head, thinking, add_generation_prompt=False).text
        except ModelError:
            return []
        return self._engine.text_tokens(text) if text else []

    def _generate(
        self,
        request: ModelRequest,
        on_token: Callable[[TokenDelta], None] | None,
        cancel: CancelToken | None,
    ) -> ModelReply:
        grammar = self._grammar(request)
        thinking = self._thinking(request, grammar)
        rendered = self._render(request, thinking)
        system = self._system_tokens(request, thinking)
        abort = threading.Event()
        self._engine.abort = abort
        if cancel is not None:
            cancel.on_cancel(abort.set)
        stats = EvalStats()
        started = time.perf_counter()
        with self._engine.tokenize(rendered) as prompt:
            # Where the system turn ends, if its tokens are those the whole prompt starts with.
            hints = [len(system)] if system and prompt.items[: len(system)] == system else []
            try:
                n_past, reused = self._cache.prefill(prompt.items, stats, hints=hints)
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
        max_new = min(request.max_tokens, max(0, self._engine.options.n_ctx - n_past))
        budget = self._fit_budget(request, thinking, max_new)
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
            while generated < max_new:
                if abort.is_set():
                    stop_reason = "cancelled"
                    break
                if budget.due(splitter.in_reasoning):
                    closing = budget.closing_text(splitter.reasoning)
                    forced = self._engine.text_tokens(closing, add_special=False)
                    if n_past + len(forced) > self._engine.options.n_ctx:
                        break
                    n_past = self._engine.evaluate(forced, n_past, logits_last=True, stats=stats)
                    for token in forced:
                        self._cache.generated(token)
                    generated += len(forced)
                    emit(splitter.feed(decoder.decode(closing.encode("utf-8"))))
                    log.debug("reasoning budget of %s tokens spent: the thought was closed", budget.budget)
                    continue
                token = self._engine.sample(sampler)
                generated += 1
                if self._engine.is_eog(token):
                    stop_reason = "stop"
                    break
                budget.count(splitter.in_reasoning)
                emit(splitter.feed(decoder.decode(self._engine.piece(token))))
                answer_cut = _find_stop(splitter.answer, request.stop)
                if answer_cut is not None:
                    stop_reason = "stop"
                    break
                if n_past + 1 > self._engine.options.n_ctx:
                    log.warning("the context (%d tokens) is full; the answer is cut", n_past)
                    break  # "length": the context ran out before max_tokens
                n_past = self._engine.evaluate([token], n_past, logits_last=True, stats=stats)
                self._cache.generated(token)
        except Aborted:
            stop_reason = "cancelled"
            self._cache.forget_context()
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

    def _fit_budget(self, request: ModelRequest, thinking: bool, max_new: int) -> ReasoningBudget:
        """The request's reasoning budget, shrunk so the thought leaves room for an answer in ``max_new``."""
        budget = request.reasoning_budget
        if budget is None or not thinking:
            return ReasoningBudget(None)
        fitted = min(budget, max(0, max_new - min(_ANSWER_RESERVE, max_new // 4)))
        if fitted < budget:
            log.info(
                "reasoning budget %d does not fit %d new tokens (context %d); thinking at most %d",
                budget,
                max_new,
                self._engine.options.n_ctx,
                fitted,
            )
        return ReasoningBudget(fitted)

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

    def prompt_text(self, request: ModelRequest) -> str:
        """The rendered prompt (media as ``<__media__>``), as llama.cpp's ``/apply-template`` returns it."""
        return self._render(request, self._thinking(request, self._grammar(request))).text

    def count_tokens(self, request: ModelRequest) -> tuple[int, list[int]]:
        """The prompt's tokens and each media part's, as the server would count them (nothing is evaluated)."""
        with self._lock:
            rendered = self._render(request, self._thinking(request, self._grammar(request)))
            with self._engine.tokenize(rendered) as prompt:
                media = [item.n_tokens for item in prompt.items if not isinstance(item, int)]
                return prompt.n_tokens, media

    def first_token_logprobs(self, request: ModelRequest, top: int = 10) -> tuple[int, list[tuple[int, float]]]:
        """Prefill ``request`` and return its prompt tokens and the first token's ``top`` log-probabilities.

        The same numbers llama.cpp's server reports with ``logprobs``/``top_logprobs`` (a float32 softmax of
        the raw logits over the whole vocabulary), for parity checks and calibration.
        """
        import numpy as np

        with self._lock:
            grammar = self._grammar(request)
            rendered = self._render(request, self._thinking(request, grammar))
            with self._engine.tokenize(rendered) as prompt:
                self._cache.prefill(prompt.items, EvalStats())
                n_tokens = prompt.n_tokens
            logits = self._engine.last_logits().astype(np.float32)
        shifted = logits - logits.max()
        logprobs = shifted - np.float32(np.log(np.exp(shifted).sum(dtype=np.float32)))
        order = np.argsort(-logits, kind="stable")[:top]
        return n_tokens, [(int(i), float(logprobs[i])) for i in order]

    def reset(self) -> None:
        """Forget the saved prefixes and cached media embeddings."""
        with self._lock:
            self._cache.reset()
            self._engine.embeddings.clear()
            self._engine.clear()

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._cache.reset()
                self._engine.close()

    def __enter__(self) -> OmniSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _square_side(canvas: ImageCanvas | None, profile: SessionProfile) -> int | None:
    """The square image side for callers that still letterbox: the fixed canvas, else the profile's side
    (a multiple of the Qwen factor, so libmtmd leaves it alone); the agent's format decides otherwise."""
    if canvas is not None and canvas.kind == "fixed":
        return canvas.side
    return profile.image_size


def _find_stop(text: str, stops: tuple[str, ...]) -> int | None:
    hits = [text.find(s) for s in stops if s]
    hits = [h for h in hits if h >= 0]
    return min(hits) if hits else None
