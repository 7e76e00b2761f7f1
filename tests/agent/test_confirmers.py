"""Runs with nobody to confirm: the UnattendedConfirmer says yes only to the rules a spec lists."""

from __future__ import annotations

import pytest

from omnidesk.agent.actions import Hotkey, TypeText
from omnidesk.agent.config import SafetyConfig
from omnidesk.agent.confirmers import CONFIRM_RULES, UnattendedConfirmer
from omnidesk.agent.errors import ConfigError
from omnidesk.agent.ports import ConfirmationRequest


def request(*rules: str) -> ConfirmationRequest:
    return ConfirmationRequest(TypeText(text="ls"), "because", "Allow?", rules=rules)  # type: ignore[arg-type]


def test_nobody_refuses_everything_and_records_it() -> None:
    confirmer = UnattendedConfirmer()
    assert not confirmer.confirm(request("terminal"))
    assert not confirmer.confirm(ConfirmationRequest(Hotkey(keys=("ctrl", "w")), "closes", "Close?"))
    assert confirmer.ask("Which file?") is None
    assert [(a.action, a.rules, a.allowed) for a in confirmer.refused] == [
        ("type 2 characters", ("terminal",), False),
        ("press ctrl+w", (), False),
    ]
    assert confirmer.questions == [("Which file?", False)]


def test_an_evaluation_spec_answers_only_what_it_lists() -> None:
    confirmer = UnattendedConfirmer(allowed={"terminal", "line_break"}, answers={r"\bfile\b": "notes.txt"})
    assert confirmer.confirm(request("terminal"))
    assert confirmer.confirm(request("terminal", "line_break"))
    assert not confirmer.confirm(request("terminal", "destructive_command"))  # every rule must be listed
    assert not confirmer.confirm(request())  # a request with no rule is never a listed one
    assert confirmer.ask("Which FILE should I open?") == "notes.txt"
    assert confirmer.ask("What is your password?") is None
    assert len(confirmer.refused) == 2


def test_a_spec_naming_an_unknown_rule_is_an_error() -> None:
    with pytest.raises(ConfigError, match="unknown confirmation rules"):
        UnattendedConfirmer(allowed={"everything"})
    with pytest.raises(ConfigError, match="regular expression"):
        UnattendedConfirmer(answers={"(": "x"})
    assert {"secret_fill", "terminal", "user_input"} <= CONFIRM_RULES


def test_a_caller_may_only_tighten_the_persons_limits() -> None:
    person = SafetyConfig(max_steps=30, dry_run=True)
    assert person.tightened(max_steps=5).max_steps == 5
    assert person.tightened(dry_run=True).dry_run is True
    assert person.tightened().max_steps == 30
    with pytest.raises(ConfigError, match="only the person"):
        person.tightened(dry_run=False)
    with pytest.raises(ConfigError, match="above the person's limit of 30"):
        person.tightened(max_steps=31)
    with pytest.raises(ConfigError, match="max_steps"):
        person.tightened(max_steps=0)
    assert SafetyConfig().tightened(dry_run=True).dry_run is True


def test_the_persons_own_overrides_are_validated() -> None:
    assert SafetyConfig().with_overrides(max_steps=1000, dry_run=True).max_steps == 1000
    with pytest.raises(ConfigError, match="max_steps"):
        SafetyConfig().with_overrides(max_steps=5000)
