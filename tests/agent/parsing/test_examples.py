"""Known outputs of each model family parse to the expected typed actions; bad ones are ModelOutputError."""

from __future__ import annotations

import pytest

from omnidesk.agent.actions import (
    POINTER,
    Action,
    AskUser,
    Click,
    Done,
    Drag,
    Fail,
    Hotkey,
    Move,
    Point,
    Scroll,
    TypeText,
    Wait,
)
from omnidesk.agent.errors import ModelOutputError
from omnidesk.agent.parsing import parser_for


def F(x: float, y: float) -> Point:
    return Point(x=x, y=y, space="fraction")


def P(x: float, y: float) -> Point:
    return Point(x=x, y=y, space="image_pixels")


def T(x: float, y: float) -> Point:
    return Point(x=x, y=y, space="thousandths")


NEMOTRON_OK: list[tuple[str, Action]] = [
    (
        "I see OK.\n## Action:\nClick OK\n## Code:\n```python\npyautogui.click(x=0.41, y=0.22)\n```",
        Click(point=F(0.41, 0.22)),
    ),
    ("## Action:\nx\n## Code:\npyautogui.click(0.5, 0.5, button='right')", Click(point=F(0.5, 0.5), button="right")),
    ("## Code:\npyautogui.doubleClick(0.1, 0.9)", Click(point=F(0.1, 0.9), count=2)),
    ("## Code:\npyautogui.rightClick(x=300, y=200)", Click(point=P(300, 200), button="right")),
    ("## Code:\npyautogui.click((0.2, 0.3))", Click(point=F(0.2, 0.3))),
    ("## Code:\npyautogui.moveTo(0.2, 0.3, duration=0.5)", Move(point=F(0.2, 0.3))),
    ("## Code:\npyautogui.moveTo(0.1, 0.1)\npyautogui.dragTo(0.5, 0.6)", Drag(start=F(0.1, 0.1), end=F(0.5, 0.6))),
    ("## Code:\npyautogui.scroll(-3)", Scroll(dy=-3)),
    ("## Code:\npyautogui.scroll(5, x=0.5, y=0.5)", Scroll(point=F(0.5, 0.5), dy=5)),
    ("## Code:\npyautogui.write('Grüße <ok> 東京')", TypeText(text="Grüße <ok> 東京")),
    ('## Code:\npyautogui.typewrite(message="hi\\n")', TypeText(text="hi\n")),
    ("## Code:\npyautogui.press('Return')", Hotkey(keys=("enter",))),
    ("## Code:\npyautogui.hotkey('Ctrl', 'Shift', 't')", Hotkey(keys=("ctrl", "shift", "t"))),
    ("## Code:\npyautogui.hotkey(['cmd', 'w'])", Hotkey(keys=("super", "w"))),
    ("## Code:\ncomputer.wait()", Wait(seconds=20.0, until_settled=True)),
    ("## Code:\ncomputer.terminate(status='success', answer='42')", Done(answer="42")),
    ('## Code:\ncomputer.terminate(status="failure", answer="no network")', Fail(reason="no network")),
    ("## Code:\ncomputer.ask_user(question='Which file?')", AskUser(question="Which file?")),
    ("Thought only, then\n```python\npyautogui.click(0.3, 0.4)\n```", Click(point=F(0.3, 0.4))),
]

NEMOTRON_BAD = [
    "",
    "I will click the button.",
    "## Code:\n",
    "## Code:\nimport os",
    "## Code:\nos.system('rm -rf /')",
    "## Code:\n__import__('os').system('x')",
    "## Code:\npyautogui.click(x=eval('0.1'), y=0.2)",
    "## Code:\npyautogui.click(x=0.1+0.2, y=0.2)",
    "## Code:\npyautogui.click(-0.1, 0.2)",
    "## Code:\npyautogui.click(float('nan'), 0.2)",
    "## Code:\npyautogui.click(1e400, 0.2)",
    "## Code:\npyautogui.click(0.1, 0.2, clicks=7)",
    "## Code:\npyautogui.click(0.1, 0.2, button='left', button='right')",
    "## Code:\npyautogui.click(0.1, 0.2, flavour='x')",
    "## Code:\npyautogui.click(*[0.1, 0.2])",
    "## Code:\npyautogui.keyDown('shift')",
    "## Code:\npyautogui.press('hyperdrive')",
    "## Code:\npyautogui.scroll(0)",
    "## Code:\ncomputer.terminate(status='maybe')",
    "## Code:\npyautogui.click(" + "(" * 500 + ")" * 500,
    "## Code:\nx" * 3000,
]


@pytest.mark.parametrize(("text", "expected"), NEMOTRON_OK)
def test_nemotron_outputs(text: str, expected: Action) -> None:
    assert parser_for("nemotron").parse(text).actions == (expected,)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("## Code:\npyautogui.click()", (Click(point=POINTER),)),
        (
            "## Code:\npyautogui.click(0.1, 0.2)\npyautogui.click(0.3, 0.4)",
            (Click(point=F(0.1, 0.2)), Click(point=F(0.3, 0.4))),
        ),
        (
            "## Code:\npyautogui.click(0.1, 0.2); pyautogui.press('enter')",
            (Click(point=F(0.1, 0.2)), Hotkey(keys=("enter",))),
        ),
        ("## Code:\npyautogui.dragTo(0.5, 0.5)", (Drag(start=POINTER, end=F(0.5, 0.5)),)),
        (
            "## Code:\npyautogui.click(0.1, 0.2)\n## Code:\npyautogui.write('a')",
            (Click(point=F(0.1, 0.2)), TypeText(text="a")),
        ),
    ],
)
def test_nemotron_several_actions(text: str, expected: tuple[Action, ...]) -> None:
    assert parser_for("nemotron").parse(text).actions == expected


