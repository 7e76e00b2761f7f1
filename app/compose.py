"""The one composition root: builds the runtime adapters from settings and hands them to the agent.

Nothing else in Omnidesk constructs adapters; tests build their own graphs from fakes instead.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

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
from omnidesk.app.doctor import Check
from omnidesk.app.settings import AppPaths, Settings
from omnidesk.runtime.llama.gguf_file import GGUFFile

if TYPE_CHECKING:
    from omnidesk.agent.loop import Agent
    from omnidesk.agent.parsing import OutputParser
    from omnidesk.runtime.audio import SoundDeviceMicrophone
    from omnidesk.runtime.capture import CaptureStream, MssScreen
    from omnidesk.runtime.evs_sampler import EvsSampler

__all__ = [
    "AgentSession",
    "ScreenCapture",
    "SystemClock",
    "agent_parser_for",
    "build_agent_session",
    "build_capture",
    "build_microphone",
    "build_model_client",
    "build_sampler",
    "build_screen",
    "find_mmproj",
    "is_loopback_url",
    "model_checks",
    "require_remote_consent",
    "resolve_model_path",
]

log = logging.getLogger(__name__)


# --- model -----------------------------------------------------------------------------------------


def resolve_model_path(settings: Settings, paths: AppPaths) -> Path | None:
    """The configured GGUF: a path as given, or a NAME looked up in the data dir's models folder."""
    name = settings.model.model
    if not name:
        return None
    candidate = Path(name).expanduser()
    if candidate.suffix == ".gguf" or candidate.is_absolute() or candidate.exists():
        return candidate
    folder = paths.models_dir / name
    ggufs = sorted(p for p in folder.glob("*.gguf") if "mmproj" not in p.name.lower()) if folder.is_dir() else []
    return ggufs[0] if ggufs else folder


def model_checks(settings: Settings, paths: AppPaths) -> list[Check]:
    """Doctor lines for the configured model: files present and valid, whether it fits, and how fast."""
    if settings.model.remote_url:
        return [_remote_check(settings)]
    from omnidesk.runtime.llama.validate import validate_model_files
    from omnidesk.runtime.profiles import load_profile

    model = resolve_model_path(settings, paths)
    if model is None:
        return [
            Check(
                "model",
                False,
                "no model configured",
                "run `omnidesk models pull` or `omnidesk config set model.model /path/to/model.gguf`",
            )
        ]
    try:
        profile = load_profile(settings.model.profile)
        text, mmproj = validate_model_files(model, settings.model.mmproj, tuple(profile.architectures))
    except OmnideskError as exc:
        return [Check("model", False, str(exc), "fix or re-download the model files (`omnidesk models verify`)")]
    checks = [
        Check("model", True, f"{text.name or text.path.name} ({text.architecture}, {_gib(text.header.file_size)})")
    ]
    if mmproj is None:
        checks.append(
            Check(
                "mmproj",
                False,
                "no mmproj configured: the model cannot see the screen",
                "`omnidesk config set model.mmproj /path/to/mmproj.gguf`",
            )
        )
    else:
        checks.append(
            Check("mmproj", mmproj.has_vision, f"vision {'✓' if mmproj.has_vision else '✗'} ({mmproj.path.name})")
        )
        checks.append(
            Check(
                "voice",
                mmproj.has_audio,
                "the mmproj has an audio encoder" if mmproj.has_audio else "this mmproj has no audio encoder",
                "use an mmproj with the Parakeet audio encoder for voice commands",
                needed=False,
            )
        )
    checks.append(_fit_check(settings, text.header, mmproj.header if mmproj else None))
    return checks


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def _remote_check(settings: Settings) -> Check:
    from omnidesk.runtime.system_probe import probe_remote

    url = settings.model.remote_url
    try:
        models = probe_remote(url, settings.model.remote_api_key)
    except OmnideskError as exc:
        return Check("model", False, str(exc), "start the engine, fix model.remote_url, or clear it to run locally")
    served = ", ".join(models[:3]) or "no models listed"
    return Check("model", True, f"remote engine {url} serves {served}")


