"""NVIDIA Nemotron 3 Nano Omni's computer-use format, as NVIDIA's cookbook sends it.

Source: ``usage-cookbook/Nemotron-3-Nano-Omni/computer-use-agent-with-omni/server/agent.py`` in
NVIDIA-NeMo/Nemotron at commit c887c942a5c81f6bdc281ad36613588ed48ccba8 ("matches the Nemotron CUA
training specification"); the system prompts are stored verbatim in ``assets/prompts/nemotron_cua.toml``.

A request is::

    system:    the thinking or non-thinking system prompt ({password} → a {{secret:NAME}} placeholder)
    user:      [screenshot of step k (PNG)] "# Task Instruction:\\n…" [+ "# Previous History Actions:…"]
               "You are currently on Step k."
    assistant: "<think>\\n{thought}\\n</think>\\n## Action:\\n{action}\\n"   (non-thinking: "## Thought:\\n…")
    …          the last ``screenshots - 1`` finished steps like this, then
    user:      [current screenshot] "# Task Instruction:\\n…You are currently on Step N."

Older steps than the image window are text only, as ``# Previous History Actions:`` inside the oldest
user turn that still has an image. ``## Code`` never appears in the history. Omnidesk's notes go inside
the instruction text (``docs/models.md`` lists them). Sampling as the cookbook: temperature 0.6, top_p
0.95, max_tokens 20480; thinking with a budget of 16384 tokens + 1024 grace, template kwargs
``reasoning_budget`` and ``truncate_history_thinking=False``. The answer is parsed from the content; in
thinking mode, when that fails and the reasoning holds a line starting ``## Action``, from there.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING

from omnidesk.agent.describe import describe_actions
from omnidesk.agent.errors import ModelOutputError
from omnidesk.agent.formats.base import FinishedStep, FormatSettings, ImageSizing, overview_of
from omnidesk.agent.parsing import OutputParser, Parsed, parser_for
from omnidesk.agent.ports import CachePoint, ChatMessage, ImagePart, ModelRequest, Part, TextPart

if TYPE_CHECKING:
    from collections.abc import Sequence

    from omnidesk.agent.ports import ModelImage, ModelReply, Observation

__all__ = [
    "ASSISTANT_HISTORY_NON_THINKING",
    "ASSISTANT_HISTORY_THINKING",
    "INSTRUCTION_TEMPLATE",
    "NemotronConversation",
    "NemotronFormat",
    "system_prompts",
]

INSTRUCTION_TEMPLATE = (
    "# Task Instruction:\n{instruction}\n\n"
    "Please generate the next move according to the screenshot, task instruction and previous steps (if provided).\n"
)
STEP_TEMPLATE = "# Step {step_num}:\n"
TEXT_HISTORY_TEMPLATE = "## Thought:\n{thought}\n\n## Action:\n{action}\n"
ASSISTANT_HISTORY_THINKING = "<think>\n{thought}\n</think>\n## Action:\n{action}\n"
ASSISTANT_HISTORY_NON_THINKING = "## Thought:\n{thought}\n\n## Action:\n{action}\n"
CURRENT_STEP = "You are currently on Step {step_num}.\n"

TEMPERATURE = 0.6
TOP_P = 0.95
MAX_TOKENS = 20480
REASONING_BUDGET = 16384
REASONING_GRACE = 1024
SCREENSHOTS = 3  # the cookbook's max_image_history_length: the current screenshot included

# Where decoding is slow (in-process on CPU): the trained non-thinking variant; should thinking be turned
# on there anyway, a small budget keeps a step within minutes.
SLOW_MAX_TOKENS = 1024
SLOW_REASONING_BUDGET = 1024  # the budgeted choice doctor estimates seconds per step for


@cache
def system_prompts() -> tuple[str, str]:
    """The cookbook's (thinking, non-thinking) system prompts, ``{password}`` slot still in place."""
    text = files("omnidesk.assets").joinpath("prompts/nemotron_cua.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return str(data["thinking"]), str(data["non_thinking"])


def secret_placeholder(name: str) -> str:
    """The placeholder the password slot holds; the secret itself is filled only when typed."""
    return "{{secret:" + name + "}}"


def instruction_text(task: str, notes: Sequence[str]) -> str:
    """The task, with Omnidesk's notes for this step after it (the only place they may go)."""
    text = task.strip()
    if notes:
        text += "\n\n" + "\n".join(f"Note: {note}" for note in notes)
    return text


@dataclass(frozen=True, slots=True)
class _Entry:
    """One finished step as the history keeps it: its screenshot, instruction text, thought, action."""

    screenshot: ModelImage
    instruction: str
    thought: str
    action: str


class NemotronConversation:
    """One run in the cookbook's layout (see the module doc)."""

    def __init__(self, task: str, settings: FormatSettings, parser: OutputParser) -> None:
        thinking_prompt, plain_prompt = system_prompts()
        prompt = thinking_prompt if settings.thinking else plain_prompt
        password = secret_placeholder(settings.password_secret)
        self._system = ChatMessage.text("system", prompt.replace("{password}", password))
        self._task = task
        self._settings = settings
        self._parser = parser
        self._history: list[_Entry] = []
        self._pending: tuple[ModelImage, str] | None = None

    @property
    def system_prompt(self) -> str:
        part = self._system.parts[0]
        assert isinstance(part, TextPart)
        return part.text

    def request(self, observation: Observation, notes: Sequence[str] = ()) -> ModelRequest:
        screenshot = overview_of(observation)
        instruction = instruction_text(self._task, notes)
        self._pending = (screenshot, instruction)
        history = self._history
        with_images = min(len(history), max(1, self._settings.screenshots) - 1)
        window = len(history) - with_images
        text_history = ""
        if window > 0:
            text_history = "# Previous History Actions:\n" + "\n".join(
                STEP_TEMPLATE.format(step_num=i + 1) + TEXT_HISTORY_TEMPLATE.format(thought=e.thought, action=e.action)
                for i, e in enumerate(history[:window])
            )
        assistant = ASSISTANT_HISTORY_THINKING if self._settings.thinking else ASSISTANT_HISTORY_NON_THINKING
        messages = [self._system]
        for i in range(window, len(history)):
            entry = history[i]
            text = INSTRUCTION_TEMPLATE.format(instruction=entry.instruction)
            if i == window and text_history:
                text += text_history + "\n"
            text += CURRENT_STEP.format(step_num=i + 1)
            messages.append(ChatMessage("user", (ImagePart(entry.screenshot), TextPart(text))))
            messages.append(ChatMessage.text("assistant", assistant.format(thought=entry.thought, action=entry.action)))
        text = INSTRUCTION_TEMPLATE.format(instruction=instruction)
        if with_images == 0 and text_history:
            text += text_history + "\n"
        text += CURRENT_STEP.format(step_num=len(history) + 1)
        # The cache point opens the current turn: everything before it is what the last step sent, until the
        # image window starts to slide (a local runtime reuses its state up to there).
        current: tuple[Part, ...] = (CachePoint(), ImagePart(screenshot), TextPart(text))
        messages.append(ChatMessage("user", current))
        return self._model_request(tuple(messages))

    def _model_request(self, messages: tuple[ChatMessage, ...]) -> ModelRequest:
        s = self._settings
        kwargs: dict[str, bool | int | float | str] = {}
        if s.thinking and s.reasoning_budget is not None:
            kwargs["reasoning_budget"] = s.reasoning_budget
        kwargs["truncate_history_thinking"] = False
        return ModelRequest(
            messages,
            max_tokens=s.max_tokens,
            temperature=s.temperature,
            top_p=s.top_p,
            top_k=s.top_k,
            enable_thinking=s.thinking,
            reasoning_budget=s.thinking_limit,
            template_kwargs=kwargs,
        )

    def parse(self, reply: ModelReply) -> Parsed:
        """The content first; in thinking mode, when that fails, the reasoning from a line starting
        ``## Action`` (the parser reads it as NVIDIA's does). The thought kept for the history is the
        cookbook's: the whole reasoning, the reasoning before that heading, or the ``## Thought`` section."""
        tool_calls = reply.tool_calls
        try:
            parsed = self._parser.parse(reply.text, tool_calls=tool_calls)
        except ModelOutputError:
            if not self._settings.thinking:
                raise
            return self._parser.parse(reply.text, reasoning=reply.reasoning, tool_calls=tool_calls)
        if self._settings.thinking and reply.reasoning.strip():
            return Parsed(parsed.actions, thought=reply.reasoning.strip(), summary=parsed.summary)
        return parsed

    def record(self, step: FinishedStep) -> None:
        """A step with a usable action joins the history; an unusable output does not (as in the cookbook,
        where it is never counted) — the next step's note says what was wrong instead."""
        pending, self._pending = self._pending, None
        if pending is None or step.parsed is None:
            return
        screenshot, instruction = pending
        parsed = step.parsed
        action = parsed.summary or describe_actions(parsed.actions)
        self._history.append(_Entry(screenshot, instruction, parsed.thought, action))


class NemotronFormat:
    """Nemotron 3 Nano Omni computer use (see the module doc); whole screenshots at native size."""

    name = "nemotron"
    image_sizing = ImageSizing.native()
    detail_crops = False

    def __init__(self) -> None:
        self.parser: OutputParser = parser_for("nemotron")

    def defaults(self, *, slow_decoding: bool) -> FormatSettings:
        if slow_decoding:
            return FormatSettings(
                thinking=False,
                max_tokens=SLOW_MAX_TOKENS,
                reasoning_budget=SLOW_REASONING_BUDGET,
                temperature=TEMPERATURE,
                top_p=TOP_P,
                screenshots=SCREENSHOTS,
            )
        return FormatSettings(
            thinking=True,
            max_tokens=MAX_TOKENS,
            reasoning_budget=REASONING_BUDGET,
            reasoning_grace=REASONING_GRACE,
            temperature=TEMPERATURE,
            top_p=TOP_P,
            screenshots=SCREENSHOTS,
        )

    def conversation(self, task: str, settings: FormatSettings) -> NemotronConversation:
        return NemotronConversation(task, settings, self.parser)
