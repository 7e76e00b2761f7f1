"""In-memory fakes for every port in ``omnidesk.agent.ports`` (and the secret store).

They are passed in through constructors like the real adapters; none of them patches anything.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from omnidesk.agent.formats import ImageSizing
from omnidesk.agent.geometry import ImageTransform, MonitorInfo, Rect
from omnidesk.agent.ports import (
    AudioClip,
    CancelToken,
    ConfirmationRequest,
    Frame,
    ImagePart,
    ModelCapabilities,
    ModelImage,
    ModelReply,
    ModelRequest,
    Observation,
    SettleResult,
    TargetMatch,
    TargetPatch,
    TokenDelta,
    WindowInfo,
)

if TYPE_CHECKING:
    from omnidesk.agent.secrets import SecretBinding

__all__ = [
    "FakeClock",
    "FakeMicrophone",
    "FakeModel",
    "FakeSampler",
    "FakeSecretStore",
    "FakeTargetLocator",
    "FakeUserActivity",
    "FakeWindowInspector",
    "MonitorsScreen",
    "RecordingInputDevice",
    "RecordingRedactor",
    "ScriptedConfirmer",
    "StaticScreen",
    "letterbox",
    "make_frame",
    "request_images",
    "whole_image",
]

MONITOR_1080P = MonitorInfo(index=1, name="DUMMY0", geometry=Rect(0, 0, 1920, 1080), primary=True)


# --- screen -------------------------------------------------------------------------------------------


def make_frame(
    monitor: MonitorInfo = MONITOR_1080P,
    color: tuple[int, int, int] = (40, 40, 40),
    boxes: Sequence[tuple[Rect, tuple[int, int, int]]] = (),
    timestamp: float = 0.0,
    seq: int = 0,
) -> Frame:
    """A BGRA frame of ``monitor``'s size filled with RGB ``color``, with RGB-coloured ``boxes`` drawn."""
    h, w = monitor.geometry.height, monitor.geometry.width
    pixels = np.empty((h, w, 4), dtype=np.uint8)
    pixels[:, :, :3] = color[::-1]
    pixels[:, :, 3] = 255
    for rect, rgb in boxes:
        pixels[rect.y : rect.bottom, rect.x : rect.right, :3] = rgb[::-1]
    pixels.setflags(write=False)
    return Frame(pixels=pixels, timestamp=timestamp, monitor=monitor, seq=seq)


def whole_image(frame: Frame, sizing: ImageSizing | None = None) -> ModelImage:
    """The whole frame as a model's overview, scaled (nearest pixel) to ``sizing``'s size — no letterbox."""
    w, h = frame.width, frame.height
    tw, th = (sizing or ImageSizing.native()).size_for(w, h)
    cols = np.minimum((np.arange(tw) * (w / tw) + w / tw / 2).astype(int), w - 1)
    rows = np.minimum((np.arange(th) * (h / th) + h / th / 2).astype(int), h - 1)
    pixels = np.ascontiguousarray(frame.pixels[rows][:, cols, 2::-1])
    transform = ImageTransform(
        monitor=frame.monitor,
        image_width=tw,
        image_height=th,
        content=Rect(0, 0, tw, th),
        scale_x=w / tw,
        scale_y=h / th,
        offset_x=0.0,
        offset_y=0.0,
    )
    return ModelImage(pixels=pixels, transform=transform, kind="overview", timestamp=frame.timestamp)


def letterbox(frame: Frame, size: int) -> ModelImage:
    """A centred letterboxed ``size``² RGB overview by plain arithmetic (nearest pixel)."""
    w, h = frame.width, frame.height
    scale = max(w, h) / size
    cw, ch = round(w / scale), round(h / scale)
    x0, y0 = (size - cw) // 2, (size - ch) // 2
    sx, sy = w / cw, h / ch
    cols = np.minimum((np.arange(cw) * sx + sx / 2).astype(int), w - 1)
    rows = np.minimum((np.arange(ch) * sy + sy / 2).astype(int), h - 1)
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    canvas[y0 : y0 + ch, x0 : x0 + cw] = frame.pixels[rows][:, cols, 2::-1]
    transform = ImageTransform(
        monitor=frame.monitor,
        image_width=size,
        image_height=size,
        content=Rect(x0, y0, cw, ch),
        scale_x=sx,
        scale_y=sy,
        offset_x=-x0 * sx,
        offset_y=-y0 * sy,
    )
    return ModelImage(pixels=canvas, transform=transform, kind="overview", timestamp=frame.timestamp)