def test_nemotron_sections() -> None:
    parsed = parser_for("nemotron").parse(NEMOTRON_OK[0][0])
    assert (parsed.thought, parsed.summary) == ("I see OK.", "Click OK")


@pytest.mark.parametrize("text", NEMOTRON_BAD)
def test_nemotron_rejects(text: str) -> None:
    with pytest.raises(ModelOutputError):
        parser_for("nemotron").parse(text)


QWEN = '<tool_call>\n{"name": "computer_use", "arguments": %s}\n</tool_call>'


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"action": "left_click", "coordinate": [412, 220]}', Click(point=T(412, 220))),
        ('{"action": "double_click", "coordinate": [0, 1000]}', Click(point=T(0, 1000), count=2)),
        ('{"action": "key", "keys": ["ctrl", "c"]}', Hotkey(keys=("ctrl", "c"))),
        ('{"action": "type", "text": "a<b"}', TypeText(text="a<b")),
        ('{"action": "scroll", "pixels": -5}', Scroll(dy=-5)),
        ('{"action": "terminate", "status": "success"}', Done()),
        ('{"action": "answer", "text": "7"}', Done(answer="7")),
        ('"{\\"action\\": \\"mouse_move\\", \\"coordinate\\": [1, 2]}"', Move(point=T(1, 2))),
        (
            '{"action": "left_click_drag", "start_coordinate": [1, 2], "coordinate": [3, 4]}',
            Drag(start=T(1, 2), end=T(3, 4)),
        ),
    ],
)
def test_qwen_outputs(arguments: str, expected: Action) -> None:
    assert parser_for("qwen").parse("Thinking.\n" + QWEN % arguments).action == expected


@pytest.mark.parametrize(
    "text",
    [
        QWEN % '{"action": "left_click", "coordinate": [1001, 2]}',
        QWEN % '{"action": "left_click", "coordinate": [1]}',
        QWEN % '{"action": "fly"}',
        "<tool_call>{not json</tool_call>",
        "no call at all",
        "<tool_call>[1, 2]</tool_call>",
    ],
)
def test_qwen_rejects(text: str) -> None:
    with pytest.raises(ModelOutputError):
        parser_for("qwen").parse(text)


def test_qwen_several_calls_and_drags_from_the_pointer() -> None:
    text = QWEN % '{"action": "left_click_drag", "coordinate": [1, 2]}' + QWEN % '{"action": "wait", "time": 2}'
    assert parser_for("qwen").parse(text).actions == (Drag(start=POINTER, end=T(1, 2)), Wait(seconds=2.0))


def test_uitars_reads_the_last_action_line_as_the_official_parser() -> None:
    text = "Action: click(start_box='(1,2)')\nAction: click(start_box='(3,4)')"
    assert parser_for("uitars").parse(text).actions == (Click(point=P(3, 4)),)


def test_qwen_in_pixels_for_qwen25() -> None:
    text = QWEN % '{"action": "left_click", "coordinate": [1500, 700]}'
    assert parser_for("qwen", "image_pixels").parse(text).action == Click(point=P(1500, 700))


@pytest.mark.parametrize(
    ("action_line", "expected"),
    [
        ("click(start_box='(235,512)')", Click(point=P(235, 512))),
        ("click(start_box='<|box_start|>(235,512)<|box_end|>')", Click(point=P(235, 512))),
        ("click(start_box='[100,200,300,400]')", Click(point=P(200, 300))),
        ("left_double(start_box='(1,2)')", Click(point=P(1, 2), count=2)),
        ("right_single(start_box='(1,2)')", Click(point=P(1, 2), button="right")),
        ("drag(start_box='(1,2)', end_box='(3,4)')", Drag(start=P(1, 2), end=P(3, 4))),
        ("hotkey(key='ctrl c')", Hotkey(keys=("ctrl", "c"))),
        ("type(content='hello\\n')", TypeText(text="hello\n")),
        ("scroll(start_box='(5,6)', direction='down')", Scroll(point=P(5, 6), dy=-5)),
        ("wait()", Wait(seconds=5.0)),
        ("finished(content='ok')", Done(answer="ok")),
        ("call_user()", AskUser(question="The agent needs your help to go on.")),
    ],
)
def test_uitars_outputs(action_line: str, expected: Action) -> None:
    assert parser_for("uitars").parse(f"Thought: I look.\nAction: {action_line}").action == expected


@pytest.mark.parametrize(
    "text",
    [
        "Thought: x",
        "Action: click(start_box='(1,2,3)')",
        "Action: click(start_box='(a,b)')",
        "Action: click(start_box='(-1,2)')",
        "Action: launch(app='rm')",
        "Action: click(start_box=__import__('os'))",
        "Action: scroll(start_box='(1,2)', direction='sideways')",
        "Action: click(start_box='(1,2)') ; wait()",
    ],
)
def test_uitars_rejects(text: str) -> None:
    with pytest.raises(ModelOutputError):
        parser_for("uitars").parse(text)


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown output format"):
        parser_for("llava")
