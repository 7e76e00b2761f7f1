"""Qwen2.5-VL and Qwen3-VL computer use, as QwenLM's cookbooks send it.

Sources (``docs/models.md`` has the full list): the ``computer_use`` tool of ``cookbooks/utils/
agent_function_call.py`` — Qwen2.5-VL at QwenLM/Qwen3-VL ``465b320d4bc365782513d500940ec76e8e06bfb9``,
Qwen3-VL at ``96588727e44c78b25ba03ea03b8e12f7e64fd0da`` — wrapped by qwen-agent's ``NousFnCallPrompt``
(QwenLM/Qwen-Agent ``31a4d36d123688581a9e9744427272b33ce940e0``), stored verbatim in ``assets/prompts``; the
request of ``cookbooks/computer_use.ipynb`` (API path); the task-progress history of
``cookbooks/mobile_agent.ipynb``. A request is::

    system: "You are a helpful assistant.\\n\\n# Tools\\n\\n…<tools>\\n{computer_use}\\n</tools>…</tool_call>"
    user:   [screenshot, smart-resized] "task"                                         (first step)
    user:   [screenshot] "The user query: task\\nTask progress (You have done the following operation
            on the current device): Step 1: {tool call}; Step 2: {tool call}; "        (later steps)

One screenshot per request, as the cookbooks send: the current one. 2.5's tool text states the screenshot's
smart-resized size (factor 28) and the model answers in its pixels; 3's states ``1000x1000`` and it answers
in thousandths (factor 32). The system text is one string (engines join several text parts differently).
Omnidesk's notes go after the task inside the query text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Literal

from omnidesk.agent.formats.base import FinishedStep, FormatSettings, ImageSizing, overview_of
from omnidesk.agent.parsing import OutputParser, Parsed, parser_for
from omnidesk.agent.ports import CachePoint, ChatMessage, ImagePart, ModelRequest, TextPart
from omnidesk.agent.smart_resize import COOKBOOK_MAX_PIXELS, COOKBOOK_MIN_PIXELS, QWEN3_FACTOR, QWEN25_FACTOR

if TYPE_CHECKING:
    from collections.abc import Sequence

    from omnidesk.agent.ports import ModelReply, Observation

__all__ = ["QwenConversation", "QwenFormat", "computer_use_function", "system_text", "user_text"]

QwenVersion = Literal["2.5", "3"]
_ASSET = {"2.5": "qwen2.5-vl-computer-use.json", "3": "qwen3-vl-computer-use.json"}
TASK_PROGRESS = "Task progress (You have done the following operation on the current device): "
MAX_TOKENS = 2048  # the mobile cookbook's max_new_tokens; a tool call needs far less
_TOOL_CALL = re.compile(r"<tool_call>\s*(\{.*?\})\s*</tool_call>", re.DOTALL)


@cache
def _asset(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(files("omnidesk.assets").joinpath(f"prompts/{name}").read_text("utf-8"))
    return data


def computer_use_function(version: QwenVersion, width: int, height: int) -> dict[str, Any]:
    """The cookbook's ``computer_use`` function (name, description, parameters) stating ``width``x``height``."""
    function: dict[str, Any] = json.loads(json.dumps(_asset(_ASSET[version])["function"]))
    function["description"] = (
        function["description"].replace("{display_width_px}", str(width)).replace("{display_height_px}", str(height))
    )
    return function


def system_text(version: QwenVersion, width: int, height: int) -> str:
    """The system text ``NousFnCallPrompt`` builds: the cookbook's system, a blank line, the tools block."""
    function = computer_use_function(version, width, height)
    tool = json.dumps({"type": "function", "function": function}, ensure_ascii=False)
    template = str(_asset("nous-fncall.json")["template"])
    return str(_asset(_ASSET[version])["system"]) + "\n\n" + template.replace("{tool_descs}", tool)


def user_text(task: str, calls: Sequence[str], notes: Sequence[str] = ()) -> str:
    """The user turn's text: the task (with Omnidesk's notes), then the mobile cookbook's task progress."""
    query = task.strip()
    if notes:
        query += "\n\n" + "\n".join(f"Note: {note}" for note in notes)
    if not calls:
        return query
    steps = "".join(f"Step {i}: {call}; " for i, call in enumerate(calls, 1))
    return f"The user query: {query}\n{TASK_PROGRESS}{steps}"


