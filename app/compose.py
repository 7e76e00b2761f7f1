"""The one composition root: builds the runtime adapters from settings and hands them to the agent.

Nothing else in Omnidesk constructs adapters; tests build their own graphs from fakes instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from omnidesk.agent.errors import OmnideskError
from omnidesk.agent.ports import (
    Confirmer,
    FrameSampler,
    InputDevice,
    ModelClient,
    MonitorInfo,
    Rect,
    TokenDelta,
)
from omnidesk.app.cli_options import ModelOptions
from omnidesk.app.model_files import find_mmproj, resolve_model_path
from omnidesk.app.remote_consent import RemoteConsent, require_remote_consent
from omnidesk.app.settings import AppPaths, Settings

if TYPE_CHECKING:
    from omnidesk.agent.loop import Agent
    from omnidesk.agent.parsing import OutputParser
    from omnidesk.agent.replay import Replayer
    from omnidesk.agent.trajectory import PngEncoder
    from omnidesk.runtime.audio import SoundDeviceMicrophone
    from omnidesk.runtime.capture import CaptureStream, MssScreen
    from omnidesk.runtime.evs_sampler import EvsSampler

__all__ = [
    "AgentSession",
    "ReplaySession",
    "ScreenCapture",
    "agent_parser_for",
    "build_agent_session",
    "build_capture",
    "build_microphone",
    "build_model_client",
    "build_png_encoder",
    "build_replay_session",
    "build_sampler",
    "build_screen",
]

log = logging.getLogger(__name__)


# --- model client (ask, agent runs) ----------------------------------------------------------------


def build_model_client(
    settings: Settings,
    paths: AppPaths,
    options: ModelOptions | None = None,
    *,
    consent: RemoteConsent | None = None,
) -> ModelClient:
    """The configured model: a remote OpenAI-compatible engine, or the local GGUF + mmproj session.

    ``consent`` asks the person before a remote engine off this machine first gets their screen.
    """
    from omnidesk.agent.errors import ConfigError
    from omnidesk.runtime.profiles import load_profile

    if options is not None:
        settings = options.apply(settings)
    section = settings.model
    profile = load_profile(section.profile)
    if section.remote_url:
        require_remote_consent(settings, paths, section.remote_url, consent)
        from omnidesk.runtime.remote import RemoteModelClient, RemoteOptions

        log.info("using the remote engine at %s", section.remote_url)
        return RemoteModelClient(
            section.remote_url,
            model=section.remote_model,
            api_key=section.remote_api_key,
            timeout=section.remote_timeout,
            options=RemoteOptions(
                name=section.remote_model or profile.display_name,
                vision=True,
                audio=profile.audio,
                image_size=profile.image_size,
                coordinate_convention=profile.coordinate_convention,
                context_length=section.context_length,
                enable_thinking=profile.thinking_default,
            ),
        )
    model = resolve_model_path(settings, paths)
    if model is None:
        raise ConfigError("no model configured; run `omnidesk models pull`, pass --model PATH, or use --remote URL")
    from omnidesk.runtime.llama.session import OmniSession

    mmproj = section.mmproj or find_mmproj(model)
    return OmniSession.open(
        model,
        mmproj,
        profile=profile.session_profile(),
        n_ctx=section.context_length,
        n_batch=section.batch_size,
        n_ubatch=section.ubatch_size,
        n_threads=section.threads,
        n_gpu_layers=None if section.gpu_layers == "auto" else section.gpu_layers,
    )


# --- agent runs (`omnidesk run`, the GUI's runs, end-to-end tests) ----------------------------------


@dataclass
class AgentSession:
    """An :class:`Agent` wired to real capture and input; ``close()`` stops capture and frees the model."""

    agent: Agent
    model: ModelClient
    sampler: FrameSampler
    monitor: MonitorInfo
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        _close_all(self.closers)

    def __enter__(self) -> AgentSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _close_all(closers: list[Callable[[], None]]) -> None:
    while closers:
        closer = closers.pop()
        try:
            closer()
        except OmnideskError:
            log.exception("closing the agent session")


def agent_parser_for(profile_name: str) -> OutputParser | None:
    """The output parser a model profile needs (None: the Agent's default for the model's convention)."""
    from omnidesk.agent.parsing import parser_for

    if "tars" in profile_name.lower():
        return parser_for("uitars")
    return None


def build_agent_session(
    settings: Settings,
    *,
    model: ModelClient,
    confirmer: Confirmer,
    monitor: int | str | None = None,
    dry_run: bool | None = None,
    max_steps: int | None = None,
    input_device: InputDevice | None = None,
    on_token: Callable[[TokenDelta], None] | None = None,
    close_model: bool = True,
) -> AgentSession:
    """Wire the agent to the screen (mss + EVS), the keyboard and mouse, the window list and the keyring.

    ``model`` is built by the caller (``build_model_client``, or a scripted fake in tests) and closed by
    the session unless ``close_model`` is false (a server that keeps one model for many runs).
    """
    import os

    from omnidesk.agent.geometry import resolve_monitor
    from omnidesk.agent.loop import Agent
    from omnidesk.runtime.capture import CaptureStream, MssScreen
    from omnidesk.runtime.clock import SystemClock
    from omnidesk.runtime.evs_sampler import EvsSampler
    from omnidesk.runtime.input import PyAutoGuiInput, XUserActivity
    from omnidesk.runtime.secrets import KeyringSecretStore
    from omnidesk.runtime.windows import WindowMask, X11WindowInspector

    safety = settings.safety.model_copy(
        update={k: v for k, v in {"dry_run": dry_run, "max_steps": max_steps}.items() if v is not None}
    )
    closers: list[Callable[[], None]] = [model.close] if close_model else []
    try:
        windows = X11WindowInspector()
        closers.append(windows.close)
        mask_windows = X11WindowInspector()
        closers.append(mask_windows.close)
        mask = WindowMask(mask_windows, safety.deny_windows, own_pids=[os.getpid()])
        screen = MssScreen(settings.capture.scale, mask=mask)
        index = resolve_monitor(screen.monitors(), monitor if monitor is not None else settings.capture.monitor)
        stream = CaptureStream(
            screen, monitor=index, fps=settings.capture.fps, buffer_frames=settings.capture.buffer_frames
        ).start()
        closers.append(stream.stop)
        image_size = model.capabilities.image_size or 512
        sampler = EvsSampler(stream, settings.evs, image_size=image_size, tokens_per_image=(image_size // 32) ** 2)
        activity = None
        if input_device is None:
            real_input = PyAutoGuiInput()
            input_device = real_input
            if safety.pause_on_user_input:
                activity = XUserActivity(real_input).start()
                closers.append(activity.stop)
        agent = Agent(
            model,
            sampler,
            input_device,
            confirmer,
            SystemClock(),
            settings.agent,
            safety,
            windows=windows,
            secrets=KeyringSecretStore(),
            parser=agent_parser_for(settings.model.profile),
            on_token=on_token,
            activity=activity,
        )
        return AgentSession(agent, model, sampler, sampler.monitor, closers)
    except BaseException:
        _close_all(closers)
        raise


# --- replays (`omnidesk replay`, the GUI's replay automations) ---------------------------------------


@dataclass
class ReplaySession:
    """A :class:`Replayer` wired to the masked screen, template matching and real input; ``close()`` frees them."""

    replayer: Replayer
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        _close_all(self.closers)

    def __enter__(self) -> ReplaySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_replay_session(
    settings: Settings,
    *,
    confirmer: Confirmer,
    dry_run: bool = False,
    min_score: float = 0.8,
) -> ReplaySession:
    """The replay engine on this desktop: the privacy-masked screen, OpenCV template matching, XTest input,
    the window list for the safety policy's deny-list, the keyring for secrets."""
    from omnidesk.agent.replay import Replayer
    from omnidesk.agent.safety import SafetyPolicy
    from omnidesk.runtime.clock import SystemClock
    from omnidesk.runtime.input import PyAutoGuiInput
    from omnidesk.runtime.secrets import KeyringSecretStore
    from omnidesk.runtime.template_locator import TemplateLocator
    from omnidesk.runtime.windows import X11WindowInspector

    screen = build_screen(settings)
    closers: list[Callable[[], None]] = [screen.close]
    try:
        windows = X11WindowInspector()
        closers.append(windows.close)
        replayer = Replayer(
            screen,
            TemplateLocator(min_score=min_score),
            PyAutoGuiInput(),
            confirmer,
            SystemClock(),
            SafetyPolicy(settings.safety, windows=windows),
            secrets=KeyringSecretStore(),
            dry_run=dry_run,
            settle_seconds=settings.agent.settle_seconds,
            settle_timeout=settings.agent.settle_timeout,
        )
        return ReplaySession(replayer, closers)
    except BaseException:
        _close_all(closers)
        raise


