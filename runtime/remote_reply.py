"""One streamed reply put together: the typed chunks of ``remote_stream`` become a ``ModelReply``.

Tokens are passed on as they come (reasoning and answer apart, ``<think>`` split when the engine leaves it
in the content), usage and the engine's own timings are kept, and tool calls are gathered by index.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Literal

from omnidesk.agent.ports import ModelReply, TokenDelta, ToolCall
from omnidesk.runtime.llama.reasoning import ThinkSplitter
from omnidesk.runtime.remote_stream import Chunk, ToolCallDelta

__all__ = ["ReplyBuilder"]


class ReplyBuilder:
    """Gathers the typed chunks of one reply, passing tokens on as they come."""

    def __init__(self, on_token: Callable[[TokenDelta], None] | None) -> None:
        self._on_token = on_token
        self._started = time.perf_counter()
        self._first_token: float | None = None
        self._splitter = ThinkSplitter(thinking=False)
        self._reasoning: list[str] = []
        self._usage: dict[str, int] = {}
        self._prefill_ms: float | None = None
        self._decode_ms: float | None = None
        self._calls = _ToolCallStream()
        self.finish_reason: str | None = None
        self.done = False

    @property
    def complete(self) -> bool:
        """``[DONE]`` came, or at least a finish reason (some engines end the stream without ``[DONE]``)."""
        return self.done or self.finish_reason is not None

    def _emit(self, deltas: list[TokenDelta]) -> None:
        if self._on_token is not None:
            for delta in deltas:
                self._on_token(delta)

    def add(self, chunk: Chunk) -> None:
        if chunk.usage is not None:
            usage = chunk.usage
            details = usage.prompt_tokens_details
            for key, value in (
                ("prompt", usage.prompt_tokens),
                ("completion", usage.completion_tokens),
                ("cached", details.cached_tokens if details is not None else None),
            ):
                if value is not None:
                    self._usage[key] = value
        if chunk.timings is not None:
            self._prefill_ms = chunk.timings.prompt_ms if chunk.timings.prompt_ms is not None else self._prefill_ms
            self._decode_ms = chunk.timings.predicted_ms if chunk.timings.predicted_ms is not None else self._decode_ms
        for choice in chunk.choices:
            delta = choice.delta
            reasoning, content = (delta.reasoning_text, delta.content) if delta is not None else (None, None)
            if (reasoning or content) and self._first_token is None:
                self._first_token = time.perf_counter()
            if reasoning:
                self._reasoning.append(reasoning)
                self._emit([TokenDelta(reasoning, "reasoning")])
            if content:
                self._emit(self._splitter.feed(content))
            if delta is not None and delta.tool_calls:
                self._calls.feed(delta.tool_calls)
            self.finish_reason = choice.finish_reason or self.finish_reason

    def finish(self, *, cancelled: bool) -> ModelReply:
        self._emit(self._splitter.finish())
        done = time.perf_counter()
        first = self._first_token or done
        stop_reason: Literal["stop", "length", "cancelled"] = (
            "cancelled" if cancelled else "length" if self.finish_reason == "length" else "stop"
        )
        return ModelReply(
            text=self._splitter.answer.strip(),
            reasoning=("".join(self._reasoning) + self._splitter.reasoning).strip(),
            prompt_tokens=self._usage.get("prompt", 0),
            completion_tokens=self._usage.get("completion", 0),
            reused_tokens=self._usage.get("cached", 0),
            prefill_seconds=self._prefill_ms / 1000 if self._prefill_ms is not None else first - self._started,
            decode_seconds=self._decode_ms / 1000 if self._decode_ms is not None else done - first,
            stop_reason=stop_reason,
            tool_calls=self._calls.calls(),
        )


class _ToolCallStream:
    """Tool calls an engine's tool parser split off the answer (vLLM ``--tool-call-parser hermes``), as the
    stream delivers them: by ``index``, the name once, the JSON arguments in pieces. The pieces' types are
    checked (:class:`ToolCallDelta`); their content is kept as it came, and the format's parser judges the
    result like any model output."""

    def __init__(self) -> None:
        self._names: dict[int, str] = {}
        self._arguments: dict[int, list[str]] = {}

    def feed(self, deltas: list[ToolCallDelta]) -> None:
        for delta in deltas:
            index = len(self._names) if delta.index is None else delta.index
            if not 0 <= index < 64 or delta.function is None:
                continue
            name, arguments = delta.function.name, delta.function.arguments
            if name:
                self._names[index] = name
            if isinstance(arguments, str):
                self._arguments.setdefault(index, []).append(arguments)
            elif arguments is not None:  # some engines send the object itself
                self._arguments.setdefault(index, []).append(json.dumps(arguments, ensure_ascii=False))

    def calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(self._names.get(i, ""), "".join(self._arguments.get(i, [])))
            for i in sorted(set(self._names) | set(self._arguments))
        )
