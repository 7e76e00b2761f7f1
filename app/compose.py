"""The one composition root: the only module that builds adapters (runtime/ classes, the hotkey listener).

Everything that touches the world — screen, input, window list, accessibility tree, hotkeys, model,
microphone, keyring, clock, template matching, PNG encoding — is built here from settings and handed to
the agent's ports in small closeable bundles (:mod:`omnidesk.app.sessions`). What builds nothing lives
beside it: the bundles, the model's format and options (:mod:`omnidesk.app.model_setup`), the doctor's
one-shot questions (:mod:`omnidesk.app.desktop_probes`). The CLI commands, the GUI and the MCP server call
these builders; tests build their own graphs from fakes, and ``tests/app/test_composition_root.py``
checks that no other module of ``app/`` constructs an adapter.

The platform seam: screen capture, input, the window list, the accessibility tree and global hotkeys
depend on the session type, so they come from one :class:`PlatformAdapters` set picked by
:func:`choose_platform` — :class:`X11Platform` today; a Wayland set (portal ScreenCast + RemoteDesktop
over PipeWire, GlobalShortcuts) is one more class (``docs/design/wayland.md``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING

from omnidesk.agent.geometry import resolve_monitor
from omnidesk.agent.ports import (
    AccessibilityPort,
    Confirmer,
    InputDevice,
    ModelClient,
    MonitorInfo,
    Rect,
    TokenDelta,
    WindowInspector,
)
from omnidesk.app.cli_options import ModelOptions
from omnidesk.app.desktop_probes import accessibility_status, list_monitors
from omnidesk.app.model_files import find_mmproj, resolve_model_path
from omnidesk.app.model_setup import build_model_format, remote_options, session_profile
from omnidesk.app.remote_consent import RemoteConsent, require_remote_consent
from omnidesk.app.sessions import (
    AgentSession,
    ClosableScreen,
    Desktop,
    PlatformAdapters,
    ReplaySession,
    ScreenCapture,
    TaskDesktop,
    close_all,
)
from omnidesk.app.settings import AppPaths, Settings, remote_api_key

if TYPE_CHECKING:
    from omnidesk.agent.keyguard import SecretRedactions
    from omnidesk.agent.secrets import SecretStore
    from omnidesk.agent.trajectory import PngEncoder
    from omnidesk.app.hotkeys import GlobalHotkeys
    from omnidesk.runtime.api_keys import ApiKeyStore
    from omnidesk.runtime.audio import SoundDeviceMicrophone
    from omnidesk.runtime.input_recorder import XInputRecorder
    from omnidesk.runtime.model_store import ModelStore
    from omnidesk.runtime.secrets import KeyringSecretStore
    from omnidesk.runtime.shots import ShotFiles

__all__ = [
    "AgentSession",
    "X11Platform",
    "accessibility_status",
    "build_agent_session",
    "build_api_key_store",
    "build_capture",
    "build_desktop",
    "build_hotkeys",
    "build_input_recorder",
    "build_microphone",
    "build_model_client",
    "build_model_format",
    "build_model_store",
    "build_png_encoder",
    "build_replay_session",
    "build_screen",
    "build_secret_store",
    "build_shot_files",
    "build_task_desktop",
    "choose_platform",
    "list_monitors",
]

log = logging.getLogger(__name__)


# --- model client (ask, agent runs) ----------------------------------------------------------------


def build_api_key_store() -> ApiKeyStore:
    """Remote engines' API keys in the system keyring (``runtime/api_keys.py``: ``get/set/delete(url)``)."""
    from omnidesk.runtime.api_keys import ApiKeyStore

    return ApiKeyStore()