class StaticScreen:
    """A Screen that hands out the given frames in turn (the last one forever)."""

    def __init__(self, frames: Sequence[Frame]) -> None:
        if not frames:
            raise ValueError("StaticScreen needs at least one frame")
        self._frames = list(frames)
        self._next = 0
        self.grabs = 0

    def monitors(self) -> list[MonitorInfo]:
        seen: dict[int, MonitorInfo] = {}
        for frame in self._frames:
            seen.setdefault(frame.monitor.index, frame.monitor)
        return list(seen.values())

    def grab(self, monitor: int) -> Frame:
        frame = self._frames[min(self._next, len(self._frames) - 1)]
        self._next += 1
        self.grabs += 1
        return frame


class MonitorsScreen:
    """A Screen of several monitors, each showing one frame: ``grab(n)`` is monitor ``n``'s; ``grabbed`` records n."""

    def __init__(self, frames: Sequence[Frame]) -> None:
        self._frames = {frame.monitor.index: frame for frame in frames}
        self.grabbed: list[int] = []

    def monitors(self) -> list[MonitorInfo]:
        return [frame.monitor for frame in self._frames.values()]

    def grab(self, monitor: int) -> Frame:
        self.grabbed.append(monitor)
        return self._frames[monitor]


class FakeSampler:
    """A FrameSampler over a Screen (or a callable giving frames): every observe is a keyframe overview.

    ``frames`` may be a :class:`StaticScreen` or a zero-argument callable returning the current frame (so
    a test can change the screen in reaction to input). Overviews are the whole frame sized by ``sizing``
    (native by default), as the real sampler makes them; ``image_size`` letterboxes onto a square instead.
    """

    def __init__(
        self,
        frames: StaticScreen | Callable[[], Frame],
        *,
        sizing: ImageSizing | None = None,
        image_size: int | None = None,
        settled: bool = True,
    ) -> None:
        self._grab: Callable[[], Frame] = (lambda: frames.grab(0)) if isinstance(frames, StaticScreen) else frames
        self._sizing = sizing
        self._image_size = image_size
        self._settled = settled
        self._last_pixels: np.ndarray | None = None
        self._monitor: MonitorInfo | None = None
        self.observations: list[Observation] = []
        self.settle_calls = 0
        self.settle_cancels: list[CancelToken | None] = []
        self.settle_timeouts: list[float] = []

    @property
    def monitor(self) -> MonitorInfo:
        if self._monitor is None:
            self._monitor = self._grab().monitor
        return self._monitor

    def observe(self, *, force_keyframe: bool = False) -> Observation:
        frame = self._grab()
        self._monitor = frame.monitor
        changed = 1.0
        if self._last_pixels is not None and self._last_pixels.shape == frame.pixels.shape:
            changed = float(np.mean(np.any(self._last_pixels != frame.pixels, axis=2)))
        self._last_pixels = frame.pixels
        obs = Observation(
            images=(
                whole_image(frame, self._sizing) if self._image_size is None else letterbox(frame, self._image_size),
            ),
            timestamp=frame.timestamp,
            keyframe=True,
            changed_fraction=changed,
        )
        self.observations.append(obs)
        return obs

    def wait_settled(
        self, *, still_for: float = 0.3, timeout: float = 3.0, cancel: CancelToken | None = None
    ) -> SettleResult:
        self.settle_calls += 1
        self.settle_cancels.append(cancel)
        self.settle_timeouts.append(timeout)
        return SettleResult(settled=self._settled, waited_seconds=0.0)


# --- model --------------------------------------------------------------------------------------------

Reply: TypeAlias = str | ModelReply
Script: TypeAlias = Sequence[Reply] | Callable[[ModelRequest], Reply]

CAPS_FRACTION = ModelCapabilities(
    name="fake-nemotron",
    vision=True,
    audio=True,
    image_size=512,
    coordinate_convention="fraction",
    context_length=32768,
)


def request_images(request: ModelRequest) -> list[ModelImage]:
    """Every image of a request, in prompt order."""
    return [p.image for m in request.messages for p in m.parts if isinstance(p, ImagePart)]


