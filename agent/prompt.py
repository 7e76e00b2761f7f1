"""Builds each step's request in the append-only layout documented in :mod:`omnidesk.agent.ports`.

::

    system: the system prompt (identical for every step of a run)
    user:   "Task: …" + the text history of earlier steps   ← append-only: step N extends step N-1
            CachePoint
            the last ``screenshots`` overviews (labelled with their step), this step's crops,
            and the question (with notes such as "your last action did not change the screen")

The history is Nemotron's (``# Step i:`` / ``## Thought:`` / ``## Action:``) plus a ``## Result:`` line.
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass
from importlib.resources import files

from omnidesk.agent.ports import (
    CachePoint,
    ChatMessage,
    ImagePart,
    ModelImage,
    ModelRequest,
    Observation,
    Part,
    TextPart,
)

__all__ = ["PROMPT_FOR_FORMAT", "HistoryEntry", "PromptBuilder", "load_prompt"]

PROMPT_FOR_FORMAT = {
    "nemotron": "nemotron_cua",
    "qwen": "qwen_computer_use",
    "uitars": "uitars",
    "json": "json_actions",
}
"""The system prompt (``assets/prompts/NAME.md``) that teaches each output format."""

_CONVENTION_HELP = {
    "fraction": "fractions between 0 and 1 of the screenshot's width and height",
    "thousandths": "integers from 0 to 1000 (thousandths of the screenshot's width and height)",
    "image_pixels": "pixels of the screenshot",
}


def load_prompt(name: str, *, convention: str = "fraction") -> str:
    """A system prompt shipped in ``assets/prompts/<name>.md``."""
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


class PromptBuilder:
    """Keeps a run's text history and recent screenshots and builds each step's request."""

    def __init__(
        self,
        system_prompt: str,
        task: str,
        *,
        screenshots: int = 3,
        max_tokens: int = 1024,
        enable_thinking: bool | None = None,
        json_schema: dict[str, object] | None = None,
    ) -> None:
        self._system = ChatMessage.text("system", system_prompt)
        self._prefix = f"Task: {task.strip()}\n\n"
        self._history_text = ""
        self._recent: deque[tuple[int, ModelImage]] = deque(maxlen=screenshots)
        self._max_tokens = max_tokens
        self._enable_thinking = enable_thinking
        self._json_schema = json_schema

    def add_history(self, entry: HistoryEntry) -> None:
        """Append a finished step to the text history (append-only)."""
        self._history_text += entry.render() + "\n"

    @property
    def stable_text(self) -> str:
        """The text before the CachePoint: only ever grows during a run."""
        return self._prefix + "Previous steps:\n" + self._history_text

    def build(self, index: int, observation: Observation, notes: tuple[str, ...] = ()) -> ModelRequest:
        """The request for step ``index`` (0-based) given its observation."""
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
        return ModelRequest(
            messages=(self._system, ChatMessage("user", tuple(parts))),
            max_tokens=self._max_tokens,
            enable_thinking=self._enable_thinking,
            # a copy per request: a runtime's schema converter may rewrite ``$ref`` s in place
            json_schema=copy.deepcopy(self._json_schema),
        )
