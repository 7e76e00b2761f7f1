"""Render a :class:`ModelRequest` with the model's own Jinja chat template, as llama.cpp's server does.

The server receives what Omnidesk's OpenAI client sends (``runtime/remote.encode_messages``: adjacent text
parts merged, text-only messages as strings) and turns each media part into its media marker, joining a
message's parts into one string with no separator around markers (``common/chat.cpp``,
``common_chat_msg::to_json_oaicompat``). Here media parts become libmtmd's marker (``<__media__>``) in the
same way, in order, and the media travel alongside, so the template sees the same strings. The template gets
the server's variables: ``messages``, ``bos_token`` / ``eos_token`` (the vocabulary's), ``enable_thinking``,
``add_generation_prompt`` and the request's template kwargs; a leading BOS (trailing EOS) text is cut when the
tokenizer adds that token itself. A :class:`CachePoint` renders as nothing: prompt reuse is found on tokens.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from omnidesk.agent.errors import ModelError
from omnidesk.agent.ports import AudioPart, CachePoint, ChatMessage, ImagePart, Part, TextPart

__all__ = [
    "MEDIA_MARKER",
    "RenderedPrompt",
    "TemplateVocab",
    "load_fallback_template",
    "neutralize_text",
    "render_prompt",
]

log = logging.getLogger(__name__)

MEDIA_MARKER = "<__media__>"
_SAFE_MARKER = "<_media_>"
# ChatML turn markers: text from the screen or the task must not open a new system/assistant turn.
_SPECIAL_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")

Media = ImagePart | AudioPart


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    """The prompt text (one media marker per media part) and the media in marker order."""

    text: str
    media: tuple[Media, ...] = ()


@dataclass(frozen=True, slots=True)
class TemplateVocab:
    """What the server hands a template from the vocabulary: BOS/EOS texts, and whether they are added."""

    bos_token: str = ""
    eos_token: str = ""
    add_bos: bool = False
    add_eos: bool = False


def load_fallback_template() -> str:
    """The Nemotron 3 Nano template shipped with Omnidesk (for GGUFs without one)."""
    return resources.files("omnidesk.assets").joinpath("templates/nemotron-3-nano.jinja").read_text(encoding="utf-8")


def _raise(message: str) -> None:
    raise ModelError(f"the chat template refused the conversation: {message}")


def _tojson(value: object, indent: int | None = None, **_: object) -> str:
    """Hugging Face's ``tojson`` (no HTML escaping, non-ASCII kept), which chat templates are written for."""
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    env.globals["raise_exception"] = _raise
    env.filters["tojson"] = _tojson
    return env


@functools.lru_cache(maxsize=8)
def _compiled(template: str) -> jinja2.Template:
    """The template compiled once: compiling a model's template costs ~100x rendering it, and every request
    renders it (twice for a hybrid model: the prompt and its system turn alone)."""
    return _environment().from_string(template)


def neutralize_text(text: str) -> str:
    """Message text cannot fake media or turn boundaries (special tokens are parsed in the prompt)."""
    text = text.replace(MEDIA_MARKER, _SAFE_MARKER)
    for token in _SPECIAL_TOKENS:
        text = text.replace(token, token[0] + "\u2060" + token[1:])
    return text


def _content(parts: tuple[Part, ...], media: list[Media]) -> str:
    """A message's content as the server's template sees it: text and markers in order, no separator.

    (The OpenAI client merges adjacent text parts, so the server's newline between adjacent text parts
    never applies; a media marker gets no newline on either side.)
    """
    pieces: list[str] = []
    for part in parts:
        if isinstance(part, TextPart):
            pieces.append(neutralize_text(part.text))
        elif isinstance(part, ImagePart | AudioPart):
            pieces.append(MEDIA_MARKER)  # captions are the prompt builder's TextParts, not ours
            media.append(part)
        elif not isinstance(part, CachePoint):
            raise ModelError(f"a message part of type {type(part).__name__} cannot be sent to the model")
    return "".join(pieces)


def render_prompt(
    template: str,
    messages: tuple[ChatMessage, ...],
    *,
    enable_thinking: bool,
    template_kwargs: Mapping[str, object] | None = None,
    vocab: TemplateVocab = TemplateVocab(),
    add_generation_prompt: bool = True,
) -> RenderedPrompt:
    """Render ``messages`` with the server's template variables (see the module doc)."""
    media: list[Media] = []
    rendered_messages = [{"role": m.role, "content": _content(m.parts, media)} for m in messages]
    variables: dict[str, object] = {
        "messages": rendered_messages,
        "bos_token": vocab.bos_token,
        "eos_token": vocab.eos_token,
        "enable_thinking": enable_thinking,
    }
    variables.update(template_kwargs or {})
    if add_generation_prompt:
        variables["add_generation_prompt"] = True
    try:
        text = _compiled(template).render(**variables)
    except jinja2.TemplateError as exc:
        raise ModelError(f"the model's chat template failed to render: {exc}; try --profile") from exc
    if text.count(MEDIA_MARKER) != len(media):
        raise ModelError(
            f"the chat template dropped media: {len(media)} images/audio clips in, "
            f"{text.count(MEDIA_MARKER)} markers out; use a template that keeps user content"
        )
    if vocab.add_bos and vocab.bos_token and text.startswith(vocab.bos_token):
        text = text[len(vocab.bos_token) :]
    if vocab.add_eos and vocab.eos_token and text.endswith(vocab.eos_token):
        text = text[: -len(vocab.eos_token)]
    return RenderedPrompt(text, tuple(media))