def build_model_client(
    settings: Settings,
    paths: AppPaths,
    options: ModelOptions | None = None,
    *,
    consent: RemoteConsent | None = None,
    api_keys: ApiKeyStore | None = None,
) -> ModelClient:
    """The configured model: a remote OpenAI-compatible engine, or the local GGUF + mmproj session.

    ``consent`` asks the person before a remote engine off this machine first gets their screen;
    ``api_keys`` holds the engine's key (default: the system keyring).
    """
    from omnidesk.agent.errors import ConfigError
    from omnidesk.runtime.profiles import load_profile

    if options is not None:
        settings = options.apply(settings)
    section = settings.model
    profile = load_profile(section.profile)
    if section.remote_url:
        require_remote_consent(settings, paths, section.remote_url, consent)
        from omnidesk.runtime.remote import RemoteModelClient, StreamLimits
        from omnidesk.runtime.urls import redact_url

        log.info("using the remote engine at %s", redact_url(section.remote_url))
        return RemoteModelClient(
            section.remote_url,
            model=section.remote_model,
            api_key=remote_api_key(settings, api_keys or build_api_key_store()),
            timeout=section.remote_timeout,
            limits=StreamLimits(deadline=section.remote_deadline),
            options=remote_options(settings, profile),
        )
    model = resolve_model_path(settings, paths)
    if model is None:
        raise ConfigError("no model configured; run `omnidesk models pull`, pass --model PATH, or use --remote URL")
    from omnidesk.runtime.llama.session import OmniSession

    mmproj = section.mmproj or find_mmproj(model)
    return OmniSession.open(
        model,
        mmproj,
        profile=session_profile(settings, profile),
        n_ctx=section.context_length,
        n_batch=section.batch_size,
        n_ubatch=section.ubatch_size,
        n_threads=section.threads,
        n_gpu_layers=None if section.gpu_layers == "auto" else section.gpu_layers,
    )


def build_model_store(settings: Settings, paths: AppPaths, *, endpoint: str | None = None) -> ModelStore:
    """The data dir's models folder, downloading from ``endpoint`` or the configured Hub mirror."""
    from omnidesk.runtime.model_store import ModelStore

    return ModelStore(paths.models_dir, endpoint=endpoint or settings.model.hub_endpoint or None)


# --- the platform: this desktop's adapters, one set per session type --------------------------------


