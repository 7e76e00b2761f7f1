"""Answers to questions about a secret are kept like secrets; run secrets layer over the stored ones."""

from __future__ import annotations

import pytest

from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import WindowInfo
from omnidesk.agent.secrets import RunSecrets, SecretBinding, fill_secrets, is_secret_question, review_fill
from tests.fakes import FakeSecretStore

FIREFOX = WindowInfo(7, "Sign in", ("Navigator", "firefox"), Rect(0, 0, 100, 100))
GEDIT = WindowInfo(8, "notes", ("gedit", "Gedit"), Rect(0, 0, 100, 100))


@pytest.mark.parametrize(
    "question",
    ["What is your password?", "Please give me the PIN", "Which 2FA code did you get?", "Your API key?",
     "What is the one-time code from the SMS?", "Enter the verification code", "pass\u200bword for the bank?",
     "What's the passphrase?", "credit card number please", "login credentials for the VPN?"],
)  # fmt: skip
def test_secret_questions(question: str) -> None:
    assert is_secret_question(question)


@pytest.mark.parametrize(
    "question", ["Which file should I open?", "Should I pass on the message?", "What is the spinning wheel?", "Ping?"]
)
def test_ordinary_questions(question: str) -> None:
    assert not is_secret_question(question)


def test_an_answer_is_a_run_secret_bound_to_the_window_focused_when_asked() -> None:
    stored = FakeSecretStore({"mail": "m@il"}, {"mail": SecretBinding(window_class=("gedit",))})
    run = RunSecrets(stored)
    placeholder = run.keep_answer("hunter2", FIREFOX)
    assert placeholder == "{{secret:answer-1}}"
    assert fill_secrets(placeholder + " and {{secret:mail}}", run) == "hunter2 and m@il"
    assert review_fill(placeholder, run, FIREFOX, known=True) is None
    refusal = review_fill(placeholder, run, GEDIT, known=True)
    assert refusal is not None and "class Navigator or firefox" in refusal
    unbound = run.keep_answer("1234", None)
    assert "no window binding" in (review_fill(unbound, run, FIREFOX, known=True) or "")
    run.clear()
    assert run.get("answer-1") is None and run.get("mail") == "m@il"


def test_where_a_secret_shows() -> None:
    from omnidesk.agent.keyguard import secret_area

    window = WindowInfo(1, "Login", ("app", "App"), Rect(100, 100, 800, 600))
    assert secret_area(window, (400, 300)) == Rect(100, 252, 800, 96)  # a band across the window at the pointer
    assert secret_area(window, (400, 110)) == Rect(100, 100, 800, 58)  # clipped to the window
    assert secret_area(window, (10, 10)) == window.geometry  # pointer elsewhere: the whole window
    assert secret_area(window, (400, 300), Rect(200, 400, 300, 30)) == Rect(196, 396, 308, 38)  # the field itself
