"""The typed action schema: one frozen pydantic model per action, in a discriminated union.

Every point carries the coordinate space it is in, so a point can never be used in the wrong space:
parsers produce points in the model's convention, the coordinate mapper turns them into ``desktop``
points before the input device sees them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "ACTION_ADAPTER",
    "POINTER",
    "Action",
    "AskUser",
    "Click",
    "CoordinateSpace",
    "Done",
    "Drag",
    "Fail",
    "Hotkey",
    "Move",
    "Point",
    "Scroll",
    "TypeText",
    "Wait",
]

CoordinateSpace = Literal["fraction", "thousandths", "image_pixels", "monitor", "desktop", "pointer"]
"""Where a point's numbers live:

- ``fraction``: 0..1 of the step's overview image (Nemotron, ShowUI);
- ``thousandths``: integers 0..1000 of that image (Qwen3-VL, GUI-Owl);
- ``image_pixels``: pixels of the image the model saw (Qwen2.5-VL, UI-TARS, Holo; Nemotron values > 1);
- ``monitor``: pixels of the captured monitor;
- ``desktop``: pixels of the X virtual desktop, what the input device takes;
- ``pointer``: wherever the mouse pointer is when the action starts (its numbers are 0 and unused) — a
  Qwen click without a ``coordinate``, the start of ``left_click_drag``, a lone ``pyautogui.dragTo``. The
  loop replaces it with the pointer's ``desktop`` position just before the action is reviewed and done.
"""

MouseButton = Literal["left", "right", "middle"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Point(BaseModel):
    """A point with the space its numbers are in."""

    model_config = _FROZEN
    x: float
    y: float
    space: CoordinateSpace


POINTER = Point(x=0.0, y=0.0, space="pointer")
"""The point "where the pointer is" (see :data:`CoordinateSpace`)."""


class Click(BaseModel):
    model_config = _FROZEN
    kind: Literal["click"] = "click"
    point: Point
    button: MouseButton = "left"
    count: int = Field(default=1, ge=1, le=3)
    modifiers: tuple[str, ...] = ()


class Move(BaseModel):
    model_config = _FROZEN
    kind: Literal["move"] = "move"
    point: Point


class Drag(BaseModel):
    model_config = _FROZEN
    kind: Literal["drag"] = "drag"
    start: Point
    end: Point
    button: MouseButton = "left"


class Scroll(BaseModel):
    """Scroll by ``dx``/``dy`` wheel clicks (positive ``dy`` scrolls up, as pyautogui)."""

    model_config = _FROZEN
    kind: Literal["scroll"] = "scroll"
    point: Point | None = None
    dx: int = 0
    dy: int = 0


class TypeText(BaseModel):
    model_config = _FROZEN
    kind: Literal["type"] = "type"
    text: str = Field(min_length=1, max_length=10_000)


class Hotkey(BaseModel):
    """Press keys together (a single key is a one-element combination), normalised names."""

    model_config = _FROZEN
    kind: Literal["hotkey"] = "hotkey"
    keys: tuple[str, ...] = Field(min_length=1, max_length=5)


class Wait(BaseModel):
    """Wait ``seconds``; with ``until_settled``, wait until the screen settles, at most ``seconds``
    (Nemotron's ``computer.wait``, vs. Qwen's ``wait`` with a time and UI-TARS' 5 s ``wait()``)."""

    model_config = _FROZEN
    kind: Literal["wait"] = "wait"
    seconds: float = Field(default=1.0, ge=0.0, le=60.0)
    until_settled: bool = False


class Done(BaseModel):
    """The task is finished successfully; ``answer`` is what the user asked for, if anything."""

    model_config = _FROZEN
    kind: Literal["done"] = "done"
    answer: str = ""


class Fail(BaseModel):
    model_config = _FROZEN
    kind: Literal["fail"] = "fail"
    reason: str = ""


class AskUser(BaseModel):
    model_config = _FROZEN
    kind: Literal["ask_user"] = "ask_user"
    question: str = Field(min_length=1)


Action = Annotated[
    Click | Move | Drag | Scroll | TypeText | Hotkey | Wait | Done | Fail | AskUser,
    Field(discriminator="kind"),
]

ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)
"""Validates/serialises any action: ``ACTION_ADAPTER.validate_python({...})``."""
