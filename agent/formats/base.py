"""The interface every model family's format module implements, and the values it is made of.

A *format* is everything a model family was trained on, in one place: the system prompt, how each step's
request is laid out (turns, image order, history), how the screenshot is sized, which parser reads the
answer, and the sampling/reasoning settings the authors serve it with. ``app/compose.py`` picks one from
the profile's ``output_format`` (:func:`omnidesk.agent.formats.get_format`); the :class:`Agent` only talks
to it through this interface, so adding a family is adding a module (see ``docs/models.md``).

How a run uses a format::

    fmt = get_format("nemotron")                       # from the profile, once
    settings = resolve_settings(fmt, config, slow_decoding=..., screenshots=profile.screenshots)
    chat = fmt.conversation(task, settings)            # one per run: holds the history
    request = chat.request(observation, notes)         # each step: the whole request, in the family's layout
    parsed = chat.parse(reply)                         # where the family's answer is (content / reasoning)
    chat.record(FinishedStep(...))                     # the finished step, kept in the family's history layout

``notes`` are Omnidesk's own additions (a refused action, the person's answer, an unusable output); a
format puts them only inside the task-instruction text and ``docs/models.md`` lists them. The sampler
sizes the overview screenshot by :attr:`ModelFormat.image_sizing` — the whole monitor, a pure scale, never
a letterbox — so the image a point refers to is exactly the screenshot the model saw.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, Protocol

from omnidesk.agent.parsing import OutputParser, Parsed
from omnidesk.agent.smart_resize import smart_resize

if TYPE_CHECKING:
    from collections.abc import Sequence

    from omnidesk.agent.config import AgentConfig
    from omnidesk.agent.ports import ModelImage, ModelReply, ModelRequest, Observation

__all__ = [
    "Conversation",
    "FinishedStep",
    "FormatSettings",
    "ImageSizing",
    "ModelFormat",
    "overview_of",
    "resolve_settings",
]


@dataclass(frozen=True, slots=True)
class ImageSizing:
    """How the overview screenshot is sized for a model: the whole monitor, scaled as a whole.

    ``native``: the captured pixels as they are (Nemotron: vLLM sizes it server-side, keeping the
    aspect). ``smart_resize``: Qwen's rule with ``factor`` / ``min_pixels`` / ``max_pixels`` (Qwen and
    UI-TARS answer in pixels of that image). Never a letterbox: the image is the screenshot, so a point
    relative to the image is a point relative to the screen.
    """

    mode: Literal["native", "smart_resize"] = "native"
    factor: int = 0
    min_pixels: int = 0
    max_pixels: int = 0

    def __post_init__(self) -> None:
        if self.mode == "smart_resize" and (self.factor <= 0 or self.max_pixels < self.min_pixels):
            raise ValueError(f"smart_resize needs a factor and min_pixels <= max_pixels, got {self}")

    @classmethod
    def native(cls) -> ImageSizing:
        return cls("native")

    @classmethod
    def smart(cls, *, factor: int, min_pixels: int, max_pixels: int) -> ImageSizing:
        return cls("smart_resize", factor, min_pixels, max_pixels)

    def size_for(self, width: int, height: int) -> tuple[int, int]:
        """The ``(width, height)`` the model gets for a ``width``×``height`` screenshot."""
        if self.mode == "native":
            return width, height
        h, w = smart_resize(height, width, factor=self.factor, min_pixels=self.min_pixels, max_pixels=self.max_pixels)
        return w, h


@dataclass(frozen=True, slots=True)
class FormatSettings:
    """The per-run choices a format builds its requests from (its defaults, the profile, the settings).

    ``reasoning_budget`` is the thinking budget the model is trained to be told (tokens; None: no budget),
    ``reasoning_grace`` how far past it the engine lets the thought run before closing it.
    ``screenshots`` is how many screenshots a request carries, the current one included (1–5; UI-TARS's
    official agents keep 5, Nemotron's cookbook 3, Qwen's cookbooks send 1).
    ``password_secret`` names the stored secret whose ``{{secret:NAME}}`` placeholder fills a prompt's
    password slot (never the value: it is filled only when typed).
    """

    thinking: bool
    max_tokens: int
    reasoning_budget: int | None = None
    reasoning_grace: int = 0
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    screenshots: int = 3
    password_secret: str = "computer_password"

    def __post_init__(self) -> None:
        if not 1 <= self.screenshots <= 5:
            raise ValueError(f"screenshots per request must be 1 to 5, got {self.screenshots}")
        if self.max_tokens < 1 or (self.reasoning_budget is not None and self.reasoning_budget < 0):
            raise ValueError("max_tokens must be positive and reasoning_budget not negative")

    @property
    def thinking_limit(self) -> int | None:
        """The hard cap on thinking tokens an engine enforces (budget + grace), or None."""
        if not self.thinking or self.reasoning_budget is None:
            return None
        return self.reasoning_budget + self.reasoning_grace


@dataclass(frozen=True, slots=True)
class FinishedStep:
    """A finished step as a conversation records it.

    ``parsed`` is None when the output could not be used (the format decides whether such a step enters
    its history). ``reply_text`` / ``reasoning`` are the model's answer and reasoning streams as they came;
    ``result`` is what happened, in Omnidesk's words (never sent unless the format has a place for it).
    """

    index: int
    status: str
    reply_text: str = ""
    reasoning: str = ""
    parsed: Parsed | None = None
    result: str = ""


class Conversation(Protocol):
    """One run's dialogue with the model in its family's layout (holds the history)."""

    def request(self, observation: Observation, notes: Sequence[str] = ()) -> ModelRequest:
        """The whole request for the next step; ``observation.images[0]`` is its overview screenshot."""
        ...

    def parse(self, reply: ModelReply) -> Parsed:
        """The action of a reply, looked for where the family puts it.

        Raises:
            ModelOutputError: no usable action.
        """
        ...

    def record(self, step: FinishedStep) -> None:
        """Keep a finished step (the one the last :meth:`request` asked for) in the history layout."""
        ...


class ModelFormat(Protocol):
    """A model family's trained format (see the module doc)."""

    @property
    def name(self) -> str:
        """The ``output_format`` value that selects it."""
        ...

    @property
    def parser(self) -> OutputParser: ...

    @property
    def image_sizing(self) -> ImageSizing: ...

    @property
    def detail_crops(self) -> bool:
        """Whether requests also carry EVS detail crops (only Omnidesk's own JSON format does)."""
        ...

    def defaults(self, *, slow_decoding: bool) -> FormatSettings:
        """The authors' settings, or the trained variant that keeps a step short where decoding is slow."""
        ...

    def conversation(self, task: str, settings: FormatSettings) -> Conversation: ...


