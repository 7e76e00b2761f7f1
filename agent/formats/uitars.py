"""UI-TARS-1.5 computer use, as ByteDance's own agents send it.

Sources (``docs/models.md`` lists them): the ``COMPUTER_USE`` prompt of bytedance/UI-TARS ``codes/prompts.py``
at ``6b315cc0c3ae8ff3b5412a25aa3ebac1bae32f58`` (stored verbatim in ``assets/prompts``), README_deploy.md
(history replies get their box tokens back, ``add_box_token``) and the OSWorld UI-TARS agent's loop; the
answer is read by Omnidesk's parser, a superset of the official one (ui-tars 0.1.4 = ``d9dedaf``). A request::

    system:    "You are a helpful assistant."
    user:      COMPUTER_USE with {language} = English and {instruction} = the task
    assistant: step 1's reply                      (steps older than the image window: text only)
    user:      [step k's screenshot]               (the newest ``screenshots - 1`` earlier steps)
    assistant: step k's reply, box tokens put back
    …
    user:      [current screenshot]

Screenshots are smart-resized whole (factor 28, 100·28² … 16384·28² pixels) and the model answers in their
pixels. At most 5 per request, the current one included (the official agents' ``history_n``). Omnidesk's
notes go after the task inside the instruction text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING

from omnidesk.agent.formats.base import FinishedStep, FormatSettings, ImageSizing, overview_of
from omnidesk.agent.parsing import OutputParser, Parsed, parser_for
from omnidesk.agent.ports import CachePoint, ChatMessage, ImagePart, ModelRequest, Part
from omnidesk.agent.smart_resize import QWEN25_FACTOR, UITARS_MAX_PIXELS, UITARS_MIN_PIXELS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from omnidesk.agent.ports import ModelImage, ModelReply, Observation

__all__ = ["UiTarsConversation", "UiTarsFormat", "add_box_tokens", "computer_use_prompt"]

SYSTEM = "You are a helpful assistant."
LANGUAGE = "English"
SCREENSHOTS = 5  # OSWorld's history_n, UI-TARS-desktop's MAX_IMAGE_LENGTH
MAX_TOKENS = 1000
_BOX = re.compile(r"(start_box|end_box)='\((\d+),\s*(\d+)\)'")


@cache
def _template() -> str:
    data = json.loads(files("omnidesk.assets").joinpath("prompts/ui-tars-1.5-computer-use.json").read_text("utf-8"))
    return str(data["template"])


def computer_use_prompt(instruction: str, language: str = LANGUAGE) -> str:
    """The first user message: ``COMPUTER_USE`` with its two placeholders filled."""
    return _template().replace("{language}", language).replace("{instruction}", instruction)


def add_box_tokens(reply: str) -> str:
    """A reply as the history carries it: every ``start_box='(x,y)'`` / ``end_box`` wrapped in
    ``<|box_start|>…<|box_end|>`` — README_deploy's ``add_box_token``, whose output this reproduces (its
    actions stripped and rejoined with a blank line; only the no-space ``(x,y)`` spelling is rewrapped)."""
    if "Action: " not in reply or "start_box=" not in reply:
        return reply
    head, *actions = reply.split("Action: ")
    wrapped = []
    for raw in actions:
        action = raw.strip()
        for kind, x, y in _BOX.findall(action):
            action = action.replace(f"{kind}='({x},{y})'", f"{kind}='<|box_start|>({x},{y})<|box_end|>'")
        wrapped.append(action)
    return head + "Action: " + "\n\n".join(wrapped)


def instruction_text(task: str, notes: Sequence[str]) -> str:
    text = task.strip()
    if notes:
        text += "\n\n" + "\n".join(f"Note: {note}" for note in notes)
    return text


@dataclass(frozen=True, slots=True)
class _Entry:
    screenshot: ModelImage
    reply: str


class UiTarsConversation:
    """One run in the official agents' layout (see the module doc)."""

    def __init__(self, task: str, settings: FormatSettings, parser: OutputParser) -> None:
        self._task = task
        self._settings = settings
        self._parser = parser
        self._history: list[_Entry] = []
        self._pending: ModelImage | None = None

    def request(self, observation: Observation, notes: Sequence[str] = ()) -> ModelRequest:
        screenshot = overview_of(observation)
        self._pending = screenshot
        kept = min(SCREENSHOTS, max(1, self._settings.screenshots)) - 1
        first_image = len(self._history) - min(kept, len(self._history))
        messages = [
            ChatMessage.text("system", SYSTEM),
            ChatMessage.text("user", computer_use_prompt(instruction_text(self._task, notes))),
        ]
        for i, entry in enumerate(self._history):
            if i >= first_image:
                messages.append(ChatMessage("user", (ImagePart(entry.screenshot),)))
            messages.append(ChatMessage.text("assistant", add_box_tokens(entry.reply)))
        current: tuple[Part, ...] = (CachePoint(), ImagePart(screenshot))
        messages.append(ChatMessage("user", current))
        s = self._settings
        return ModelRequest(
            tuple(messages),
            max_tokens=s.max_tokens,
            temperature=s.temperature,
            top_p=s.top_p,
            top_k=s.top_k,
            enable_thinking=s.thinking,
        )

    def parse(self, reply: ModelReply) -> Parsed:
        return self._parser.parse(reply.text)

    def record(self, step: FinishedStep) -> None:
        """A usable step joins the history with its screenshot and its reply as the model wrote it."""
        screenshot, self._pending = self._pending, None
        if screenshot is not None and step.parsed is not None:
            self._history.append(_Entry(screenshot, step.reply_text.strip()))


class UiTarsFormat:
    """UI-TARS-1.5 (``uitars``; see the module doc)."""

    name = "uitars"
    detail_crops = False
    image_sizing = ImageSizing.smart(factor=QWEN25_FACTOR, min_pixels=UITARS_MIN_PIXELS, max_pixels=UITARS_MAX_PIXELS)

    def __init__(self) -> None:
        self.parser: OutputParser = parser_for("uitars", "image_pixels")

    def defaults(self, *, slow_decoding: bool) -> FormatSettings:
        """Greedy, no thinking, as README_deploy and the official agents (temperature 0)."""
        return FormatSettings(thinking=False, max_tokens=MAX_TOKENS, temperature=0.0, screenshots=SCREENSHOTS)

    def conversation(self, task: str, settings: FormatSettings) -> UiTarsConversation:
        return UiTarsConversation(task, settings, self.parser)
