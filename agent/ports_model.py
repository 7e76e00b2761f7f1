"""The model port: the conversation a format lays out (:class:`ModelRequest` of :class:`ChatMessage`
parts), what comes back (:class:`ModelReply`), what the model can do (:class:`ModelCapabilities`) and the
:class:`CancelToken` that reaches into a generation. Re-exported from ``agent/ports.py``, whose module doc
says how requests mark the prefix a local runtime may reuse (:class:`CachePoint`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from omnidesk.agent.canvas import ImageCanvas, PointingReference
from omnidesk.agent.geometry import ImageTransform

__all__ = [
    "AudioClip",
    "AudioPart",
    "CachePoint",
    "CancelToken",
    "ChatMessage",
    "ImagePart",
    "ModelCapabilities",
    "ModelClient",
    "ModelImage",
    "ModelReply",
    "ModelRequest",
    "Part",
    "Pixels",
    "Samples",
    "TemplateValue",
    "TextPart",
    "TokenDelta",
    "ToolCall",
    "VideoClip",
    "VideoEngine",
    "VideoPart",
    "VideoServing",
]

Pixels = npt.NDArray[np.uint8]
Samples = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True, eq=False)
class ModelImage:
    """An image as the model will see it, with the way back to the monitor.

    ``pixels`` is ``H×W×3`` uint8 RGB. ``kind`` says what it is: the letterboxed ``overview`` of a whole
    monitor (the image every point of the model refers to), a native-resolution ``crop`` of a changed
    region, or a ``tile``. ``label`` is the text put before it in the prompt (capture time, box).
    ``content_hash`` identifies the pixels (for the runtime's embedding cache).
    """

    pixels: Pixels
    transform: ImageTransform
    kind: Literal["overview", "crop", "tile"]
    timestamp: float
    label: str = ""
    content_hash: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class AudioClip:
    """Mono float32 PCM in [-1, 1]; ``start``/``end`` on the monotonic clock frames use."""

    samples: Samples
    sample_rate: int
    start: float
    end: float

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


# --- model --------------------------------------------------------------------------------------------


class CancelToken:
    """A thread-safe stop request that reaches into generations and waits (not a global flag)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def cancel(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep up to ``timeout`` s, waking at once on cancel; True if cancelled."""
        return self._event.wait(timeout)

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from the cancelling thread) when cancelled; at once if already cancelled."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True, eq=False)
class ImagePart:
    image: ModelImage


@dataclass(frozen=True, slots=True, eq=False)
class AudioPart:
    clip: AudioClip


@dataclass(frozen=True, slots=True, eq=False)
class VideoClip:
    """An encoded clip for engines that take video (an MP4 with one H.264 stream, no sound).

    ``start`` / ``end`` are on the clock of what it was cut from; the clip's own times count from 0 at
    ``start``. ``fps`` is constant and ``frames`` is the number of frames it holds.
    """

    data: bytes
    mime: str
    start: float
    end: float
    fps: float
    frames: int
    width: int
    height: int


@dataclass(frozen=True, slots=True, eq=False)
class VideoPart:
    clip: VideoClip


@dataclass(frozen=True, slots=True)
class CachePoint:
    """Marks the end of the append-only prefix; the runtime may save its state here (see module doc)."""


Part = TextPart | ImagePart | AudioPart | VideoPart | CachePoint


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant", "tool"]
    parts: tuple[Part, ...]

    @staticmethod
    def text(role: Literal["system", "user", "assistant", "tool"], text: str) -> ChatMessage:
        return ChatMessage(role, (TextPart(text),))


TemplateValue = bool | int | float | str


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """One generation. ``json_schema`` or ``grammar`` (GBNF) constrain the output; at most one is set.

    ``enable_thinking`` turns the model's reasoning on or off (None: the runtime's default).
    ``reasoning_budget`` is the most reasoning tokens before the engine closes the thought and lets the
    answer follow (None: no limit); remote engines get it in their own field (vLLM
    ``thinking_token_budget``, llama.cpp ``reasoning_budget_tokens``). ``template_kwargs`` are further chat
    template variables the model's format is served with (e.g. Nemotron's ``reasoning_budget`` and
    ``truncate_history_thinking``), passed next to ``enable_thinking``.
    """

    messages: tuple[ChatMessage, ...]
    max_tokens: int = 512
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    enable_thinking: bool | None = None
    grammar: str | None = None
    json_schema: dict[str, object] | None = None
    stop: tuple[str, ...] = ()
    reasoning_budget: int | None = None
    template_kwargs: Mapping[str, TemplateValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TokenDelta:
    """A streamed piece of output; ``channel`` says whether it is reasoning or the answer."""

    text: str
    channel: Literal["reasoning", "answer"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call an engine's tool parser split off the answer (OpenAI ``message.tool_calls``).

    ``arguments`` is the JSON text as the engine returned it (vLLM's hermes parser: a string); the output
    parser decodes and checks it like a ``<tool_call>`` written in the text.
    """

    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ModelReply:
    """One generation's result: ``text`` (the answer), ``reasoning`` (a thinking model's separate stream)
    and ``tool_calls`` (when the engine parses tool calls out of the answer itself)."""

    text: str
    reasoning: str
    prompt_tokens: int
    completion_tokens: int
    reused_tokens: int
    prefill_seconds: float
    decode_seconds: float
    stop_reason: Literal["stop", "length", "cancelled"]
    images_encoded: int = 0
    images_from_cache: int = 0
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    """What the model behind a client can do.

    ``image_size`` is the square side a fixed-size encoder resizes everything onto (or None).
    ``image_canvas`` is how the in-process engine sizes an image it is sent (None for remote engines, which
    get images at the format's own sizing); ``pointing_reference`` says whether the model's points refer to
    that whole canvas or to the picture on it, where the two differ (letterboxing).
    ``slow_decoding`` says that tokens come slowly (a local model on the CPU only), so formats pick their
    short variant (e.g. no thinking) by default.
    """

    name: str
    vision: bool
    audio: bool
    image_size: int | None
    coordinate_convention: Literal["fraction", "thousandths", "image_pixels"]
    context_length: int
    remote: bool = False
    image_canvas: ImageCanvas | None = None
    pointing_reference: PointingReference = "canvas"
    slow_decoding: bool = False


class ModelClient(Protocol):
    """A loaded omni model, local (llama.cpp) or remote (OpenAI-compatible)."""

    @property
    def capabilities(self) -> ModelCapabilities: ...

    def generate(
        self,
        request: ModelRequest,
        *,
        on_token: Callable[[TokenDelta], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> ModelReply:
        """Run one generation. A cancel returns a reply with ``stop_reason="cancelled"`` promptly."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class VideoServing:
    """How an engine that takes video serves it, as far as it says (None: not said).

    ``pruning_rate`` is the server's EVS launch option (vLLM ``--video-pruning-rate``), ``num_frames`` /
    ``fps`` its frame sampling (``--media-io-kwargs '{"video": {...}}'``), ``context_length`` its
    ``max_model_len``. ``exposed`` says whether the server reported its launch options at all.
    """

    engine: str
    context_length: int | None = None
    pruning_rate: float | None = None
    num_frames: int | None = None
    fps: float | None = None
    exposed: bool = False


@runtime_checkable
class VideoEngine(Protocol):
    """A client whose engine may take a clip as video (:class:`VideoPart`)."""

    def video_serving(self) -> VideoServing | None:
        """How the engine serves video, or None when it takes no video (asked once, then remembered)."""
        ...
