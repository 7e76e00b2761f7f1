"""A strict scripted UI-TARS-1.5 model (checks written from bytedance/UI-TARS and its official agents).

The layout it accepts (README_deploy.md and OSWorld's UI-TARS agent, the loop every UI-TARS client shares;
prompt from ``codes/prompts.py`` at ``6b315cc``; parser ui-tars 0.1.4 = ``d9dedaf``):

- an optional system message that is exactly "You are a helpful assistant." (OSWorld sends it, the desktop
  app does not; Qwen2.5-VL's template inserts the same text when it is absent);
- the first user message: the ``COMPUTER_USE`` prompt with ``{language}`` (English or Chinese) and the task
  as ``{instruction}`` (Omnidesk may add ``\\n\\nNote: …`` lines after the task) — text only;
- then every earlier step: a user message holding only that step's screenshot (for the most recent steps
  only: at most 5 screenshots per request, the current one included, always the newest ones) followed by
  an assistant message with that step's reply as text, box tokens put back as ``add_box_token`` does
  (README_deploy); older steps keep only their assistant text;
- last, a user message holding only the current screenshot;
- every screenshot at its smart_resize size (factor 28, 100·28² … 16384·28² pixels — the authors' own
  function) and, when the server knows the screen, the whole screen at that size.

Answers are the model's: ``Thought: …\\nAction: click(start_box='(x,y)')`` in pixels of the smart-resized
image, ``type(content='…')`` (escaped as the prompt asks) and ``finished(content='…')``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from tests.models.published import UITARS_HISTORY_IMAGES, uitars_computer_use
from tests.models.scripted_server import (
    RGB,
    Answer,
    ClickOn,
    Finish,
    PlanStep,
    Refusal,
    TypeText,
    color_center,
    decode_image_part,
    text_of,
)
from tests.oracles import ui_tars_smart_resize

__all__ = ["UiTarsModel"]

_SMART_RESIZE = ui_tars_smart_resize()  # ByteDance's own function, not Omnidesk's
_SYSTEM = "You are a helpful assistant."
_LANGUAGES = ("English", "Chinese")
_BOX_TOKENS = re.compile(r"<\|box_(?:start|end)\|>")


def _escape(text: str) -> str:
    """``type``/``finished`` content as the prompt asks: ``\\'``, ``\\"`` and ``\\n`` escaped."""
    return text.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"').replace("\n", "\\n")


