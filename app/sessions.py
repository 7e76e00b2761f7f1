"""The closeable bundles the composition root hands out, and the adapter set's shape.

:mod:`omnidesk.app.compose` builds every adapter; what it returns comes in these small bundles
(:class:`Desktop`, :class:`AgentSession`, :class:`ReplaySession`, :class:`ScreenCapture`,
:class:`TaskDesktop`), each closing what it opened. They live here, apart from the builders, so the root
holds only construction; nothing here builds an adapter (``tests/app/test_composition_root.py``).
:class:`PlatformAdapters` is the one session type's adapter set the root picks (``X11Platform`` today).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, Self

from omnidesk.agent.errors import OmnideskError
from omnidesk.agent.ports import (
    AccessibilityPort,
    FrameSampler,
    InputDevice,
    ModelClient,
    MonitorInfo,
    Rect,
    Screen,
    SecretRedactor,
    WindowInspector,
)
from omnidesk.agent.safety import UserActivity

if TYPE_CHECKING:
    from omnidesk.agent.keyguard import SecretRedactions
    from omnidesk.agent.loop import Agent
    from omnidesk.agent.replay import Replayer
    from omnidesk.app.hotkeys import GlobalHotkeys
    from omnidesk.app.settings import Settings
    from omnidesk.runtime.capture import CaptureStream
    from omnidesk.runtime.desktop_apps import DesktopApps
    from omnidesk.runtime.input_recorder import XInputRecorder

__all__ = [
    "AgentSession",
    "ClosableScreen",
    "Desktop",
    "PlatformAdapters",
    "ReplaySession",
    "ScreenCapture",
    "TaskDesktop",
    "close_all",
]

log = logging.getLogger(__name__)


def close_all(closers: list[Callable[[], None]]) -> None:
    """Newest first; a closer that fails is logged and the others still run."""
    while closers:
        closer = closers.pop()
        try:
            closer()
        except OmnideskError:
            log.exception("closing an adapter")


class _Closing:
    """A bundle that closes what it opened (its ``closers``) on ``close()`` or at the end of a ``with``."""

    closers: list[Callable[[], None]]

    def close(self) -> None:
        close_all(self.closers)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ClosableScreen(Screen, Protocol):
    """A :class:`Screen` holding connections until ``close()`` (capture handles, the mask's window list)."""

    def close(self) -> None: ...


@dataclass
class Desktop(_Closing):
    """This session's privacy-masked screen, input device and window list — and, when asked for, a watch
    on the person's own mouse and keyboard — open until ``close()``. ``redactor`` blacks out, in the
    screen's frames, where secrets were typed; ``accessibility`` is the accessibility tree (unless settings
    turn it off), the safety policy's focused-field signal."""

    screen: ClosableScreen
    input: InputDevice
    windows: WindowInspector
    redactor: SecretRedactor
    activity: UserActivity | None = None
    accessibility: AccessibilityPort | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)


class PlatformAdapters(Protocol):
    """One session type's adapter set; every frame its screens grab is privacy-masked."""

    def screen(
        self, settings: Settings, *, own_pids: Collection[int], redactions: SecretRedactions | None = None
    ) -> ClosableScreen:
        """Monitors and grabs, with deny-listed windows, the windows of ``own_pids`` and the secret areas of
        ``redactions`` blacked out."""
        ...

    def desktop(
        self,
        settings: Settings,
        *,
        own_pids: Collection[int],
        watch_user: bool,
        redactions: SecretRedactions | None = None,
    ) -> Desktop:
        """Screen, input and window list; ``watch_user`` also notices the person using mouse or keyboard."""
        ...

    def hotkeys(self, settings: Settings) -> GlobalHotkeys:
        """The global hotkey listener (kill switch, pause, push-to-talk, automations), not yet started."""
        ...

    def accessibility(
        self,
        settings: Settings,
        *,
        windows: WindowInspector | None = None,
        monitors: Callable[[], list[Rect]] | None = None,
    ) -> AccessibilityPort:
        """The accessibility tree (connects on first use; answers "unknown" where there is none);
        ``windows`` and ``monitors`` let it turn toolkits' logical boxes into device pixels."""
        ...

    def input_recorder(
        self, settings: Settings, *, own_pids: Collection[int], stop_combo: tuple[str, ...], on_stop: Callable[[], None]
    ) -> XInputRecorder:
        """The person's own clicks and keys (teach mode), none from deny-listed windows or ``own_pids``';
        ``on_stop`` when ``stop_combo`` is pressed. Not yet started."""
        ...


@dataclass
class AgentSession(_Closing):
    """An :class:`Agent` wired to real capture and input; ``close()`` stops capture and frees what it owns."""

    agent: Agent
    model: ModelClient
    sampler: FrameSampler
    monitor: MonitorInfo
    closers: list[Callable[[], None]] = field(default_factory=list)


@dataclass
class ReplaySession(_Closing):
    """A :class:`Replayer` on this desktop; ``close()`` frees the screen, input and window list."""

    replayer: Replayer
    closers: list[Callable[[], None]] = field(default_factory=list)


@dataclass
class ScreenCapture(_Closing):
    """A started capture stream of one monitor and what it needs closed (the screen, the stream)."""

    screen: ClosableScreen
    stream: CaptureStream
    monitor: MonitorInfo
    closers: list[Callable[[], None]] = field(default_factory=list)


@dataclass
class TaskDesktop(_Closing):
    """What evaluation tasks need of this desktop besides the agent: the applications they start (``apps``)
    and the accessibility tree their checks read."""

    apps: DesktopApps
    accessibility: AccessibilityPort
    closers: list[Callable[[], None]] = field(default_factory=list)
