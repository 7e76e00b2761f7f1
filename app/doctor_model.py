"""``omnidesk doctor``'s model lines: files present and valid, the mmproj's senses, whether it fits, how fast.

With a remote engine configured the one line says whether it answers and what it serves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from omnidesk.agent.errors import OmnideskError
from omnidesk.app.doctor import Check
from omnidesk.app.model_files import resolve_model_path
from omnidesk.app.settings import AppPaths, Settings, remote_api_key
from omnidesk.runtime.llama.gguf_file import GGUFFile

if TYPE_CHECKING:
    from omnidesk.runtime.llama.offload import DeviceMemory, ModelFootprint, OffloadPlan
    from omnidesk.runtime.performance import MachineSpeed, ModelWork, StepChoice, StepEstimate

__all__ = ["FitAssessment", "Machine", "assess_fit", "assess_footprint", "measure_machine", "model_checks"]

log = logging.getLogger(__name__)


def model_checks(settings: Settings, paths: AppPaths, screen: tuple[int, int] | None = None) -> list[Check]:
    """Doctor lines for the configured model: files present and valid, whether it fits, and how fast.

    ``screen`` is the monitor the agent will look at (its screenshots' size sets their token cost).
    """
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
    fit, speed = _fit_check(settings, text.header, mmproj.header if mmproj else None, screen or (1920, 1080))
    return [*checks, fit, speed]


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def _remote_check(settings: Settings) -> Check:
    from omnidesk.app.compose import build_api_key_store
    from omnidesk.runtime.system_probe import probe_remote
    from omnidesk.runtime.urls import redact_url

    url = settings.model.remote_url
    try:
        models = probe_remote(url, remote_api_key(settings, build_api_key_store()))
    except OmnideskError as exc:
        return Check("model", False, str(exc), "start the engine, fix model.remote_url, or clear it to run locally")
    served = ", ".join(models[:3]) or "no models listed"
    return Check("model", True, f"remote engine {redact_url(url)} serves {served}")


@dataclass(frozen=True, slots=True)
class Machine:
    """What this machine offers a model: free RAM/VRAM and measured CPU speed (measured once, reused), and
    the size of the monitor the agent looks at (its screenshots' token count is part of every step)."""

    memory: DeviceMemory
    speed: MachineSpeed
    screen: tuple[int, int] = (1920, 1080)


@dataclass(frozen=True, slots=True)
class FitAssessment:
    """Whether a model fits this machine, where its weights would go, and seconds per step for each
    reasoning choice (``choices[0]`` is the fastest: non-thinking) with ``screenshots`` kept of ``screen``."""

    fits: bool
    plan: OffloadPlan
    choices: tuple[StepChoice, ...]
    tokens: int
    screenshots: int
    screen: tuple[int, int]
    fix: str

    @property
    def estimate(self) -> StepEstimate:
        """The fastest choice's step."""
        return self.choices[0].estimate

    @property
    def slow(self) -> bool:
        return self.estimate.seconds > 60

    @property
    def hint(self) -> str:
        """What to do when steps are slow on this machine."""
        return (
            "slow on this machine: a GPU or a remote engine (model.remote_url) makes steps much faster"
            if (self.slow)
            else ""
        )

    @property
    def speed(self) -> str:
        """Seconds per step for each reasoning choice, with what the prompt holds."""
        width, height = self.screen
        sizing = (
            f"{self.screenshots} screenshots of {width}x{height} kept, {self.tokens} tokens each"
            if self.tokens
            else f"{self.screenshots} screenshots kept"
        )
        return f"per step ({sizing}; one new image encoded, {self.estimate.encode_seconds:.1f} s): " + "; ".join(
            choice.describe() for choice in self.choices
        )

    @property
    def detail(self) -> str:
        return f"{self.plan.explanation} Estimate {self.speed}."


def measure_machine(screen: tuple[int, int] = (1920, 1080)) -> Machine:
    """Free memory (GPU when llama.cpp can use one) and CPU speed; takes well under a second."""
    from omnidesk.runtime.llama.offload import detect_memory
    from omnidesk.runtime.performance import measure_cpu
    from omnidesk.runtime.system_probe import llama_gpu_offload

    return Machine(detect_memory(llama_gpu_offload()), measure_cpu(), screen)


def assess_fit(
    settings: Settings,
    text: GGUFFile,
    mmproj: GGUFFile | None,
    machine: Machine,
    screen: tuple[int, int] | None = None,
) -> FitAssessment:
    """Whether weights + KV cache + mmproj fit free RAM/VRAM, with a suggestion and seconds per step.

    Works from GGUF headers alone, so the first-run panel can judge a download before it starts.
    """
    from omnidesk.runtime.llama.offload import footprint_from_gguf
    from omnidesk.runtime.performance import model_work
    from omnidesk.runtime.profiles import load_profile

    footprint = footprint_from_gguf(text, mmproj, settings.model.context_length)
    screenshots = settings.agent.screenshots_in_prompt or load_profile(settings.model.profile).screenshots
    work = model_work(text, mmproj)
    return assess_footprint(footprint, work, machine, screen=screen or machine.screen, screenshots=screenshots)


def assess_footprint(
    footprint: ModelFootprint,
    work: ModelWork,
    machine: Machine,
    *,
    screen: tuple[int, int] | None = None,
    screenshots: int = 3,
) -> FitAssessment:
    """:func:`assess_fit` from the model's sizes and per-token work (however they were counted); ``screen``
    defaults to the machine's."""
    from omnidesk.runtime.llama.offload import plan_offload
    from omnidesk.runtime.performance import step_choices

    screen = screen or machine.screen
    plan = plan_offload(footprint, machine.memory)
    tokens, choices = step_choices(work, plan, footprint.n_layer, machine.speed, screen=screen, screenshots=screenshots)
    fits = plan.ram_bytes <= machine.memory.free_ram
    fix = ""
    if not fits:
        fix = (
            "pick a smaller quantisation (`omnidesk config set model.quant UD-IQ4_NL`), lower "
            "model.context_length, or point model.remote_url at a GPU server"
        )
    return FitAssessment(fits, plan, tuple(choices), tokens, screenshots, screen, fix)


def _fit_check(
    settings: Settings, text: GGUFFile, mmproj: GGUFFile | None, screen: tuple[int, int]
) -> tuple[Check, Check]:
    """The doctor lines of :func:`assess_fit` for the configured model: whether it fits, and how fast."""
    fit = assess_fit(settings, text, mmproj, measure_machine(), screen)
    return (
        Check("fit", fit.fits, fit.plan.explanation, fit.fix),
        Check("speed", not fit.slow, fit.speed, fit.hint, needed=False),
    )
