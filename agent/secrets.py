"""Secrets as placeholders, bound to the windows where the person allows them to be typed.

The model, the logs, the trajectories and the prompts only ever see ``{{secret:NAME}}``. The value is
looked up in a :class:`SecretStore` (the keyring adapter lives in ``runtime/secrets.py``) at the moment
of typing, and nowhere else.

A model can name any secret, so naming one is not enough to get it typed. Each secret is stored with a
:class:`SecretBinding`, chosen by the person when they store it (``omnidesk secrets set NAME
--window-class … --title … [--alone]``): the windows (WM_CLASS parts and/or title, matched like the
deny-list: ``agent/window_rules.py``) where it may be typed, and whether the typed text must be the
placeholder alone (a password field). :func:`review_fill` refuses a fill whose focused window does not
match, whose text has more than the placeholder where the binding says alone, or whose secret has no
binding (stored before bindings existed: the message says how to bind it). Every fill that passes still
needs the person's yes (the safety policy asks; the question names the secret and the window, never the
value).

:class:`RunSecrets` adds answers the person gave to a question about a secret (``ask_user``): they are
kept for the run as secrets of their own, bound to the window that had focus when the question was asked,
so the answer reaches neither the model nor the trajectory.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Protocol

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from omnidesk.agent.errors import ConfigError, SafetyStop
from omnidesk.agent.ports import WindowInfo
from omnidesk.agent.window_rules import WindowMatcher, window_label

__all__ = [
    "NAME_PATTERN",
    "SECRET_PATTERN",
    "RunSecrets",
    "SecretBinding",
    "SecretStore",
    "bind_command",
    "fill_secrets",
    "is_secret_question",
    "review_fill",
    "secret_names",
]

SECRET_PATTERN = re.compile(r"\{\{\s*secret:([A-Za-z0-9_.\-]{1,64})\s*\}\}")
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
"""What a secret's name may be (what a placeholder can name)."""


class SecretBinding(BaseModel):
    """Where a secret may be typed: a focused window whose WM_CLASS part matches one of ``window_class``
    and whose title matches one of ``title`` (an empty list does not restrict); ``alone``: the typed
    text must be the placeholder and nothing else."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_class: tuple[str, ...] = ()
    title: tuple[str, ...] = ()
    alone: bool = False

    @field_validator("window_class", "title")
    @classmethod
    def _patterns(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(p.strip() for p in patterns if p.strip())
        try:
            WindowMatcher(cleaned, what="secret binding")
        except ConfigError as exc:
            raise ValueError(str(exc)) from exc
        return cleaned

    @model_validator(mode="after")
    def _somewhere(self) -> SecretBinding:
        if not self.window_class and not self.title:
            raise ValueError(
                "a binding needs a window class or a title pattern (a secret typed anywhere is no binding)"
            )
        return self

    def matches(self, window: WindowInfo) -> bool:
        """Whether ``window`` is one where the secret may be typed."""
        if self.window_class and not WindowMatcher(self.window_class).matches_class(window):
            return False
        return not self.title or WindowMatcher(self.title).matches_title(window)

    def describe(self) -> str:
        """E.g. ``windows of class firefox titled 'GitHub', the placeholder alone``."""
        parts = []
        if self.window_class:
            parts.append("of class " + " or ".join(self.window_class))
        if self.title:
            parts.append("titled " + " or ".join(repr(t) for t in self.title))
        alone = ", the placeholder alone" if self.alone else ""
        return f"windows {' '.join(parts)}{alone}"

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> SecretBinding:
        """Raises: ConfigError: not a binding (the message says how to set it again)."""
        try:
            return cls.model_validate(json.loads(text))
        except (ValueError, ValidationError) as exc:
            raise ConfigError(f"a stored secret binding is unreadable ({exc}); bind the secret again") from exc


class SecretStore(Protocol):
    """Named secrets the person stored for Omnidesk, each with its binding (never shown to the model)."""

    def get(self, name: str) -> str | None:
        """The secret's value, or ``None`` when there is no such secret."""
        ...

    def binding(self, name: str) -> SecretBinding | None:
        """Where the secret may be typed, or ``None`` when it has no binding (yet)."""
        ...


def secret_names(text: str) -> list[str]:
    """The names of the placeholders in ``text``, in order."""
    return SECRET_PATTERN.findall(text)


def bind_command(name: str) -> str:
    """The command that binds secret ``name`` (quoted in refusals)."""
    return f"omnidesk secrets bind {name} --window-class CLASS [--title TITLE] [--alone]"


