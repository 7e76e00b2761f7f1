"""What the settings make of the model before anything is loaded: the format a run speaks to it, and the
options the remote client or the local session is opened with.

Pure derivations from the settings and the model's profile, kept apart from the composition root
(:mod:`omnidesk.app.compose`, which opens the model with them and re-exports :func:`build_model_format`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from omnidesk.agent.formats import FormatSettings, ModelFormat
    from omnidesk.agent.ports import ModelCapabilities
    from omnidesk.app.settings import Settings
    from omnidesk.runtime.llama.session import SessionProfile
    from omnidesk.runtime.profiles import ModelProfile
    from omnidesk.runtime.remote import RemoteOptions

__all__ = ["build_model_format", "remote_options", "session_profile"]

log = logging.getLogger(__name__)


def build_model_format(settings: Settings, capabilities: ModelCapabilities) -> tuple[ModelFormat, FormatSettings]:
    """The one place a model format is chosen: the profile's ``output_format`` (Omnidesk's JSON mode when
    ``agent.use_json_actions`` is set), with this run's settings for it — the format's defaults for this
    engine (fast or slow decoding), the profile's screenshot count, then the person's ``agent`` settings."""
    from omnidesk.agent.formats import get_format, resolve_settings
    from omnidesk.runtime.profiles import load_profile

    profile = load_profile(settings.model.profile)
    name = "json" if settings.agent.use_json_actions else profile.output_format
    fmt = get_format(name, capabilities.coordinate_convention)
    chosen = resolve_settings(
        fmt, settings.agent, slow_decoding=capabilities.slow_decoding, screenshots=profile.screenshots
    )
    log.info(
        "model format %s: thinking %s, %d screenshot(s) per request, up to %d tokens",
        fmt.name,
        "on" if chosen.thinking else "off",
        chosen.screenshots,
        chosen.max_tokens,
    )
    return fmt, chosen


def remote_options(settings: Settings, profile: ModelProfile) -> RemoteOptions:
    """What the remote client says about the model it talks to: the profile's facts, the engine settings."""
    from omnidesk.runtime.remote import RemoteOptions

    section = settings.model
    return RemoteOptions(
        name=section.remote_model or profile.display_name,
        vision=True,
        audio=profile.audio,
        image_size=profile.image_size,
        coordinate_convention=profile.coordinate_convention,
        context_length=section.context_length,
        enable_thinking=profile.thinking_default,
        engine=section.remote_engine,
    )


def session_profile(settings: Settings, profile: ModelProfile) -> SessionProfile:
    """The local session's profile, with the pointing reference ``omnidesk calibrate --model`` measured."""
    chosen = profile.session_profile()
    if settings.model.pointing_reference is not None:
        chosen = replace(chosen, pointing_reference=settings.model.pointing_reference)
    return chosen
