"""The ``ModelClient`` port over any OpenAI-compatible ``/v1/chat/completions`` engine.

llama.cpp's server, vLLM, SGLang and Ollama all speak it. Images travel as PNG data URLs, audio as
``input_audio`` base64 WAV, the reasoning switch and the format's template variables as
``chat_template_kwargs``, the reasoning budget in the engine's own field (vLLM ``thinking_token_budget``,
llama.cpp ``reasoning_budget_tokens``; the engine is asked once what it is, see :class:`RemoteEngine`),
JSON schemas as ``response_format``. Replies stream (SSE) so tokens reach the GUI as they come and a stop request can
close the stream at once. Every failure becomes a :class:`RemoteEngineError` that says what to check;
the API key is sent as a bearer token and never logged.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import httpx
import numpy as np

from omnidesk.agent.errors import RemoteEngineError
from omnidesk.agent.ports import (
    AudioPart,
    CachePoint,
    CancelToken,
    ChatMessage,
    ImagePart,
    ModelCapabilities,
    ModelReply,
    ModelRequest,
    TextPart,
    TokenDelta,
    ToolCall,
)
from omnidesk.runtime.llama.prompt import neutralize_text
from omnidesk.runtime.llama.reasoning import ThinkSplitter

__all__ = ["RemoteEngine", "RemoteModelClient", "RemoteOptions", "encode_messages"]

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


def _png_data_url(pixels: Any) -> str:
    ok, data = cv2.imencode(".png", np.ascontiguousarray(pixels[:, :, 2::-1]))
    if not ok:
        raise RemoteEngineError("could not encode an image as PNG for the remote engine")
    return "data:image/png;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def _wav_base64(part: AudioPart) -> str:
    samples = np.clip(np.asarray(part.clip.samples, dtype=np.float32), -1.0, 1.0)
    pcm = (samples * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(part.clip.sample_rate)
        out.writeframes(pcm.tobytes())
    return base64.b64encode(buf.getvalue()).decode("ascii")


def encode_messages(messages: tuple[ChatMessage, ...]) -> list[dict[str, Any]]:
    """OpenAI chat messages; text-only messages become plain strings, the cache point is dropped."""
    out: list[dict[str, Any]] = []
    for message in messages:
        parts: list[dict[str, Any]] = []
        for part in message.parts:
            if isinstance(part, TextPart):
                text = neutralize_text(part.text)
                if parts and parts[-1]["type"] == "text":
                    parts[-1]["text"] += text
                else:
                    parts.append({"type": "text", "text": text})
            elif isinstance(part, ImagePart):
                parts.append({"type": "image_url", "image_url": {"url": _png_data_url(part.image.pixels)}})
            elif isinstance(part, AudioPart):
                parts.append({"type": "input_audio", "input_audio": {"data": _wav_base64(part), "format": "wav"}})
            elif isinstance(part, CachePoint):
                continue  # the server does its own prefix caching
        if all(p["type"] == "text" for p in parts):
            out.append({"role": message.role, "content": "".join(p["text"] for p in parts)})
        else:
            out.append({"role": message.role, "content": parts})
    return out


class RemoteModelClient:
    """A remote OpenAI-compatible engine as a ``ModelClient``."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str = "",
        api_key: str = "",
        timeout: float = 120.0,
        options: RemoteOptions | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        self._url = base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")
        self._root = base.removesuffix("/v1")
        self._model = model
        self._timeout = timeout
        self._options = options or RemoteOptions()
        self._engine: RemoteEngine | None = None if self._options.engine == "auto" else self._options.engine
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)), transport=transport
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

    def _probe_engine(self) -> RemoteEngine:
        try:
            models = self._client.get(self._root + "/v1/models")
            owners = {
                str(entry.get("owned_by", "")).lower()
                for entry in (models.json().get("data") or [])
                if isinstance(entry, dict)
            }
        except (httpx.HTTPError, json.JSONDecodeError, UnicodeDecodeError, AttributeError, TypeError):
            owners = set()
        if "vllm" in owners:
            return "vllm"
        if "llamacpp" in owners:
            return "llama.cpp"
        try:
            props = self._client.get(self._root + "/props")
            if props.status_code == 200 and "default_generation_settings" in props.json():
                return "llama.cpp"
        except (httpx.HTTPError, json.JSONDecodeError, UnicodeDecodeError, TypeError):
            pass
        return "generic"

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
        started = time.perf_counter()
        first_token: float | None = None
        splitter = ThinkSplitter(thinking=False)
        reasoning_parts: list[str] = []
        usage: dict[str, Any] = {}
        timings: dict[str, Any] = {}
        finish: str | None = None
        cancelled = False
        calls = _ToolCallStream()

        def emit(deltas: list[TokenDelta]) -> None:
            if on_token is not None:
                for delta in deltas:
                    on_token(delta)

        try:
            with self._client.stream("POST", self._url, json=body) as response:
                if cancel is not None:
                    cancel.on_cancel(response.close)
                self._check_status(response)
                for event in self._events(response):
                    if cancel is not None and cancel.cancelled:
                        cancelled = True
                        break
                    usage = event.get("usage") or usage
                    timings = event.get("timings") or timings
                    for choice in event.get("choices") or []:
                        delta = choice.get("delta") or {}
                        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                        content = delta.get("content")
                        if (reasoning or content) and first_token is None:
                            first_token = time.perf_counter()
                        if reasoning:
                            reasoning_parts.append(reasoning)
                            emit([TokenDelta(reasoning, "reasoning")])
                        if content:
                            emit(splitter.feed(content))
                        calls.feed(delta.get("tool_calls"))
                        finish = choice.get("finish_reason") or finish
        except (httpx.StreamClosed, httpx.ReadError, httpx.RemoteProtocolError) as exc:
            if cancel is not None and cancel.cancelled:
                cancelled = True
            else:
                raise RemoteEngineError(
                    f"the remote engine at {self._url} closed the connection mid-reply ({type(exc).__name__}); "
                    "check the server's log (it may have run out of memory)"
                ) from exc
        except httpx.TimeoutException as exc:
            raise RemoteEngineError(
                f"the remote engine at {self._url} did not answer within {self._timeout:.0f} s; check that "
                "the server is not overloaded, or raise model.remote_timeout"
            ) from exc
        except httpx.ConnectError as exc:
            raise RemoteEngineError(
                f"cannot connect to the remote engine at {self._url} ({exc}); check that the server runs "
                "and the URL/port in --remote (model.remote_url) is right"
            ) from exc
        except httpx.HTTPError as exc:
            raise RemoteEngineError(f"talking to the remote engine at {self._url} failed: {exc}") from exc
        emit(splitter.finish())
        done = time.perf_counter()
        stop_reason: Literal["stop", "length", "cancelled"] = (
            "cancelled" if cancelled else "length" if finish == "length" else "stop"
        )
        prompt_ms, decode_ms = timings.get("prompt_ms"), timings.get("predicted_ms")
        prefill = prompt_ms / 1000 if isinstance(prompt_ms, int | float) else (first_token or done) - started
        decode = decode_ms / 1000 if isinstance(decode_ms, int | float) else done - (first_token or done)
        details = usage.get("prompt_tokens_details") or {}
        return ModelReply(
            text=splitter.answer.strip(),
            reasoning=("".join(reasoning_parts) + splitter.reasoning).strip(),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            reused_tokens=int(details.get("cached_tokens") or 0),
            prefill_seconds=float(prefill),
            decode_seconds=float(decode),
            stop_reason=stop_reason,
            tool_calls=calls.calls(),
        )

    def _check_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        response.read()
        detail = _error_detail(response)
        if status == 400 and "sampler" in detail.lower() and "grammar" not in detail.lower():
            raise _SamplerRejected(detail)
        if status in (401, 403):
            hint = "the server rejected the API key; check model.remote_api_key"
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
        raise RemoteEngineError(f"remote engine at {self._url} answered HTTP {status}: {detail}; {hint}")

    @staticmethod
    def _events(response: httpx.Response) -> Iterator[dict[str, Any]]:
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                event = json.loads(data)
            except json.JSONDecodeError as exc:
                raise RemoteEngineError(f"the remote engine sent an unreadable event: {data[:200]!r}") from exc
            if isinstance(event, dict):
                if "error" in event:
                    raise RemoteEngineError(f"the remote engine reported an error: {_short(event['error'])}")
                yield event

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RemoteModelClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _ToolCallStream:
    """Tool calls an engine's tool parser split off the answer (vLLM ``--tool-call-parser hermes``), as the
    stream delivers them: by ``index``, the name once, the JSON arguments in pieces. Malformed pieces are
    kept as they came; the format's parser judges the result like any model output."""

    def __init__(self) -> None:
        self._names: dict[int, str] = {}
        self._arguments: dict[int, list[str]] = {}

    def feed(self, deltas: object) -> None:
        if not isinstance(deltas, list):
            return
        for delta in deltas:
            if not isinstance(delta, dict):
                continue
            index = delta.get("index", len(self._names))
            if not isinstance(index, int) or not 0 <= index < 64:
                continue
            function = delta.get("function") or {}
            if not isinstance(function, dict):
                continue
            name, arguments = function.get("name"), function.get("arguments")
            if isinstance(name, str) and name:
                self._names[index] = name
            if isinstance(arguments, str):
                self._arguments.setdefault(index, []).append(arguments)
            elif isinstance(arguments, dict):  # some engines send the object itself
                self._arguments.setdefault(index, []).append(json.dumps(arguments, ensure_ascii=False))

    def calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(self._names.get(i, ""), "".join(self._arguments.get(i, [])))
            for i in sorted(set(self._names) | set(self._arguments))
        )


class _SamplerRejected(RemoteEngineError):
    """HTTP 400 "Failed to initialize samplers" (llama.cpp could not use the output constraint)."""


def _short(value: object) -> str:
    text = value.get("message", value) if isinstance(value, dict) else value
    return str(text)[:300]


def _error_detail(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:300] or response.reason_phrase
    if isinstance(payload, dict) and "error" in payload:
        return _short(payload["error"])
    return str(payload)[:300]