class X11Platform:
    """X11: mss capture behind the window mask, XTest input (pyautogui + xdotool), the EWMH window list,
    pynput hotkeys over X RECORD, the person's input noticed by polling the X server, AT-SPI over D-Bus
    for the accessibility tree (found through ``environ``: the session bus, or the X root window)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = dict(os.environ if environ is None else environ)

    def screen(
        self, settings: Settings, *, own_pids: Collection[int], redactions: SecretRedactions | None = None
    ) -> ClosableScreen:
        from omnidesk.runtime.capture import MssScreen
        from omnidesk.runtime.window_watch import WindowWatcher
        from omnidesk.runtime.windows import WindowMask

        deny = settings.safety.deny_windows
        mask = WindowMask(WindowWatcher(), deny, own_pids=own_pids, redactions=redactions)
        return MssScreen(settings.capture.scale, mask=mask)

    def desktop(
        self,
        settings: Settings,
        *,
        own_pids: Collection[int],
        watch_user: bool,
        redactions: SecretRedactions | None = None,
    ) -> Desktop:
        from omnidesk.agent.keyguard import SecretRedactions
        from omnidesk.runtime.input import PyAutoGuiInput
        from omnidesk.runtime.user_activity import XUserActivity
        from omnidesk.runtime.windows import X11WindowInspector

        redactions = redactions if redactions is not None else SecretRedactions()
        screen = self.screen(settings, own_pids=own_pids, redactions=redactions)
        windows = X11WindowInspector()
        device = PyAutoGuiInput()
        desktop = Desktop(screen, device, windows, redactions, closers=[device.close, screen.close, windows.close])
        if settings.accessibility.enabled:
            monitors = screen.monitors
            desktop.accessibility = self.accessibility(
                settings, windows=windows, monitors=lambda: [m.geometry for m in monitors()]
            )
            desktop.closers.append(desktop.accessibility.close)
        if watch_user:
            try:
                desktop.activity = XUserActivity(device).start()
            except BaseException:
                desktop.close()
                raise
            desktop.closers.append(desktop.activity.stop)
        return desktop

    def hotkeys(self, settings: Settings) -> GlobalHotkeys:
        from omnidesk.app.hotkeys import GlobalHotkeys

        return GlobalHotkeys(settings.hotkeys)

    def accessibility(
        self,
        settings: Settings,
        *,
        windows: WindowInspector | None = None,
        monitors: Callable[[], list[Rect]] | None = None,
    ) -> AccessibilityPort:
        from omnidesk.runtime.accessibility import AtspiAccessibility

        section = settings.accessibility
        return AtspiAccessibility(
            self._environ,
            windows=windows,
            monitors=monitors,
            focus_timeout=section.focus_timeout,
            call_timeout=section.call_timeout,
        )

    def input_recorder(
        self, settings: Settings, *, own_pids: Collection[int], stop_combo: tuple[str, ...], on_stop: Callable[[], None]
    ) -> XInputRecorder:
        from omnidesk.agent.window_rules import WindowMatcher
        from omnidesk.runtime.input_recorder import XInputRecorder
        from omnidesk.runtime.windows import X11WindowInspector

        matcher = WindowMatcher(settings.safety.deny_windows, own_pids=own_pids, what="window deny-list")
        return XInputRecorder(X11WindowInspector(), matcher, stop_combo=stop_combo, on_stop=on_stop)


def choose_platform(environ: Mapping[str, str]) -> PlatformAdapters:
    """The adapter set for this session type.

    Raises:
        WaylandSessionError: a Wayland session (no backend yet; the message says what to do).
        NoDisplayError: no display at all.
    """
    from omnidesk.runtime.display import require_x11

    require_x11(environ)
    return X11Platform(environ)


def build_screen(settings: Settings, *, redactions: SecretRedactions | None = None) -> ClosableScreen:
    """The privacy-masked screen (deny-listed windows, Omnidesk's own, and the secret areas of
    ``redactions`` blacked out); close it after use."""
    return choose_platform(os.environ).screen(settings, own_pids=[os.getpid()], redactions=redactions)


def build_desktop(
    settings: Settings, *, watch_user: bool = False, redactions: SecretRedactions | None = None
) -> Desktop:
    """Screen, input and window list for acting on this desktop; close it after use.

    ``redactions`` shares the secret areas with other screens of this process (the MCP server's
    screenshots); by default the desktop has its own.
    """
    return choose_platform(os.environ).desktop(
        settings, own_pids=[os.getpid()], watch_user=watch_user, redactions=redactions
    )


def build_hotkeys(settings: Settings) -> GlobalHotkeys:
    """The global hotkey listener for this session type (``start()`` says why it cannot work, if so)."""
    return choose_platform(os.environ).hotkeys(settings)


# --- agent runs (`omnidesk run`, MCP run_task, the GUI's runs, end-to-end tests) ---------------------


def build_agent_session(
    settings: Settings,
    *,
    model: ModelClient,
    confirmer: Confirmer,
    monitor: int | str | None = None,
    dry_run: bool | None = None,
    max_steps: int | None = None,
    input_device: InputDevice | None = None,
    secrets: SecretStore | None = None,
    redactions: SecretRedactions | None = None,
    on_token: Callable[[TokenDelta], None] | None = None,
    close_model: bool = True,
) -> AgentSession:
    """The agent on this desktop: masked capture + EVS, input, the window list, the keyring, the clock.

    ``model`` is built by the caller (``build_model_client``, or a scripted fake in tests) and closed with
    the session — unless ``close_model`` is false, the one way to share a loaded model (the GUI and the
    MCP server keep theirs for many runs). ``dry_run`` and ``max_steps`` are the person's own overrides
    (validated like the settings file: :meth:`SafetyConfig.with_overrides`); a caller who may only tighten
    the person's limits passes settings whose ``safety`` is :meth:`SafetyConfig.tightened` instead.
    ``input_device`` and ``secrets`` replace the real ones (tests); ``redactions`` shares the secret areas
    with the caller's other screens.
    """
    from omnidesk.agent.loop import Agent
    from omnidesk.runtime.capture import CaptureStream
    from omnidesk.runtime.clock import SystemClock
    from omnidesk.runtime.evs_sampler import EvsSampler

    safety = settings.safety.with_overrides(dry_run=dry_run, max_steps=max_steps)
    closers: list[Callable[[], None]] = [model.close] if close_model else []
    try:
        watch_user = safety.pause_on_user_input and input_device is None
        desktop = build_desktop(settings, watch_user=watch_user, redactions=redactions)
        closers.append(desktop.close)
        selector = monitor if monitor is not None else settings.capture.monitor
        index = resolve_monitor(desktop.screen.monitors(), selector)
        fps, buffer_frames = settings.capture.fps, settings.capture.buffer_frames
        stream = CaptureStream(desktop.screen, monitor=index, fps=fps, buffer_frames=buffer_frames).start()
        closers.append(stream.stop)
        fmt, format_settings = build_model_format(settings, model.capabilities)
        crop_size = model.capabilities.image_size or 512  # EVS detail crops (only Omnidesk's JSON layout)
        sampler = EvsSampler(
            stream,
            settings.evs,
            image_size=crop_size,
            tokens_per_image=(crop_size // 32) ** 2,
            sizing=fmt.image_sizing,
        )
        agent = Agent(
            model,
            sampler,
            input_device or desktop.input,
            confirmer,
            SystemClock(),
            settings.agent,
            safety,
            windows=desktop.windows,
            secrets=secrets if secrets is not None else build_secret_store(),
            model_format=fmt,
            format_settings=format_settings,
            on_token=on_token,
            activity=desktop.activity,
            redactor=desktop.redactor,
            own_pids=[os.getpid()],
            fields=desktop.accessibility,
        )
    except BaseException:
        close_all(closers)
        raise
    return AgentSession(agent, model, sampler, sampler.monitor, closers)


def build_secret_store() -> KeyringSecretStore:
    """The keyring: secrets and their bindings (``omnidesk secrets``, runs, replays)."""
    from omnidesk.runtime.secrets import KeyringSecretStore

    return KeyringSecretStore()


# --- replays (`omnidesk replay`, the GUI's replay automations) ---------------------------------------


def build_replay_session(
    settings: Settings,
    *,
    confirmer: Confirmer,
    dry_run: bool = False,
    min_score: float = 0.8,
    secrets: SecretStore | None = None,
) -> ReplaySession:
    """The replay engine on this desktop: the masked screen, OpenCV template matching (``min_score``), the
    input device, the window list for the safety policy (deny-list, focused window, secret bindings), the
    keyring for secrets (``secrets`` replaces it in tests)."""
    from omnidesk.agent.replay import Replayer
    from omnidesk.agent.safety import SafetyPolicy
    from omnidesk.runtime.clock import SystemClock
    from omnidesk.runtime.template_locator import TemplateLocator

    desktop = build_desktop(settings)
    try:
        replayer = Replayer(
            desktop.screen,
            TemplateLocator(min_score=min_score),
            desktop.input,
            confirmer,
            SystemClock(),
            SafetyPolicy(
                settings.safety,
                windows=desktop.windows,
                secrets=secrets if secrets is not None else build_secret_store(),
                fields=desktop.accessibility,
                own_pids=[os.getpid()],
            ),
            redactor=desktop.redactor,
            dry_run=dry_run,
            settle_seconds=settings.agent.settle_seconds,
            settle_timeout=settings.agent.settle_timeout,
        )
    except BaseException:
        desktop.close()
        raise
    return ReplaySession(replayer, [desktop.close])


# --- perception: capture, microphone, pictures (`record`, `evs`, voice, screenshots) -----------------


def build_capture(
    settings: Settings,
    *,
    monitor: int | str | None = None,
    fps: float | None = None,
    buffer_frames: int | None = None,
    allow_desktop: bool = False,
) -> ScreenCapture:
    """A started capture stream of the chosen monitor (``--monitor N``, a RandR name, or the primary)."""
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


def build_input_recorder(
    settings: Settings, *, stop_combo: tuple[str, ...], on_stop: Callable[[], None]
) -> XInputRecorder:
    """The person's own clicks and keys for teach mode (deny-listed and Omnidesk's windows left out)."""
    return choose_platform(os.environ).input_recorder(
        settings, own_pids=[os.getpid()], stop_combo=stop_combo, on_stop=on_stop
    )


def build_task_desktop(settings: Settings) -> TaskDesktop:
    """The task suite's applications on this desktop and the accessibility tree (whatever the settings say:
    the checks read the tree; the agent's own use of it still follows ``accessibility.enabled``).

    Raises:
        WaylandSessionError, NoDisplayError: no X11 session to start applications on.
    """
    from omnidesk.runtime.desktop_apps import DesktopApps
    from omnidesk.runtime.windows import X11WindowInspector

    platform = choose_platform(os.environ)
    windows = X11WindowInspector()
    port = platform.accessibility(settings, windows=windows)
    return TaskDesktop(DesktopApps(os.environ, port), port, [windows.close, port.close])


def build_png_encoder(compression: int = 1) -> PngEncoder:
    """PNGs for trajectory bundles and screenshots (OpenCV; 1 = fast, for bundles written during a run)."""
    from omnidesk.runtime.png import CvPngEncoder

    return CvPngEncoder(compression)


def build_shot_files(thumbnail_width: int = 480) -> ShotFiles:
    """Evaluation screenshots read from disk as frames, sized for a model, and the report's thumbnails."""
    from omnidesk.runtime.shots import ShotFiles

    return ShotFiles(thumbnail_width)


def build_microphone(settings: Settings) -> SoundDeviceMicrophone:
    """The microphone from settings; opening it (first use) raises NoMicrophoneError when there is none."""
    from omnidesk.runtime.audio import SoundDeviceMicrophone

    return SoundDeviceMicrophone(settings.audio)