# --- perception: screen, sampler, microphone (`record`, `evs`, voice) -------------------------------


@dataclass
class ScreenCapture:
    """A started capture stream of one monitor and what it needs closed (window inspector, stream)."""

    screen: MssScreen
    stream: CaptureStream
    monitor: MonitorInfo
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        _close_all(self.closers)


def build_screen(settings: Settings, *, mask_own_windows: bool = True) -> MssScreen:
    """The mss screen with RandR names, per-output scales from settings, and the privacy mask."""
    import os

    from omnidesk.runtime.capture import MssScreen
    from omnidesk.runtime.display import require_x11
    from omnidesk.runtime.windows import WindowMask, X11WindowInspector

    require_x11(os.environ)
    own = [os.getpid()] if mask_own_windows else []
    mask = WindowMask(X11WindowInspector(), settings.safety.deny_windows, own_pids=own)
    return MssScreen(settings.capture.scale, mask=mask)


def build_capture(
    settings: Settings,
    *,
    monitor: int | str | None = None,
    fps: float | None = None,
    buffer_frames: int | None = None,
    allow_desktop: bool = False,
) -> ScreenCapture:
    """A started capture stream of the chosen monitor (``--monitor N``, a RandR name, or the primary)."""
    from omnidesk.agent.geometry import resolve_monitor
    from omnidesk.runtime.capture import CaptureStream

    screen = build_screen(settings)
    try:
        monitors = screen.monitors()
        selector = monitor if monitor is not None else settings.capture.monitor
        index = resolve_monitor(monitors, selector, allow_desktop=allow_desktop)
    except BaseException:
        screen.close()
        raise
    stream = CaptureStream(
        screen,
        monitor=index,
        fps=fps or settings.capture.fps,
        buffer_frames=buffer_frames or settings.capture.buffer_frames,
    ).start()
    capture = ScreenCapture(screen, stream, MonitorInfo(index, "", Rect(0, 0, 0, 0)), [screen.close, stream.stop])
    try:
        capture.monitor = stream.wait_frame(0).monitor
    except BaseException:
        capture.close()
        raise
    return capture


def build_sampler(settings: Settings, capture: ScreenCapture, *, image_size: int, tokens_per_image: int) -> EvsSampler:
    """EVS over a capture stream, with images of the model's size."""
    from omnidesk.runtime.evs_sampler import EvsSampler

    return EvsSampler(capture.stream, settings.evs, image_size=image_size, tokens_per_image=tokens_per_image)


def build_png_encoder(compression: int = 1) -> PngEncoder:
    """PNGs for trajectory bundles and screenshots (OpenCV; 1 = fast, for bundles written during a run)."""
    from omnidesk.runtime.png import CvPngEncoder

    return CvPngEncoder(compression)


def build_microphone(settings: Settings) -> SoundDeviceMicrophone:
    """The microphone from settings; opening it (first use) raises NoMicrophoneError when there is none."""
    from omnidesk.runtime.audio import SoundDeviceMicrophone

    return SoundDeviceMicrophone(settings.audio)
