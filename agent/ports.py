"""The ports: the only way ``agent/`` talks to the world, and the frozen records they exchange.

``runtime/`` implements these Protocols (llama.cpp, mss, sounddevice, pyautogui…); ``tests/fakes.py``
implements them in memory. ``app/compose.py`` wires real adapters from settings. The accessibility port
lives in ``agent/ports_accessibility.py`` and the model port in ``agent/ports_model.py``; both are
re-exported here.

Requests are laid out by the model family's format module (``agent/formats/``) as its authors trained
it. A :class:`CachePoint` in a request marks where a local runtime may save its state: on the next
request it restores that state when everything before the new ``CachePoint`` extends the saved prefix,
evaluating only what follows (a hybrid Mamba model's cache cannot be cut back). Remote engines drop it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from omnidesk.agent.actions import Action
from omnidesk.agent.geometry import ImageTransform, MonitorInfo, Rect
from omnidesk.agent.ports_accessibility import (
    AccessibilityPort,
    AccessibilityStatus,
    AccessibleApp,
    AccessibleElement,
    AccessibleTree,
    Focus,
    FocusedElement,
    UnknownFocus,
)
from omnidesk.agent.ports_model import (
    AudioClip,
    AudioPart,
    CachePoint,
    CancelToken,
    ChatMessage,
    ImagePart,
    ModelCapabilities,
    ModelClient,
    ModelImage,
    ModelReply,
    ModelRequest,
    Part,
    Pixels,
    TemplateValue,
    TextPart,
    TokenDelta,
    ToolCall,
    VideoClip,
    VideoEngine,
    VideoPart,
    VideoServing,
)

__all__ = [
    "AccessibilityPort",
    "AccessibilityStatus",
    "AccessibleApp",
    "AccessibleElement",
    "AccessibleTree",
    "AudioClip",
    "AudioPart",
    "CachePoint",
    "CancelToken",
    "ChatMessage",
    "Clock",
    "ConfirmRule",
    "ConfirmationRequest",
    "Confirmer",
    "FieldInspector",
    "Focus",
    "FocusInspector",
    "FocusedElement",
    "Frame",
    "FrameSampler",
    "ImagePart",
    "ImageTransform",
    "InputDevice",
    "Microphone",
    "ModelCapabilities",
    "ModelClient",
    "ModelImage",
    "ModelReply",
    "ModelRequest",
    "MonitorInfo",
    "Observation",
    "Part",
    "Rect",
    "Screen",
    "SecretRedactor",
    "SettleResult",
    "Step",
    "TargetLocator",
    "TargetMatch",
    "TargetPatch",
    "TemplateValue",
    "TextPart",
    "TokenDelta",
    "ToolCall",
    "UnknownFocus",
    "VideoClip",
    "VideoEngine",
    "VideoPart",
    "VideoServing",
    "WindowInfo",
    "WindowInspector",
]


# --- screen -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One captured frame.

    ``pixels`` is an ``H×W×4`` uint8 array in BGRA order (what mss grabs; a read-only, zero-copy view),
    in device pixels of ``monitor``. ``timestamp`` is ``time.monotonic()`` at capture, the clock audio
    uses too. ``seq`` counts frames of one capture stream.
    """

    pixels: Pixels
    timestamp: float
    monitor: MonitorInfo
    seq: int = 0

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    def rgb(self) -> Pixels:
        """A contiguous ``H×W×3`` RGB copy."""
        return np.ascontiguousarray(self.pixels[:, :, 2::-1])


@dataclass(frozen=True, slots=True)
class WindowInfo:
    """A top-level window as the window system reports it (for deny-lists, self-masking, secret bindings).

    ``wm_class`` holds the WM_CLASS parts, instance first (``("keepassxc", "KeePassXC")``); rules match
    each part on its own (``agent/window_rules.py``).
    """

    window_id: int
    title: str
    wm_class: tuple[str, ...]
    geometry: Rect
    pid: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.wm_class, str):  # a joined string would be matched letter by letter
            raise TypeError("WindowInfo.wm_class is a tuple of WM_CLASS parts, not a string")


