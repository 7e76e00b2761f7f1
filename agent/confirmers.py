"""Runs with nobody to confirm: one policy, one :class:`Confirmer` for it.

The policy: an action that needs the person's yes is carried out only when a person says yes. Where no
person is there to ask, it is refused and the refusal says which action and which rule — never taken as a
yes, never waited on:

- an MCP ``run_task`` refuses every such action (the caller is a program, not the person) and lists them
  in its result;
- an evaluation task says yes only to the rules its spec lists (``allowed``) and answers only the
  questions its spec scripts (``answers``);
- a run or replay from a terminal with no terminal attached (a pipe, a service) refuses them;
- an automation started by a hotkey shows the confirmation bar: the person pressed the key, so the person
  is there.

:class:`UnattendedConfirmer` is the Confirmer for the first two.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import get_args

from omnidesk.agent.describe import describe_action
from omnidesk.agent.errors import ConfigError
from omnidesk.agent.ports import ConfirmationRequest, ConfirmRule

__all__ = ["CONFIRM_RULES", "Asked", "UnattendedConfirmer"]

logger = logging.getLogger(__name__)

CONFIRM_RULES: frozenset[str] = frozenset(get_args(ConfirmRule))


@dataclass(frozen=True, slots=True)
class Asked:
    """One confirmation asked in an unattended run: the action (log-safe), its rules and reason, the answer."""

    action: str
    rules: tuple[str, ...]
    reason: str
    allowed: bool


class UnattendedConfirmer:
    """The Confirmer port with nobody to ask (see the module doc).

    ``allowed``: the rules an evaluation spec answers yes to (a request is allowed only when every one of
    its rules is listed); ``answers``: question regex → the answer to give (case-insensitive search).
    ``asked`` and ``questions`` record what came up, for the caller's result.

    Raises:
        ConfigError: an unknown rule name or an invalid question pattern.
    """

    def __init__(
        self, *, allowed: Collection[str] = (), answers: Mapping[str, str] | None = None, who: str = "nobody"
    ) -> None:
        unknown = sorted(set(allowed) - CONFIRM_RULES)
        if unknown:
            raise ConfigError(f"unknown confirmation rules {unknown}; known: {sorted(CONFIRM_RULES)}")
        self._allowed = frozenset(allowed)
        try:
            self._answers = [(re.compile(p, re.IGNORECASE), a) for p, a in (answers or {}).items()]
        except re.error as exc:
            raise ConfigError(f"a scripted answer's question pattern is not a valid regular expression: {exc}") from exc
        self._who = who
        self.asked: list[Asked] = []
        self.questions: list[tuple[str, bool]] = []

    def confirm(self, request: ConfirmationRequest) -> bool:
        allowed = bool(request.rules) and set(request.rules) <= self._allowed
        self.asked.append(Asked(describe_action(request.action), request.rules, request.reason, allowed))
        logger.info(
            "%s to confirm %s (%s): %s",
            self._who,
            describe_action(request.action),
            ", ".join(request.rules) or "no rule",
            "allowed by the spec" if allowed else "refused",
        )
        return allowed

    def ask(self, question: str) -> str | None:
        for pattern, answer in self._answers:
            if pattern.search(question):
                self.questions.append((question, True))
                return answer
        self.questions.append((question, False))
        return None

    @property
    def refused(self) -> list[Asked]:
        """The confirmations refused so far."""
        return [a for a in self.asked if not a.allowed]