class UiTarsModel:
    """``answer(body)`` for :func:`tests.models.scripted_server.scripted_server`.

    ``history_images`` demands exactly that many screenshots per request once enough steps have run (the
    profile's setting); by default any number up to 5 is accepted, as long as they are the newest ones.
    """

    def __init__(
        self,
        task: str,
        plan: Sequence[PlanStep],
        *,
        screen: tuple[int, int] | None = None,
        history_images: int | None = None,
    ) -> None:
        self.task = task
        self.plan = list(plan)
        self.screen = screen
        self.history_images = history_images

    def _image(self, message: dict[str, Any]) -> RGB:
        content = message.get("content")
        if message.get("role") != "user" or not isinstance(content, list) or len(content) != 1:
            raise Refusal("each screenshot is a user message holding only that image")
        pixels = decode_image_part(content[0])
        height, width = pixels.shape[:2]
        smart_h, smart_w = _SMART_RESIZE(height, width)
        if (smart_w, smart_h) != (width, height):
            raise Refusal(
                f"the {width}x{height} screenshot is not at its smart_resize size {smart_w}x{smart_h} "
                "(factor 28, 100·28²..16384·28² pixels)"
            )
        if self.screen is not None:
            sh, sw = _SMART_RESIZE(self.screen[1], self.screen[0])
            if (sw, sh) != (width, height):
                screen = f"{self.screen[0]}x{self.screen[1]}"
                raise Refusal(f"expected the whole {screen} screen as {sw}x{sh}, got {width}x{height}")
        return pixels

    @staticmethod
    def _reply(message: dict[str, Any], number: int) -> None:
        from ui_tars.action_parser import add_box_token, parse_action_to_structure_output

        text = text_of(message.get("content"))
        if text is None:
            raise Refusal(f"step {number}'s reply must come back as assistant text")
        plain = _BOX_TOKENS.sub("", text)
        if add_box_token(plain) != text:
            raise Refusal(f"step {number}'s reply must carry its box tokens back as add_box_token writes them")
        try:
            parse_action_to_structure_output(plain, 1000, 1092, 1932)
        except (ValueError, AssertionError, SyntaxError) as exc:
            raise Refusal(f"step {number}'s reply is not a UI-TARS reply the official parser reads: {exc}") from exc

    def _prompt(self, message: dict[str, Any]) -> None:
        text = text_of(message.get("content")) if message.get("role") == "user" else None
        if text is None:
            raise Refusal("the first user message is the COMPUTER_USE prompt with the instruction, as text")
        before, after = uitars_computer_use().split("{instruction}")
        for language in _LANGUAGES:
            head = before.replace("{language}", language)
            if text.startswith(head) and text.endswith(after):
                instruction = text[len(head) : len(text) - len(after)]
                # the task, alone or with Omnidesk's notes after it (its documented addition)
                if instruction == self.task or instruction.startswith(self.task + "\n\nNote: "):
                    return
                raise Refusal(f"the COMPUTER_USE prompt must hold the instruction {self.task!r}, got {instruction!r}")
        raise Refusal("the first user message must be UI-TARS's COMPUTER_USE prompt, verbatim")

    def check(self, body: dict[str, Any]) -> tuple[int, RGB]:
        """Check a request; the number of earlier steps and the current screenshot.

        Raises:
            Refusal: anything off the published layout.
        """
        messages = body.get("messages")
        if not isinstance(messages, list) or len(messages) < 2 or not all(isinstance(m, dict) for m in messages):
            raise Refusal("a UI-TARS request is [system?, user(prompt), …history…, user(screenshot)]")
        if messages[0].get("role") == "system":
            if text_of(messages[0].get("content")) != _SYSTEM:
                raise Refusal(f"UI-TARS has no system prompt of its own: send none or {_SYSTEM!r}")
            messages = messages[1:]
        if len(messages) < 2:
            raise Refusal("the request needs the prompt and the current screenshot")
        self._prompt(messages[0])
        history, current = messages[1:-1], messages[-1]
        steps = 0
        images = 0
        index = 0
        while index < len(history):
            message = history[index]
            if message.get("role") == "assistant":
                if images:
                    raise Refusal("only the oldest steps may lose their screenshot: keep the newest ones")
                steps += 1
                self._reply(message, steps)
                index += 1
                continue
            self._image(message)
            images += 1
            if index + 1 >= len(history) or history[index + 1].get("role") != "assistant":
                raise Refusal("each earlier screenshot is followed by that step's reply (an assistant message)")
            steps += 1
            self._reply(history[index + 1], steps)
            index += 2
        pixels = self._image(current)
        images += 1
        if images > UITARS_HISTORY_IMAGES:
            raise Refusal(f"{images} screenshots: UI-TARS takes at most {UITARS_HISTORY_IMAGES} per request")
        if self.history_images is not None and images != min(self.history_images, steps + 1):
            raise Refusal(f"{images} screenshots, expected the newest {min(self.history_images, steps + 1)}")
        return steps, pixels

    def __call__(self, body: dict[str, Any]) -> Answer:
        done, pixels = self.check(body)
        step = self.plan[min(done, len(self.plan) - 1)]
        if isinstance(step, ClickOn):
            point = color_center(pixels, step.color)
            if point is None:
                return Answer(f"Thought: I cannot see {step.what}.\nAction: finished(content='not found')")
            # this image is already at its smart_resize size: its pixels are the model's space
            x, y = round(point[0]), round(point[1])
            return Answer(f"Thought: I click {step.what}.\nAction: click(start_box='({x},{y})')")
        if isinstance(step, TypeText):
            return Answer(f"Thought: I type the text.\nAction: type(content='{_escape(step.text)}')")
        assert isinstance(step, Finish)
        return Answer(f"Thought: The task is done.\nAction: finished(content='{_escape(step.answer)}')")