def _call_json(text: str, tool_calls: Sequence[Any]) -> str | None:
    """The model's first tool call as ``{"name": …, "arguments": {…}}`` JSON (as the cookbook's history
    writes it), from ``<tool_call>`` text or an engine's ``tool_calls``."""
    try:
        if tool_calls:
            call = {"name": tool_calls[0].name, "arguments": json.loads(tool_calls[0].arguments)}
        else:
            match = _TOOL_CALL.search(text)
            if match is None:
                return None
            call = json.loads(match.group(1))
    except (ValueError, RecursionError):
        return None
    return json.dumps(call, ensure_ascii=False)


class QwenConversation:
    """One run in the cookbook's layout (see the module doc)."""

    def __init__(self, version: QwenVersion, task: str, settings: FormatSettings, parser: OutputParser) -> None:
        self._version = version
        self._task = task
        self._settings = settings
        self._parser = parser
        self._calls: list[str] = []
        self._last_call: str | None = None

    def request(self, observation: Observation, notes: Sequence[str] = ()) -> ModelRequest:
        screenshot = overview_of(observation)
        if self._version == "2.5":  # the image is already at its smart_resize size: its pixels are the model's
            stated = (screenshot.transform.image_width, screenshot.transform.image_height)
        else:
            stated = (1000, 1000)
        system = ChatMessage.text("system", system_text(self._version, *stated))
        text = user_text(self._task, self._calls, notes)
        user = ChatMessage("user", (CachePoint(), ImagePart(screenshot), TextPart(text)))
        s = self._settings
        return ModelRequest(
            (system, user),
            max_tokens=s.max_tokens,
            temperature=s.temperature,
            top_p=s.top_p,
            top_k=s.top_k,
            enable_thinking=s.thinking,
        )

    def parse(self, reply: ModelReply) -> Parsed:
        """The call in ``<tool_call>`` text, or the one an engine's tool parser split off (``tool_calls``):
        that is put back as the text the model wrote, so both are read by the same parser."""
        tool_calls = tuple(getattr(reply, "tool_calls", ()))
        text = reply.text
        for call in tool_calls:
            text += f'\n<tool_call>\n{{"name": {json.dumps(call.name)}, "arguments": {call.arguments}}}\n</tool_call>'
        parsed = self._parser.parse(text)
        self._last_call = _call_json(reply.text, tool_calls)
        return parsed

    def record(self, step: FinishedStep) -> None:
        """A step with a usable action joins the task progress as the model's own call; an unusable output
        does not (the next step's note says what was wrong)."""
        call, self._last_call = self._last_call, None
        if step.parsed is not None and call is not None:
            self._calls.append(call)


@dataclass(frozen=True, slots=True)
class _Version:
    name: str
    convention: Literal["image_pixels", "thousandths"]
    factor: int


_VERSIONS: dict[QwenVersion, _Version] = {
    "2.5": _Version("qwen25", "image_pixels", QWEN25_FACTOR),
    "3": _Version("qwen3", "thousandths", QWEN3_FACTOR),
}


class QwenFormat:
    """Qwen2.5-VL (``qwen25``) or Qwen3-VL (``qwen3``) computer use (see the module doc)."""

    detail_crops = False

    def __init__(
        self, version: QwenVersion, *, min_pixels: int = COOKBOOK_MIN_PIXELS, max_pixels: int = COOKBOOK_MAX_PIXELS
    ) -> None:
        spec = _VERSIONS[version]
        self.version = version
        self.name = spec.name
        self.image_sizing = ImageSizing.smart(factor=spec.factor, min_pixels=min_pixels, max_pixels=max_pixels)
        self.parser: OutputParser = parser_for("qwen", spec.convention)

    def defaults(self, *, slow_decoding: bool) -> FormatSettings:
        """Instruct models without thinking; greedy as the model cards' near-greedy generation configs."""
        return FormatSettings(thinking=False, max_tokens=MAX_TOKENS, screenshots=1)

    def conversation(self, task: str, settings: FormatSettings) -> QwenConversation:
        return QwenConversation(self.version, task, settings, self.parser)
