"""Hostile model output is a ModelOutputError in every parser — never OverflowError, ValueError or
RecursionError escaping, never anything evaluated (issue 14, finding 10)."""

from __future__ import annotations

import pytest

from omnidesk.agent.actions import Done, TypeText
from omnidesk.agent.errors import ModelOutputError
from omnidesk.agent.parsing import parser_for

BIG = "9" * 5000
"""More digits than ``int()`` converts (4300) — ``ast`` and ``json`` refuse it with a ValueError."""
LONG = "9" * 400
"""A literal ``int`` accepts, but ``float()`` overflows on."""

NEMOTRON = [
    "## Code:\npyautogui.click(10**400, 1)",
    f"## Code:\npyautogui.click({LONG}, 1)",
    f"## Code:\npyautogui.click({BIG}, 1)",
    f"## Code:\npyautogui.scroll({LONG})",
    f"## Code:\ncomputer.wait(seconds={LONG})",
    f"## Code:\npyautogui.click(x=[{LONG}, 1])",
    "## Code:\npyautogui.scroll(" + "-" * 5000 + "1)",
    "## Code:\npyautogui.click(" + "[" * 3000 + "]" * 3000 + ")",
    "## Code:\n__import__('os').system('id')",
    "## Code:\npyautogui.click(__import__('os'), 1)",
    "## Code:\npyautogui.click(pyautogui.position())",
    "## Code:\npyautogui.click(int('5'), 1)",
    "## Code:\npyautogui.click(0.5, 0.5).__class__",
    "## Code:\npyautogui.__dict__['click'](0.5, 0.5)",
    "## Code:\npyautogui.os.system('id')",
    "## Code:\nos.system('id')",
    "## Code:\n(lambda: 1)()",
    "## Code:\npyautogui.write(''.join(['a']))",
    "## Code:\npyautogui.write(f'{1}')",
    "## Code:\npyautogui.click(*(0.5, 0.5))",
    "## Code:\npyautogui.click(**{'x': 0.5, 'y': 0.5})",
    "## Code:\n" + "pyautogui.press('a')\n" * 400,
    "## Code:\n" + "x" * 300_000,
]

QWEN_CALL = '<tool_call>\n{"name": "computer_use", "arguments": %s}\n</tool_call>'
QWEN = [
    QWEN_CALL % f'{{"action": "left_click", "coordinate": [{BIG}, 1]}}',
    QWEN_CALL % f'{{"action": "wait", "time": {BIG}}}',
    QWEN_CALL % f'{{"action": "scroll", "pixels": {BIG}}}',
    QWEN_CALL % '{"action": "scroll", "pixels": 1e400}',
    QWEN_CALL % '{"action": "left_click", "coordinate": [NaN, 1]}',
    QWEN_CALL % '{"action": "left_click", "coordinate": [Infinity, 1]}',
    "<tool_call>" + "[" * 100_000,
    "<tool_call>" + '{"a":' * 5000,
    QWEN_CALL % '{"action": "__import__(\'os\')"}',
    QWEN_CALL % '"' + "x" * 300_000 + '"',
]

UITARS = [
    f"Action: click(start_box='({LONG},1)')",
    f"Action: click(start_box='({BIG},1)')",
    f"Action: scroll(start_box='(1,2)', direction={BIG})",
    "Action: click(start_box=10**400)",
    "Action: type(content=" + "(" * 3000 + ")",
    "Action: click(start_box=__import__('os'))",
    "Action: click(start_box=open('/etc/passwd').read())",
    "Action: type(content='a'.join('bc'))",
    "Action: os.system('id')",
    "Action: click(start_box='(1,2)').__class__",
    "Thought: x\nAction: " + "wait()\n\n" * 400,
    "Action: type(content='" + "x" * 300_000 + "')",
]

JSON = [
    f'{{"thought": "", "kind": "click", "x": {BIG}, "y": 1, "button": "left", "count": 1}}',
    f'{{"thought": "", "kind": "click", "x": {LONG}, "y": 1, "button": "left", "count": 1}}',
    '{"thought": "", "kind": "wait", "seconds": 1e400}',
    "[" * 100_000,
]


@pytest.mark.parametrize(
    ("name", "text"),
    [("nemotron", t) for t in NEMOTRON]
    + [("qwen", t) for t in QWEN]
    + [("qwen2.5", t) for t in QWEN]
    + [("qwen3", t) for t in QWEN]
    + [("uitars", t) for t in UITARS]
    + [("json", t) for t in JSON],
)
def test_hostile_output_is_a_model_error(name: str, text: str) -> None:
    with pytest.raises(ModelOutputError) as info:
        parser_for(name).parse(text)
    assert str(info.value)
    assert len(str(info.value)) < 400  # the message names the problem; it does not echo the output


@pytest.mark.parametrize(
    ("text", "typed"),
    [
        # What looks like code inside typed text is text to type, never an expression that is evaluated.
        ('Action: type(content=\'__import__("os").system("id")\')', '__import__("os").system("id")'),
    ],
)
def test_uitars_code_in_typed_text_stays_text(text: str, typed: str) -> None:
    assert parser_for("uitars").parse(text).actions == (TypeText(text=typed),)


def test_a_number_as_an_answer_is_its_digits() -> None:
    parsed = parser_for("nemotron").parse(f"## Code:\ncomputer.terminate(status='success', answer={LONG})")
    assert parsed.actions == (Done(answer=LONG),)
