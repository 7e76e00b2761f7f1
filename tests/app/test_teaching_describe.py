"""Reading the model's description of a demonstration: the asked form, or a clear refusal."""

from __future__ import annotations

import pytest

from omnidesk.agent.errors import ModelOutputError
from omnidesk.app.teaching.describe import MAX_DESCRIPTION, QUESTION, TaskDescription, parse_description


def test_the_asked_form_and_what_models_add_around_it() -> None:
    answer = (
        "Sure.\n\n**TASK:** Type a greeting into the form\nand press OK.\n\n**STEPS:**\n"
        "1. Click the text field.\n2) Type “Grüße <ok> 東京”.\n 3. Press OK.\n\nThat is all."
    )
    assert parse_description(answer) == TaskDescription(
        "Type a greeting into the form and press OK.",
        ("Click the text field.", "Type “Grüße <ok> 東京”.", "Press OK."),
    )
    assert parse_description("TASK: Save the file.") == TaskDescription("Save the file.", ())
    assert "TASK:" in QUESTION and "STEPS:" in QUESTION


@pytest.mark.parametrize(
    "answer",
    ["", "I cannot see a task here.", "TASK:   \nSTEPS:\n1. x", "TASK: a\nSTEPS:\n1. x\n3. y"],
)
def test_answers_off_the_form_are_refused(answer: str) -> None:
    with pytest.raises(ModelOutputError):
        parse_description(answer)


def test_a_huge_or_hostile_answer_is_bounded_and_cleaned() -> None:
    steps = "\n".join(f"{n}. step\x1b[31m {n}" for n in range(1, 200))
    parsed = parse_description("TASK: " + "x" * 10_000 + "\u202e\nSTEPS:\n" + steps)
    assert len(parsed.description) == MAX_DESCRIPTION and "\u202e" not in parsed.description
    assert len(parsed.steps) == 60 and parsed.steps[0] == "step[31m 1"