def resolve_settings(
    fmt: ModelFormat,
    config: AgentConfig,
    *,
    slow_decoding: bool = False,
    screenshots: int | None = None,
) -> FormatSettings:
    """The format's defaults for this engine, then the profile's ``screenshots``, then the person's
    settings (the fields of ``config`` that are set) — the one order every run uses."""
    settings = fmt.defaults(slow_decoding=slow_decoding)
    updates: dict[str, object] = {"password_secret": config.password_secret}
    if config.enable_thinking is not None:
        updates["thinking"] = config.enable_thinking
    if screenshots is not None:
        updates["screenshots"] = screenshots
    if config.screenshots_in_prompt is not None:
        updates["screenshots"] = config.screenshots_in_prompt
    if config.max_output_tokens is not None:
        updates["max_tokens"] = config.max_output_tokens
    if config.reasoning_budget is not None:
        updates["reasoning_budget"] = config.reasoning_budget
    return replace(settings, **updates)  # type: ignore[arg-type]


def overview_of(observation: Observation) -> ModelImage:
    """The observation's overview screenshot (what every point of the step refers to).

    Raises:
        ValueError: the observation has none (the Agent always takes one before asking).
    """
    for image in observation.images:
        if image.kind == "overview":
            return image
    raise ValueError("the observation has no overview screenshot")