def _fit_check(settings: Settings, text: GGUFFile, mmproj: GGUFFile | None) -> Check:
    """Whether weights + KV cache + mmproj fit free RAM/VRAM, with a suggestion and seconds per step."""
    from omnidesk.runtime.llama.offload import detect_memory, footprint_from_gguf, plan_offload
    from omnidesk.runtime.performance import estimate_step, measure_cpu, model_work
    from omnidesk.runtime.system_probe import llama_gpu_offload

    footprint = footprint_from_gguf(text, mmproj, settings.model.context_length)
    memory = detect_memory(llama_gpu_offload())
    plan = plan_offload(footprint, memory)
    estimate = estimate_step(model_work(text, mmproj), plan, footprint.n_layer, measure_cpu())
    fits = plan.ram_bytes <= memory.free_ram
    detail = f"{plan.explanation} Estimate: {estimate.describe()}."
    fix = ""
    if not fits:
        fix = (
            "pick a smaller quantisation (`omnidesk config set model.quant UD-IQ4_NL`), lower "
            "model.context_length, or point model.remote_url at a GPU server"
        )
    elif estimate.seconds > 60:
        fix = "slow on this machine: a GPU or a remote engine (model.remote_url) makes steps much faster"
    return Check("fit", fits, detail, fix)


# --- model client (ask, agent runs) ----------------------------------------------------------------


def find_mmproj(model: Path) -> Path | None:
    """An ``mmproj*.gguf`` next to the model file (how ``models pull`` and most repos lay them out)."""
    candidates = sorted(model.parent.glob("mmproj*.gguf")) if model.parent.is_dir() else []
    return candidates[0] if candidates else None


RemoteConsent = Callable[[str], bool]
"""Asks the person whether their screen may go to a remote engine (the question is the argument)."""


def is_loopback_url(url: str) -> bool:
    """Whether a URL points at this machine (the screen never leaves it then)."""
    host = (urlsplit(url).hostname or "").strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_remote_consent(settings: Settings, paths: AppPaths, url: str, ask: RemoteConsent | None) -> None:
    """Before the screen first goes to a remote engine that is not on loopback, the person allows it.

    The answer is remembered per URL in ``model.remote_confirmed``; without a way to ask (no terminal,
    an MCP client) an unconfirmed URL is refused with the command that allows it.
    """
    from omnidesk.agent.errors import ConfigError
    from omnidesk.app.settings import load_settings, save_settings

    if is_loopback_url(url) or url in settings.model.remote_confirmed:
        return
    question = (
        f"Omnidesk will send your screen, your questions and your voice to {url}, which is not this machine. Allow it?"
    )
    if ask is None or not ask(question):
        raise ConfigError(
            f"your screen is not sent to {url} without your consent; allow it once with "
            f"`omnidesk config set model.remote_confirmed '[\"{url}\"]'` or confirm when asked"
        )
    stored = load_settings(paths, environment=False)
    stored.model.remote_confirmed = [*stored.model.remote_confirmed, url]
    save_settings(stored, paths)
    log.info("remote engine %s allowed by the user", url)


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


class SystemClock:
    """The Clock port on the process's real clocks."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def wall_time(self) -> float:
        return time.time()


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

    from omnidesk.agent.loop import Agent
    from omnidesk.runtime.capture import CaptureStream, MssScreen, resolve_monitor
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
    from omnidesk.runtime.capture import CaptureStream, resolve_monitor

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


def build_microphone(settings: Settings) -> SoundDeviceMicrophone:
    """The microphone from settings; opening it (first use) raises NoMicrophoneError when there is none."""
    from omnidesk.runtime.audio import SoundDeviceMicrophone

    return SoundDeviceMicrophone(settings.audio)
