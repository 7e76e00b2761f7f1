"""``omnidesk doctor``'s model lines: files present and valid, the mmproj's senses, whether it fits, how fast.

With a remote engine configured the one line says whether it answers and what it serves.
"""

from __future__ import annotations

import logging

from omnidesk.agent.errors import OmnideskError
from omnidesk.app.doctor import Check
from omnidesk.app.model_files import resolve_model_path
from omnidesk.app.settings import AppPaths, Settings
from omnidesk.runtime.llama.gguf_file import GGUFFile

__all__ = ["model_checks"]

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
    from omnidesk.runtime.system_probe import probe_remote

    url = settings.model.remote_url
    try:
        models = probe_remote(url, settings.model.remote_api_key)
    except OmnideskError as exc:
        return Check("model", False, str(exc), "start the engine, fix model.remote_url, or clear it to run locally")
    served = ", ".join(models[:3]) or "no models listed"
    return Check("model", True, f"remote engine {url} serves {served}")


def _fit_check(
    settings: Settings, text: GGUFFile, mmproj: GGUFFile | None, screen: tuple[int, int]
) -> tuple[Check, Check]:
    """Whether weights + KV cache + mmproj fit free RAM/VRAM (with a suggestion), and seconds per step for
    each reasoning choice, the prefill of the kept screenshots included."""
    from omnidesk.runtime.llama.offload import detect_memory, footprint_from_gguf, plan_offload
    from omnidesk.runtime.performance import measure_cpu, model_work, step_choices
    from omnidesk.runtime.profiles import load_profile
    from omnidesk.runtime.system_probe import llama_gpu_offload

    footprint = footprint_from_gguf(text, mmproj, settings.model.context_length)
    memory = detect_memory(llama_gpu_offload())
    plan = plan_offload(footprint, memory)
    work = model_work(text, mmproj)
    screenshots = settings.agent.screenshots_in_prompt or load_profile(settings.model.profile).screenshots
    tokens, choices = step_choices(work, plan, footprint.n_layer, measure_cpu(), screen=screen, screenshots=screenshots)
    fits = plan.ram_bytes <= memory.free_ram
    fix = ""
    if not fits:
        fix = (
            "pick a smaller quantisation (`omnidesk config set model.quant UD-IQ4_NL`), lower "
            "model.context_length, or point model.remote_url at a GPU server"
        )
    fit = Check("fit", fits, plan.explanation, fix)
    fastest = choices[0].estimate
    sizing = (
        f"{screenshots} screenshots of {screen[0]}x{screen[1]} kept, {tokens} tokens each"
        if tokens
        else (f"{screenshots} screenshots kept")
    )
    detail = f"per step ({sizing}; one new image encoded, {fastest.encode_seconds:.1f} s): " + "; ".join(
        choice.describe() for choice in choices
    )
    slow = fastest.seconds > 60
    hint = "slow on this machine: a GPU or a remote engine (model.remote_url) makes steps much faster" if slow else ""
    return fit, Check("speed", not slow, detail, hint, needed=False)
