"""Omnidesk's own grammar-constrained JSON format, and the append-only layout it uses.

No model was trained on it: it is the mode where the output is constrained to the JSON action schema
(:mod:`omnidesk.agent.json_actions`), for models whose own format Omnidesk does not speak. Its layout is
built for state reuse on a local model::

    system: the system prompt (identical for every step of a run)
    user:   "Task: …" + the text history of earlier steps   ← append-only: step N extends step N-1
            CachePoint
            the last ``screenshots`` overviews (labelled with their step), this step's EVS crops,
            and the question (with notes such as "your last action did not change the screen")
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING

from omnidesk.agent.describe import describe_actions
from omnidesk.agent.formats.base import FinishedStep, FormatSettings, ImageSizing
from omnidesk.agent.json_actions import action_json_schema
from omnidesk.agent.parsing import ModelConvention, OutputParser, Parsed, parser_for
from omnidesk.agent.ports import CachePoint, ChatMessage, ImagePart, ModelImage, ModelRequest, Part, TextPart

if TYPE_CHECKING:
    from collections.abc import Sequence

    from omnidesk.agent.ports import ModelReply, Observation

__all__ = ["HistoryEntry", "JsonFormat", "OmnideskLayout", "load_prompt"]

_CONVENTION_HELP = {
    "fraction": "fractions between 0 and 1 of the screenshot's width and height",
    "thousandths": "integers from 0 to 1000 (thousandths of the screenshot's width and height)",
    "image_pixels": "pixels of the screenshot",
}


def load_prompt(name: str, *, convention: str = "fraction") -> str:
    """A system prompt shipped in ``assets/prompts/<name>.md`` (Omnidesk's own prompts)."""
    text = files("omnidesk.assets").joinpath(f"prompts/{name}.md").read_text(encoding="utf-8")
    return text.replace("{convention_help}", _CONVENTION_HELP.get(convention, convention)).strip()


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One finished step as text (never changed once appended)."""

    index: int
    thought: str
    action: str
    result: str

    def render(self) -> str:
        return (
            f"# Step {self.index + 1}:\n## Thought:\n{self.thought or '-'}\n## Action:\n{self.action or '-'}\n"
            f"## Result:\n{self.result or '-'}\n"
        )


class OmnideskLayout:
    """Omnidesk's append-only layout (module doc), for a parser and a system prompt of its own."""

    def __init__(
        self,
        system_prompt: str,
        task: str,
        settings: FormatSettings,
        parser: OutputParser,
        *,
        json_schema: dict[str, object] | None = None,
    ) -> None:
        self._system = ChatMessage.text("system", system_prompt)
        self._prefix = f"Task: {task.strip()}\n\n"
        self._history_text = ""
        self._recent: deque[tuple[int, ModelImage]] = deque(maxlen=settings.screenshots)
        self._settings = settings
        self._parser = parser
        self._json_schema = json_schema
        self._index = 0

    @property
    def stable_text(self) -> str:
        """The text before the CachePoint: only ever grows during a run."""
        return self._prefix + "Previous steps:\n" + self._history_text

    def request(self, observation: Observation, notes: Sequence[str] = ()) -> ModelRequest:
        index = self._index
        overview = next((img for img in observation.images if img.kind == "overview"), None)
        if overview is not None:
            self._recent.append((index, overview))
        parts: list[Part] = [TextPart(self.stable_text), CachePoint()]
        for step, image in self._recent:
            when = "now" if step == index else f"before step {step + 1}"
            parts += [TextPart(f"Screenshot {when}:"), ImagePart(image)]
        for image in observation.images:
            if image.kind != "overview":
                parts += [TextPart(f"Detail ({image.label or image.kind}), not for coordinates:"), ImagePart(image)]
        question = f"Step {index + 1}: give the next action for the task."
        if notes:
            question += "\n" + "\n".join(f"Note: {note}" for note in notes)
        parts.append(TextPart(question))
        s = self._settings
        return ModelRequest(
            messages=(self._system, ChatMessage("user", tuple(parts))),
            max_tokens=s.max_tokens,
            temperature=s.temperature,
            top_p=s.top_p,
            top_k=s.top_k,
            enable_thinking=s.thinking,
            reasoning_budget=s.thinking_limit,
            # a copy per request: a runtime's schema converter may rewrite ``$ref`` s in place
            json_schema=copy.deepcopy(self._json_schema),
        )

    def parse(self, reply: ModelReply) -> Parsed:
        return self._parser.parse(reply.text, reasoning=reply.reasoning, tool_calls=reply.tool_calls)

    def record(self, step: FinishedStep) -> None:
        """Every step enters the text history, unusable outputs and results included."""
        parsed = step.parsed
        thought = parsed.thought if parsed else ""
        action = (parsed.summary or describe_actions(parsed.actions)) if parsed else "(no valid action)"
        entry = HistoryEntry(step.index, thought, action, step.result or step.status)
        self._history_text += entry.render() + "\n"
        self._index = step.index + 1


class JsonFormat:
    """One JSON action object per step (numbers in the model's ``convention``), grammar-constrained."""

    name = "json"
    image_sizing = ImageSizing.native()
    detail_crops = True

    def __init__(self, convention: ModelConvention = "fraction") -> None:
        self.convention: ModelConvention = convention
        self.parser: OutputParser = parser_for("json", convention)

    def defaults(self, *, slow_decoding: bool) -> FormatSettings:
        return FormatSettings(thinking=False, max_tokens=1024)

    def conversation(self, task: str, settings: FormatSettings) -> OmnideskLayout:
        prompt = load_prompt("json_actions", convention=self.convention)
        return OmnideskLayout(prompt, task, settings, self.parser, json_schema=action_json_schema())