class Screen(Protocol):
    """Monitors and single grabs. Continuous capture lives behind :class:`FrameSampler`."""

    def monitors(self) -> list[MonitorInfo]:
        """Every single monitor (mss index 1..n), primary flagged."""
        ...

    def grab(self, monitor: int) -> Frame:
        """Grab one frame of monitor ``monitor`` (mss index; 0 = whole virtual desktop)."""
        ...


class FocusInspector(Protocol):
    """Where keyboard input goes: what the keyboard deny-list and secret bindings are checked against."""

    def focused_window(self) -> WindowInfo | None:
        """The top-level window that receives keys now (``None``: keys go nowhere).

        Raises:
            CaptureError: the window system cannot be asked (callers refuse keyboard input then).
        """
        ...


class WindowInspector(FocusInspector, Protocol):
    def windows(self) -> list[WindowInfo]:
        """Visible top-level windows, topmost last."""
        ...

    def window_at(self, x: int, y: int) -> WindowInfo | None:
        """The topmost window under a virtual-desktop point."""
        ...


class FieldInspector(Protocol):
    """An extra, optional focus signal (AT-SPI): safety never depends on it, it only adds to window checks.

    ``None`` means unknown (no bus, an application that does not export it, a timeout) — never "no".
    """

    def focused_is_password(self) -> bool | None:
        """Whether the focused text field is a password field."""
        ...

    def focused_field_area(self) -> Rect | None:
        """Where the focused text field is, in virtual-desktop pixels."""
        ...


class SecretRedactor(Protocol):
    """Blacks out where a secret was typed in every frame captured from now on, before anything sees them."""

    def redact(self, window: WindowInfo, area: Rect) -> None:
        """Black out ``area`` (virtual-desktop pixels) of ``window`` in every later frame; the area moves
        with the window."""
        ...


@dataclass(frozen=True, slots=True)
class TargetPatch:
    """A recorded action target: a small RGB picture of what was under the point, to find it again.

    ``file`` is a PNG; ``anchor`` is the action point inside it, in patch pixels; ``image_size`` is the side
    of the square letterboxed overview it was cut from, which sets the scale to search at (see
    ``agent/replay.py`` for how a bundle records them).
    """

    file: Path
    anchor: tuple[float, float]
    image_size: int


@dataclass(frozen=True, slots=True)
class TargetMatch:
    """Where a target's anchor is on the screen now (virtual-desktop pixels), and how well it matched (0..1)."""

    x: int
    y: int
    score: float


class TargetLocator(Protocol):
    """Finds a recorded target on a freshly grabbed frame (the replay engine's eyes)."""

    def locate(self, frame: Frame, patch: TargetPatch) -> TargetMatch:
        """Where ``patch``'s anchor is on ``frame``, in virtual-desktop pixels.

        Raises:
            TargetNotFoundError: the target is not on the frame, is there twice, or has nothing to find it by.
            RecordingError: the patch cannot be read.
        """
        ...