def review_fill(text: str, store: SecretStore | None, focused: WindowInfo | None, *, known: bool) -> str | None:
    """Why typing ``text`` (which holds placeholders) must be refused, or ``None`` when it may be typed
    after the person's yes. ``focused`` is the window with keyboard focus; ``known`` is false when there
    is no way to tell (then no secret is typed)."""
    names = list(dict.fromkeys(secret_names(text)))
    for name in names:
        binding = store.binding(name) if store is not None else None
        if store is None or store.get(name) is None:
            return f"secret {name!r} is not stored; store it with `omnidesk secrets set {name} --window-class CLASS`"
        if binding is None:
            return (
                f"secret {name!r} has no window binding (it was stored before bindings existed), so it is never "
                f"typed; bind it with `{bind_command(name)}`"
            )
        if binding.alone and SECRET_PATTERN.fullmatch(text) is None:
            return f"secret {name!r} may only be typed alone (its placeholder and nothing else)"
        if not known:
            return f"cannot tell which window has keyboard focus, so secret {name!r} is not typed"
        if focused is None:
            return f"no window has keyboard focus, so secret {name!r} is not typed"
        if not binding.matches(focused):
            return (
                f"secret {name!r} may only be typed into {binding.describe()}; the window with keyboard focus "
                f"is {window_label(focused)}"
            )
    return None


def fill_secrets(text: str, store: SecretStore | None) -> str:
    """Replace every placeholder by its value (only after :func:`review_fill` and the person's yes).

    Raises:
        SafetyStop: a placeholder names a secret that is not stored (or there is no store).
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        secret = store.get(name) if store is not None else None
        if secret is None:
            raise SafetyStop(
                f"the model asked to type secret {name!r}, which is not stored; store it with "
                f"`omnidesk secrets set {name} --window-class CLASS` or answer the model yourself",
                reason="missing_secret",
            )
        return secret

    return SECRET_PATTERN.sub(value, text)


_SECRET_QUESTION = re.compile(
    r"(?<![^\W_])(?:pass(?:word|words|phrase|code|wd)|pwd|pin(?:\s*code)?|secret|token|api[\s_-]*key|"
    r"private[\s_-]*key|otp|2fa|mfa|two[\s-]*factor|one[\s-]*time[\s-]*(?:code|password)|verification[\s-]*code|"
    r"security[\s-]*(?:code|answer|question)|auth(?:entication|orization)?[\s-]*code|cvv|cvc|card[\s-]*number|"
    r"credit[\s-]*card|iban|ssn|social[\s-]*security|recovery[\s-]*(?:code|phrase|key)|seed[\s-]*phrase|"
    r"passkey|credentials?|login[\s-]*details)(?![^\W_])",
    re.IGNORECASE,
)


def is_secret_question(question: str) -> bool:
    """Whether a model's question asks for a secret (its answer is then kept like one: see :class:`RunSecrets`)."""
    from omnidesk.agent.injection import normalise

    return _SECRET_QUESTION.search(normalise(question)) is not None


class RunSecrets:
    """The person's stored secrets plus, for one run, the answers they gave to questions about a secret.

    An answer becomes ``{{secret:answer-N}}``, bound to the window that had keyboard focus when the
    question was asked (its WM_CLASS parts, exactly); with no focused window known it gets no binding and
    is never typed. Nothing of it outlives the run.
    """

    def __init__(self, stored: SecretStore | None) -> None:
        self._stored = stored
        self._answers: dict[str, tuple[str, SecretBinding | None]] = {}
        self._ids = itertools.count(1)

    def clear(self) -> None:
        """Forget every answer (a run ends)."""
        self._answers.clear()

    def keep_answer(self, value: str, focused: WindowInfo | None) -> str:
        """Keep ``value`` for this run; returns its placeholder."""
        name = f"answer-{next(self._ids)}"
        binding = None
        if focused is not None and any(focused.wm_class):
            binding = SecretBinding(window_class=tuple(f"{re.escape(p)}" for p in focused.wm_class if p))
        self._answers[name] = (value, binding)
        return "{{secret:" + name + "}}"

    def get(self, name: str) -> str | None:
        if name in self._answers:
            return self._answers[name][0]
        return self._stored.get(name) if self._stored is not None else None

    def binding(self, name: str) -> SecretBinding | None:
        if name in self._answers:
            return self._answers[name][1]
        return self._stored.binding(name) if self._stored is not None else None