class FakeModel:
    """A ModelClient scripted by a list of replies or by a callable that sees each request.

    Replies stream to ``on_token`` in chunks of ``chunk`` characters; between chunks the fake checks the
    cancel token (and waits ``token_delay`` s on it), so a stop request ends it like the real runtime.
    ``requests`` records every request.
    """

    def __init__(
        self,
        script: Script,
        *,
        capabilities: ModelCapabilities = CAPS_FRACTION,
        chunk: int = 8,
        token_delay: float = 0.0,
    ) -> None:
        self._script = script
        self._capabilities = capabilities
        self._chunk = chunk
        self._token_delay = token_delay
        self.requests: list[ModelRequest] = []
        self.closed = False
        self.generating = threading.Event()

    @property
    def capabilities(self) -> ModelCapabilities:
        return self._capabilities

    def _next(self, request: ModelRequest) -> ModelReply:
        if callable(self._script):
            reply = self._script(request)
        else:
            index = len(self.requests) - 1
            if index >= len(self._script):
                raise AssertionError(f"FakeModel ran out of scripted replies after {index} requests")
            reply = self._script[index]
        if isinstance(reply, ModelReply):
            return reply
        return ModelReply(
            text=reply,
            reasoning="",
            prompt_tokens=100,
            completion_tokens=max(1, len(reply) // 4),
            reused_tokens=0,
            prefill_seconds=0.0,
            decode_seconds=0.0,
            stop_reason="stop",
        )

    def generate(
        self,
        request: ModelRequest,
        *,
        on_token: Callable[[TokenDelta], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> ModelReply:
        self.requests.append(request)
        reply = self._next(request)
        self.generating.set()
        try:
            sent: list[str] = []
            for start in range(0, max(1, len(reply.text)), self._chunk):
                if cancel is not None and (cancel.cancelled or (self._token_delay and cancel.wait(self._token_delay))):
                    text = "".join(sent)
                    return ModelReply(
                        text=text,
                        reasoning=reply.reasoning,
                        prompt_tokens=reply.prompt_tokens,
                        completion_tokens=len(text) // 4,
                        reused_tokens=reply.reused_tokens,
                        prefill_seconds=0.0,
                        decode_seconds=0.0,
                        stop_reason="cancelled",
                    )
                piece = reply.text[start : start + self._chunk]
                sent.append(piece)
                if on_token is not None and piece:
                    on_token(TokenDelta(piece, "answer"))
            return reply
        finally:
            self.generating.clear()

    def close(self) -> None:
        self.closed = True


# --- input, confirmation, time, windows, audio, secrets -----------------------------------------------


@dataclass
class RecordingInputDevice:
    """An InputDevice that records calls as tuples, e.g. ``("click", 10, 20, "left", 1, ())``.

    ``held`` holds buttons/keys pressed and not yet released (a drag presses during ``drag`` when
    ``fail_during_drag`` is set, to test release paths). ``user_moves_to`` simulates the person moving
    the mouse: :meth:`position` reports it from then on.
    """

    calls: list[tuple[object, ...]] = field(default_factory=list)
    held: set[str] = field(default_factory=set)
    pointer: tuple[int, int] = (0, 0)
    fail_during_drag: bool = False
    on_call: Callable[[tuple[object, ...]], None] | None = None

    def _record(self, *call: object) -> None:
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)

    def position(self) -> tuple[int, int]:
        return self.pointer

    def user_moves_to(self, x: int, y: int) -> None:
        self.pointer = (x, y)

    def move(self, x: int, y: int) -> None:
        self.pointer = (x, y)
        self._record("move", x, y)

    def click(self, x: int, y: int, *, button: str = "left", count: int = 1, modifiers: Sequence[str] = ()) -> None:
        self.pointer = (x, y)
        self._record("click", x, y, button, count, tuple(modifiers))

    def drag(self, x0: int, y0: int, x1: int, y1: int, *, button: str = "left") -> None:
        self.held.add(f"mouse:{button}")
        if self.fail_during_drag:
            from omnidesk.agent.errors import InputError

            raise InputError("simulated failure in the middle of a drag")
        self.held.discard(f"mouse:{button}")
        self.pointer = (x1, y1)
        self._record("drag", x0, y0, x1, y1, button)

    def scroll(self, x: int | None, y: int | None, *, dx: int = 0, dy: int = 0) -> None:
        if x is not None and y is not None:
            self.pointer = (x, y)
        self._record("scroll", x, y, dx, dy)

    def type_text(self, text: str) -> None:
        self._record("type", text)

    def hotkey(self, keys: Sequence[str]) -> None:
        self._record("hotkey", tuple(keys))

    def release_all(self) -> None:
        self.held.clear()
        self._record("release_all")

    @property
    def actions(self) -> list[tuple[object, ...]]:
        """Calls other than ``release_all``."""
        return [c for c in self.calls if c[0] != "release_all"]


class FakeClock:
    """A Clock whose time moves only when slept on or advanced."""

    def __init__(self, start: float = 1000.0, wall_start: float = 1_700_000_000.0) -> None:
        self.now = start
        self._wall_offset = wall_start - start
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def wall_time(self) -> float:
        return self.now + self._wall_offset


class ScriptedConfirmer:
    """A Confirmer answering from scripts (default: refuse / no answer); records what it was asked."""

    def __init__(self, confirms: Sequence[bool] = (), answers: Sequence[str | None] = ()) -> None:
        self._confirms = list(confirms)
        self._answers = list(answers)
        self.requests: list[ConfirmationRequest] = []
        self.questions: list[str] = []

    def confirm(self, request: ConfirmationRequest) -> bool:
        self.requests.append(request)
        return self._confirms.pop(0) if self._confirms else False

    def ask(self, question: str) -> str | None:
        self.questions.append(question)
        return self._answers.pop(0) if self._answers else None


class FakeWindowInspector:
    """A WindowInspector over a fixed list of windows (topmost last); ``focus`` is the window with keyboard
    focus (default: the topmost), or an exception to raise; ``focus_after`` is what it becomes after the
    first ``focused_window`` call (the confirmation bar took it)."""

    def __init__(
        self,
        windows: Sequence[WindowInfo] = (),
        *,
        focus: WindowInfo | Exception | None = None,
        focus_after: Sequence[WindowInfo | None] = (),
    ) -> None:
        self._windows = list(windows)
        self.focus: WindowInfo | Exception | None = focus if focus is not None else (windows[-1] if windows else None)
        self._after = list(focus_after)
        self.focus_calls = 0

    def windows(self) -> list[WindowInfo]:
        return list(self._windows)

    def focused_window(self) -> WindowInfo | None:
        self.focus_calls += 1
        current = self.focus
        if self._after:
            self.focus = self._after.pop(0)
        if isinstance(current, Exception):
            raise current
        return current

    def window_at(self, x: int, y: int) -> WindowInfo | None:
        for window in reversed(self._windows):
            if window.geometry.contains(x, y):
                return window
        return None


class FakeMicrophone:
    """A Microphone that hands out prepared clips."""

    def __init__(self, clips: Sequence[AudioClip] = (), sample_rate: int = 16000) -> None:
        self._clips = list(clips)
        self._sample_rate = sample_rate
        self.recording = False

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    def start_push_to_talk(self) -> None:
        self.recording = True

    def stop_push_to_talk(self) -> AudioClip:
        self.recording = False
        if self._clips:
            return self._clips.pop(0)
        return AudioClip(np.zeros(0, dtype=np.float32), self._sample_rate, 0.0, 0.0)

    def level(self) -> float:
        return 0.5 if self.recording else 0.0

    def utterances(self, stop: CancelToken) -> Iterator[AudioClip]:
        while self._clips and not stop.cancelled:
            yield self._clips.pop(0)


class FakeUserActivity:
    """A UserActivity the test drives: :meth:`press` records the person's input at the clock's time."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self.times: list[float] = []

    def press(self) -> None:
        self._clock.advance(0.001)
        self.times.append(self._clock.monotonic())

    def active_since(self, timestamp: float) -> bool:
        return any(t > timestamp for t in self.times)


class FakeSecretStore:
    """A SecretStore over dicts of values and bindings; ``lookups`` records the names whose value was read."""

    def __init__(
        self, secrets: dict[str, str] | None = None, bindings: Mapping[str, SecretBinding] | None = None
    ) -> None:
        self._secrets = dict(secrets or {})
        self._bindings = dict(bindings or {})
        self.lookups: list[str] = []

    def get(self, name: str) -> str | None:
        self.lookups.append(name)
        return self._secrets.get(name)

    def binding(self, name: str) -> SecretBinding | None:
        return self._bindings.get(name)


class RecordingRedactor:
    """A SecretRedactor that records ``(window, area)``."""

    def __init__(self) -> None:
        self.redacted: list[tuple[WindowInfo, Rect]] = []

    def redact(self, window: WindowInfo, area: Rect) -> None:
        self.redacted.append((window, area))


class FakeTargetLocator:
    """A TargetLocator answering from a table: patch file name → where its anchor is now, or what to raise.

    ``calls`` records ``(frame, patch)`` for every lookup.
    """

    def __init__(self, found: Mapping[str, tuple[int, int] | Exception]) -> None:
        self._found = dict(found)
        self.calls: list[tuple[Frame, TargetPatch]] = []

    def locate(self, frame: Frame, patch: TargetPatch) -> TargetMatch:
        self.calls.append((frame, patch))
        answer = self._found[patch.file.name]
        if isinstance(answer, Exception):
            raise answer
        return TargetMatch(answer[0], answer[1], 0.99)