# --- images for the model -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Observation:
    """What the sampler hands the agent for one step: images to send and what changed."""

    images: tuple[ModelImage, ...]
    timestamp: float
    keyframe: bool
    changed_fraction: float
    changed_boxes: tuple[Rect, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SettleResult:
    """Outcome of waiting for the screen to settle after an action."""

    settled: bool
    waited_seconds: float
    animating_boxes: tuple[Rect, ...] = ()


class FrameSampler(Protocol):
    """Efficient Video Sampling over a live capture stream of one monitor."""

    @property
    def monitor(self) -> MonitorInfo: ...

    def observe(self, *, force_keyframe: bool = False) -> Observation:
        """Images for the model since the last observation: a keyframe overview and/or changed crops."""
        ...

    def wait_settled(
        self, *, still_for: float = 0.3, timeout: float = 3.0, cancel: CancelToken | None = None
    ) -> SettleResult:
        """Block until the screen has been still for ``still_for`` s, ``timeout`` (animations), or ``cancel``."""
        ...


# --- audio --------------------------------------------------------------------------------------------


class Microphone(Protocol):
    """A microphone at 16 kHz mono. Raises ``NoMicrophoneError`` when there is none."""

    @property
    def sample_rate(self) -> int: ...

    def start_push_to_talk(self) -> None: ...

    def stop_push_to_talk(self) -> AudioClip: ...

    def level(self) -> float:
        """Current input level, 0..1 (for a meter)."""
        ...

    def utterances(self, stop: CancelToken) -> Iterator[AudioClip]:
        """Voice-activity-cut utterances until ``stop`` is cancelled."""
        ...


# --- input, confirmation, time -----------------------------------------------------------------------


@runtime_checkable
class InputDevice(Protocol):
    """Mouse and keyboard in virtual-desktop device pixels; key names normalised (``ctrl``, ``enter``)."""

    def position(self) -> tuple[int, int]: ...

    def move(self, x: int, y: int) -> None: ...

    def click(self, x: int, y: int, *, button: str = "left", count: int = 1, modifiers: Sequence[str] = ()) -> None: ...

    def drag(self, x0: int, y0: int, x1: int, y1: int, *, button: str = "left") -> None: ...

    def scroll(self, x: int | None, y: int | None, *, dx: int = 0, dy: int = 0) -> None: ...

    def type_text(self, text: str) -> None:
        """Type exactly ``text`` (unicode included)."""
        ...

    def hotkey(self, keys: Sequence[str]) -> None: ...

    def release_all(self) -> None:
        """Release every held mouse button and modifier (stop, pause and crash paths)."""
        ...


ConfirmRule = Literal[
    "risky_hotkey", "system_hotkey", "confirm_pattern", "destructive_command", "line_break", "terminal",
    "password_field", "secret_fill", "user_input", "remote_engine",
]  # fmt: skip
"""Why an action needs the person's yes, as a name a program can check (an evaluation spec lists the rules
it may answer yes to: ``agent/confirmers.py``)."""


@dataclass(frozen=True, slots=True)
class ConfirmationRequest:
    """One yes/no question; ``rules`` name every reason it is asked (``reason`` says them in words)."""

    action: Action
    reason: str
    question: str
    rules: tuple[ConfirmRule, ...] = ()


class Confirmer(Protocol):
    """Asks the person: yes/no for risky actions, free text for the model's questions."""

    def confirm(self, request: ConfirmationRequest) -> bool: ...

    def ask(self, question: str) -> str | None: ...


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def wall_time(self) -> float:
        """Seconds since the epoch (for records)."""
        ...


# --- the loop's record --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a run, yielded by ``Agent.run``; consumers (GUI, CLI, trajectory, MCP) only read it.

    ``status`` is ``acted`` (the action was carried out), ``planned`` (dry run), ``refused`` (safety),
    ``model_error`` (unparsable output, fed back as an observation), ``finished`` (done/fail), or
    ``stopped`` (stop request, limit, loop detector); a replay whose target is gone may be ``handed_over``
    to a model-driven run (``agent/replay_fallback.py``), whose steps follow. ``timings`` are
    ``(phase, seconds)`` pairs in the order the phases ran (frozen all the way down; bundles store them as
    a JSON object).

    ``actions`` are what the model asked for, in order (points in the model's space; a ``pointer`` point
    becomes the ``desktop`` point it was done at); ``performed`` counts how many of them the loop got
    through — a refusal, a declined confirmation or a stop leaves the rest undone. ``action`` is the first
    one and ``target`` its desktop point, for consumers that show one action per step.
    """

    index: int
    task: str
    started_at: float
    status: Literal["acted", "planned", "refused", "model_error", "finished", "stopped", "handed_over"]
    timings: tuple[tuple[str, float], ...] = ()
    observation: Observation | None = None
    raw_output: str = ""
    reasoning: str = ""
    actions: tuple[Action, ...] = ()
    performed: int = 0
    target: tuple[int, int] | None = None
    result: str = ""
    error: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reused_tokens: int = 0

    @property
    def action(self) -> Action | None:
        """The step's first action (None when the model gave none)."""
        return self.actions[0] if self.actions else None

    @property
    def final(self) -> Action | None:
        """The last action the loop got through: a finished step's ``Done`` or ``Fail``."""
        return self.actions[self.performed - 1] if 0 < self.performed <= len(self.actions) else None

    @property
    def seconds(self) -> float:
        """The step's time: the sum of its timings."""
        return sum(seconds for _, seconds in self.timings)
