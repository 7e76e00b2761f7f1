"""Render a :class:`ModelRequest` with the model's own Jinja chat template.

Media parts become libmtmd's media marker (``<__media__>``) in the text, in order, and the media travel
alongside; a :class:`CachePoint` splits the rendered prompt into the *prefix* (whose state the session
saves) and the *suffix*. Message contents are plain strings, so templates that do ``content | string``
see text, not a Python list.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from omnidesk.agent.errors import ModelError
from omnidesk.agent.ports import AudioPart, CachePoint, ChatMessage, ImagePart, Part, TextPart

__all__ = ["MEDIA_MARKER", "RenderedPrompt", "load_fallback_template", "neutralize_text", "render_prompt"]

log = logging.getLogger(__name__)

MEDIA_MARKER = "<__media__>"
_CACHE_SENTINEL = "\ue000omnidesk-cache-point\ue000"
_SAFE_MARKER = "<_media_>"
# ChatML turn markers: text from the screen or the task must not open a new system/assistant turn.
_SPECIAL_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")

Media = ImagePart | AudioPart


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    """The prompt text split at the cache point, with the media of each half in marker order."""

    prefix: str
    prefix_media: tuple[Media, ...]
    suffix: str
    suffix_media: tuple[Media, ...]


def load_fallback_template() -> str:
    """The Nemotron 3 Nano template shipped with Omnidesk (for GGUFs without one)."""
    return resources.files("omnidesk.assets").joinpath("templates/nemotron-3-nano.jinja").read_text(encoding="utf-8")


def _raise(message: str) -> None:
    raise ModelError(f"the chat template refused the conversation: {message}")


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    env.globals["raise_exception"] = _raise
    return env


def neutralize_text(text: str) -> str:
    """Message text cannot fake media or turn boundaries (special tokens are parsed in the prompt)."""
    text = text.replace(MEDIA_MARKER, _SAFE_MARKER)
    for token in _SPECIAL_TOKENS:
        text = text.replace(token, token[0] + "\u2060" + token[1:])
    return text


def _content(parts: tuple[Part, ...], media: list[Media], cache_seen: list[bool]) -> str:
    pieces: list[str] = []
    for part in parts:
        if isinstance(part, TextPart):
            pieces.append(neutralize_text(part.text))
        elif isinstance(part, ImagePart | AudioPart):
            pieces.append(MEDIA_MARKER)  # captions are the prompt builder's TextParts, not ours
            media.append(part)
        elif isinstance(part, CachePoint) and not cache_seen[0]:
            pieces.append(_CACHE_SENTINEL)
            cache_seen[0] = True
    return "".join(pieces)


def render_prompt(template: str, messages: tuple[ChatMessage, ...], *, enable_thinking: bool) -> RenderedPrompt:
    """Render ``messages`` and split them at the first :class:`CachePoint` (none: empty prefix)."""
    media: list[Media] = []
    cache_seen = [False]
    rendered_messages = [{"role": m.role, "content": _content(m.parts, media, cache_seen)} for m in messages]
    try:
        text = (
            _environment()
            .from_string(template)
            .render(
                messages=rendered_messages,
                add_generation_prompt=True,
                enable_thinking=enable_thinking,
                truncate_history_thinking=True,
                bos_token="",
                eos_token="<|im_end|>",
            )
        )
    except jinja2.TemplateError as exc:
        raise ModelError(f"the model's chat template failed to render: {exc}; try --profile") from exc
    if text.count(MEDIA_MARKER) != len(media):
        raise ModelError(
            f"the chat template dropped media: {len(media)} images/audio clips in, "
            f"{text.count(MEDIA_MARKER)} markers out; use a template that keeps user content"
        )
    if _CACHE_SENTINEL in text:
        prefix, suffix = text.split(_CACHE_SENTINEL, 1)
        suffix = suffix.replace(_CACHE_SENTINEL, "")
    else:
        prefix, suffix = "", text
    n_prefix = prefix.count(MEDIA_MARKER)
    return RenderedPrompt(prefix, tuple(media[:n_prefix]), suffix, tuple(media[n_prefix:]))
