"""The ``ModelClient`` port over any OpenAI-compatible ``/v1/chat/completions`` engine.

llama.cpp's server, vLLM, SGLang and Ollama all speak it. Images travel as PNG data URLs, audio as
``input_audio`` base64 WAV, the reasoning switch and the format's template variables as
``chat_template_kwargs``, the reasoning budget in the engine's own field (vLLM ``thinking_token_budget``,
llama.cpp ``reasoning_budget_tokens``; the engine is asked once what it is, see :class:`RemoteEngine`),
JSON schemas as ``response_format``. Replies stream (SSE) so tokens reach the GUI as they come and a stop request can
close the stream at once. Every failure becomes a :class:`RemoteEngineError` that says what to check;
the API key is sent as a bearer token and never logged, and the URL is shown without its credentials.

The engine is untrusted input (``runtime/remote_stream.py``): one request ends within ``deadline`` seconds
in all (reads also time out after ``timeout`` s of silence), lines and bodies are capped, every field is
typed, and a stop request shuts the connection down at once, even in the middle of a blocked read. Each
request opens its own connection (no keep-alive) so that it can be ended on its own. Proxy variables
(``HTTP_PROXY``, ``ALL_PROXY``, …) are ignored for an engine on loopback: the screen must not leave the
machine through a proxy when the person chose a local engine; an engine elsewhere goes through the proxy
the person configured, after their consent to that engine (``app/remote_consent.py``).

This module is the transport and the engine detection; the messages' encoding lives in
``remote_messages.py`` (``encode_messages`` is re-exported here) and the reply's assembly in
``remote_reply.py``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from omnidesk.agent.errors import RemoteEngineError
from omnidesk.agent.ports import (
    CancelToken,
    ModelCapabilities,
    ModelReply,
    ModelRequest,
    TokenDelta,
    VideoServing,
)
from omnidesk.runtime.remote_messages import encode_messages
from omnidesk.runtime.remote_reply import ReplyBuilder
from omnidesk.runtime.remote_stream import (
    RequestGuard,
    StreamLimits,
    parse_chunk,
    read_capped,
    short_detail,
    sse_data,
)
from omnidesk.runtime.urls import api_endpoint, is_loopback_url, redact_url

__all__ = ["RemoteEngine", "RemoteModelClient", "RemoteOptions", "StreamLimits", "encode_messages"]

RemoteEngine = Literal["vllm", "llama.cpp", "generic"]
"""Which server runs the model: each takes the reasoning budget in a field of its own (``generic``: none)."""

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RemoteOptions:
    """What the client tells callers about the remote model (from the profile)."""

    name: str = ""
    vision: bool = True
    audio: bool = True
    image_size: int | None = 512
    coordinate_convention: Literal["fraction", "thousandths", "image_pixels"] = "fraction"
    context_length: int = 32768
    enable_thinking: bool = True
    engine: RemoteEngine | Literal["auto"] = "auto"


class RemoteModelClient:
    """A remote OpenAI-compatible engine as a ``ModelClient``."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str = "",
        api_key: str = "",
        timeout: float = 120.0,
        limits: StreamLimits | None = None,
        options: RemoteOptions | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``timeout``: seconds a read may wait for the engine; ``limits``: the whole request's deadline
        and the size caps (:class:`StreamLimits`)."""
        base = base_url.rstrip("/")
        self._url = api_endpoint(base, "chat/completions")
        self._shown_url = redact_url(self._url)
        self._root = base.removesuffix("/v1")
        self._model = model
        self._timeout = timeout
        self._limits = limits or StreamLimits()
        self._options = options or RemoteOptions()
        self._engine: RemoteEngine | None = None if self._options.engine == "auto" else self._options.engine
        self._video: tuple[VideoServing | None] | None = None
        headers = {"Accept": "text/event-stream", "Accept-Encoding": "identity"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            limits=httpx.Limits(max_keepalive_connections=0),
            trust_env=not is_loopback_url(base),
            transport=transport,
        )
        self._capabilities = ModelCapabilities(
            name=self._options.name or model or base,
            vision=self._options.vision,
            audio=self._options.audio,
            image_size=self._options.image_size,
            coordinate_convention=self._options.coordinate_convention,
            context_length=self._options.context_length,
            remote=True,
        )

    @property
    def capabilities(self) -> ModelCapabilities:
        return self._capabilities

    @property
    def engine(self) -> RemoteEngine:
        """The server's kind: from the options, else asked once (``/v1/models`` ``owned_by``, llama.cpp's
        ``/props``); a server that says neither is ``generic`` and gets no engine-specific field."""
        if self._engine is None:
            self._engine = self._probe_engine()
            log.info("the remote engine is %s", self._engine)
        return self._engine

    def video_serving(self) -> VideoServing | None:
        """How the engine serves video (``runtime/remote_video.py``); None unless it is vLLM."""
        if self._video is None:
            from omnidesk.runtime.remote_video import SERVER_INFO_PATH, video_serving_from

            serving = None
            if self.engine == "vllm":
                models = self._probe_json(api_endpoint(self._root, "models"))
                serving = video_serving_from(models, self._probe_json(self._root + SERVER_INFO_PATH))
            self._video = (serving,)
        return self._video[0]

    def _probe_engine(self) -> RemoteEngine:
        models = self._probe_json(api_endpoint(self._root, "models"))
        data = models.get("data") if isinstance(models, dict) else None
        owners = (
            {str(entry.get("owned_by", "")).lower()[:64] for entry in data or [] if isinstance(entry, dict)}
            if isinstance(data, list)
            else set()
        )
        if "vllm" in owners:
            return "vllm"
        if "llamacpp" in owners:
            return "llama.cpp"
        props = self._probe_json(self._root + "/props")
        if isinstance(props, dict) and "default_generation_settings" in props:
            return "llama.cpp"
        return "generic"

    def _probe_json(self, url: str) -> object:
        """A small JSON answer from the engine (capped and within the deadline, like every request), or
        ``None`` when there is none: the probe only chooses an optional field."""
        with RequestGuard(self._limits.deadline) as guard:
            try:
                with self._client.stream("GET", url, extensions={"trace": guard.trace}) as response:
                    if response.status_code != 200:
                        return None
                    raw = read_capped(response, self._limits.max_error_bytes)
            except httpx.HTTPError:
                return None
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            return None

    def _body(self, request: ModelRequest, thinking: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": encode_messages(request.messages),
            "max_tokens": request.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
            "chat_template_kwargs": {"enable_thinking": thinking, **request.template_kwargs},
        }
        if thinking and request.reasoning_budget is not None:
            field = {"vllm": "thinking_token_budget", "llama.cpp": "reasoning_budget_tokens"}.get(self.engine)
            if field is not None:
                body[field] = request.reasoning_budget
        if self._model:
            body["model"] = self._model
        for key in ("temperature", "top_p", "top_k", "seed"):
            value = getattr(request, key)
            if value is not None:
                body[key] = value
        if request.stop:
            body["stop"] = list(request.stop)
        if request.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "omnidesk_output", "schema": request.json_schema, "strict": True},
            }
        if request.grammar is not None:
            body["grammar"] = request.grammar  # llama.cpp server extension
        return body

    def generate(
        self,
        request: ModelRequest,
        *,
        on_token: Callable[[TokenDelta], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> ModelReply:
        thinking = self._options.enable_thinking if request.enable_thinking is None else request.enable_thinking
        if request.json_schema is not None or request.grammar is not None:
            thinking = False
        body = self._body(request, thinking)
        try:
            return self._stream(body, on_token, cancel)
        except _SamplerRejected:
            if request.json_schema is None:
                raise
            # Some llama.cpp builds fail to build a sampler from response_format's schema; send the
            # same constraint as a GBNF grammar (llama.cpp's own extension) instead.
            from omnidesk.runtime.llama.grammar import schema_to_gbnf

            log.info("the remote engine rejected response_format; retrying with a GBNF grammar")
            body.pop("response_format")
            body["grammar"] = schema_to_gbnf(request.json_schema)
            return self._stream(body, on_token, cancel)

    def _stream(
        self,
        body: dict[str, Any],
        on_token: Callable[[TokenDelta], None] | None,
        cancel: CancelToken | None,
    ) -> ModelReply:
        reply = ReplyBuilder(on_token)
        with RequestGuard(self._limits.deadline) as guard:
            if cancel is not None:
                cancel.on_cancel(guard.cancel)
            try:
                self._read_reply(body, guard, reply)
            except RemoteEngineError:
                if guard.reason is None:
                    raise
            except httpx.HTTPError as exc:
                if guard.reason is None:
                    raise self._translated(exc) from exc
        if guard.reason == "deadline" and not reply.complete:
            raise RemoteEngineError(
                f"the remote engine at {self._shown_url} did not finish its reply within "
                f"{self._limits.deadline:.0f} s; check that it is not overloaded, ask for fewer tokens, or raise "
                "model.remote_deadline"
            )
        if guard.reason is None and not reply.complete:
            raise RemoteEngineError(
                f"the remote engine at {self._shown_url} ended the stream before the reply was complete; "
                "check the server's log (it may have run out of memory)"
            )
        return reply.finish(cancelled=guard.reason == "cancelled")

    def _read_reply(self, body: dict[str, Any], guard: RequestGuard, reply: ReplyBuilder) -> None:
        if guard.reason is not None:  # stopped before it started
            return
        with self._client.stream("POST", self._url, json=body, extensions={"trace": guard.trace}) as response:
            self._check_status(response)
            kind = response.headers.get("content-type", "text/event-stream").split(";")[0].strip().lower()
            if kind != "text/event-stream":
                raise RemoteEngineError(
                    f"the remote engine at {self._shown_url} answered with {kind[:60]!r}, not an event stream; "
                    "it must support streaming chat completions (stream: true)"
                )
            for data in sse_data(response.iter_bytes(), self._limits, guard):
                if data.strip() == "[DONE]":
                    reply.done = True
                    return
                reply.add(parse_chunk(data))
                if guard.reason is not None:
                    return

    def _translated(self, exc: httpx.HTTPError) -> RemoteEngineError:
        """A transport error as the message that says what to check."""
        if isinstance(exc, httpx.TimeoutException):
            return RemoteEngineError(
                f"the remote engine at {self._shown_url} did not answer within {self._timeout:.0f} s; check that "
                "the server is not overloaded, or raise model.remote_timeout"
            )
        if isinstance(exc, httpx.ConnectError):
            return RemoteEngineError(
                f"cannot connect to the remote engine at {self._shown_url} ({exc}); check that the server runs "
                "and the URL/port in --remote (model.remote_url) is right"
            )
        if isinstance(exc, httpx.StreamClosed | httpx.ReadError | httpx.RemoteProtocolError):
            return RemoteEngineError(
                f"the remote engine at {self._shown_url} closed the connection mid-reply ({type(exc).__name__}); "
                "check the server's log (it may have run out of memory)"
            )
        return RemoteEngineError(f"talking to the remote engine at {self._shown_url} failed: {type(exc).__name__}")

    def _check_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        detail = _error_detail(read_capped(response, self._limits.max_error_bytes), response.reason_phrase)
        if status == 400 and "sampler" in detail.lower() and "grammar" not in detail.lower():
            raise _SamplerRejected(detail)
        if status in (401, 403):
            hint = "the server rejected the API key; set it with `omnidesk config set model.remote_api_key -`"
        elif status == 404:
            hint = "the URL has no /v1/chat/completions; --remote should be the server root, e.g. http://host:8080"
        elif "context" in detail.lower():
            hint = "the prompt is longer than the server's context; start it with a larger context or send less"
        elif status == 413:
            hint = "the request is too large; send fewer or smaller images"
        elif status < 500:
            hint = "the server refused the request; check the model name and that it accepts images/audio"
        else:
            hint = "the server failed; check its log"
        raise RemoteEngineError(f"remote engine at {self._shown_url} answered HTTP {status}: {detail}; {hint}")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RemoteModelClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _SamplerRejected(RemoteEngineError):
    """HTTP 400 "Failed to initialize samplers" (llama.cpp could not use the output constraint)."""


def _error_detail(body: bytes, reason: str) -> str:
    """The message of an error body (JSON ``{"error": …}`` or text), one short line."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return body.decode("utf-8", "replace").strip()[:300] or reason
    if isinstance(payload, dict) and "error" in payload:
        return short_detail(payload["error"])
    return str(payload)[:300]
