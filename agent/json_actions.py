"""JSON actions: the flat format a model writes under grammar-constrained decoding.

The model never sees :mod:`omnidesk.agent.actions` directly; it writes one flat JSON object per step
(``{"thought": "...", "kind": "click", "x": 0.41, "y": 0.22, "button": "left", "count": 1}``) whose
numbers are in the model's coordinate convention. Every property is ``required`` so that a grammar built
from the schema forces the model to write all of them, and ``kind`` is a constant per action.

``assets/grammars/action.schema.json`` is generated from :func:`action_json_schema` (a test checks that
the shipped file is up to date); :func:`parse_json_action` turns the model's text into a typed action and
:func:`render_json_action` does the reverse.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from omnidesk.agent.actions import (
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
from omnidesk.agent.keys import KeyNameError, normalize_combo

__all__ = [
    "JSON_ACTION_MODELS",
    "ModelConvention",
    "action_json_schema",
    "parse_json_action",
    "render_json_action",
    "schema_text",
]

ModelConvention = Literal["fraction", "thousandths", "image_pixels"]

# String lengths are bounded in the schema only (``maxLength``): a grammar built from it then always
# closes the object within the output budget; the parser does not reject longer decoded strings (byte
# tokens that form invalid UTF-8 decode to more characters than the grammar counted).

_STRICT = ConfigDict(extra="forbid", frozen=True)
_Thought = Field(
    json_schema_extra={"maxLength": 300}, description="One or two sentences: what you see and why this action."
)


class JsonClick(BaseModel):
    model_config = _STRICT
    thought: str = _Thought
    kind: Literal["click"]
    x: float
    y: float
    button: Literal["left", "right", "middle"]
    count: int = Field(ge=1, le=3)


class JsonMove(BaseModel):
    model_config = _STRICT
    thought: str = _Thought
    kind: Literal["move"]
    x: float
    y: float


class JsonDrag(BaseModel):
    model_config = _STRICT
    thought: str = _Thought
    kind: Literal["drag"]
    x: float
    y: float
    to_x: float
    to_y: float


class JsonScroll(BaseModel):
    model_config = _STRICT
    thought: str = _Thought
    kind: Literal["scroll"]
    x: float
    y: float
    dy: int = Field(description="Wheel clicks; positive scrolls up.")


class JsonType(BaseModel):
    model_config = _STRICT
    thought: str = _Thought
    kind: Literal["type"]
    text: str = Field(min_length=1, json_schema_extra={"maxLength": 600})


class JsonHotkey(BaseModel):
    model_config = _STRICT
    thought: str = _Thought
    kind: Literal["hotkey"]
    keys: list[Annotated[str, Field(min_length=1, json_schema_extra={"maxLength": 24})]] = Field(
        min_length=1, max_length=5
    )


class JsonWait(BaseModel):
    model_config = _STRICT
    thought: str = _Thought
    kind: Literal["wait"]
    seconds: float


class JsonDone(BaseModel):
    model_config = _STRICT
    thought: str = _Thought
    kind: Literal["done"]
    answer: str = Field(json_schema_extra={"maxLength": 600})


class JsonFail(BaseModel):
    model_config = _STRICT
    thought: str = _Thought
    kind: Literal["fail"]
    reason: str = Field(json_schema_extra={"maxLength": 300})


class JsonAskUser(BaseModel):
    model_config = _STRICT
    thought: str = _Thought
    kind: Literal["ask_user"]
    question: str = Field(min_length=1, json_schema_extra={"maxLength": 300})


JSON_ACTION_MODELS: tuple[type[BaseModel], ...] = (
    JsonClick,
    JsonMove,
    JsonDrag,
    JsonScroll,
    JsonType,
    JsonHotkey,
    JsonWait,
    JsonDone,
    JsonFail,
    JsonAskUser,
)

_JsonAction = (
    JsonClick | JsonMove | JsonDrag | JsonScroll | JsonType | JsonHotkey | JsonWait | JsonDone | JsonFail | JsonAskUser
)
_ADAPTER: TypeAdapter[_JsonAction] = TypeAdapter(_JsonAction)
_BY_KIND: dict[str, type[BaseModel]] = {
    m.model_fields["kind"].annotation.__args__[0]: m  # type: ignore[union-attr]
    for m in JSON_ACTION_MODELS
}


def action_json_schema() -> dict[str, Any]:
    """The JSON schema of one action object (``oneOf`` the action kinds, every property required)."""
    defs: dict[str, Any] = {}
    refs: list[dict[str, str]] = []
    for model in JSON_ACTION_MODELS:
        schema = model.model_json_schema()
        schema.pop("title", None)
        for prop in schema["properties"].values():
            prop.pop("title", None)
        schema["required"] = list(schema["properties"])
        name = model.__name__.removeprefix("Json")
        defs[name] = schema
        refs.append({"$ref": f"#/$defs/{name}"})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "OmnideskAction",
        "description": "One desktop action; coordinates in the model's convention.",
        "oneOf": refs,
        "$defs": defs,
    }


def schema_text() -> str:
    """The schema as the shipped file holds it (stable key order, trailing newline)."""
    return json.dumps(action_json_schema(), indent=2, ensure_ascii=False) + "\n"


def _point(x: float, y: float, space: ModelConvention) -> Point:
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ModelOutputError(f"coordinates must be finite numbers, got ({x}, {y})")
    if x < 0 or y < 0:
        raise ModelOutputError(f"coordinates must not be negative, got ({x}, {y})")
    limit = {"fraction": 1.0, "thousandths": 1000.0, "image_pixels": 100_000.0}[space]
    if x > limit or y > limit:
        raise ModelOutputError(f"coordinates ({x:g}, {y:g}) are out of range for {space} (max {limit:g})")
    return Point(x=x, y=y, space=space)


def _to_action(obj: BaseModel, space: ModelConvention) -> Action:
    match obj:
        case JsonClick():
            return Click(point=_point(obj.x, obj.y, space), button=obj.button, count=obj.count)
        case JsonMove():
            return Move(point=_point(obj.x, obj.y, space))
        case JsonDrag():
            return Drag(start=_point(obj.x, obj.y, space), end=_point(obj.to_x, obj.to_y, space))
        case JsonScroll():
            return Scroll(point=_point(obj.x, obj.y, space), dy=obj.dy)
        case JsonType():
            return TypeText(text=obj.text)
        case JsonHotkey():
            return Hotkey(keys=normalize_combo(obj.keys))
        case JsonWait():
            return Wait(seconds=obj.seconds)
        case JsonDone():
            return Done(answer=obj.answer)
        case JsonFail():
            return Fail(reason=obj.reason)
        case JsonAskUser():
            return AskUser(question=obj.question)
    raise AssertionError(f"unhandled JSON action {type(obj).__name__}")  # pragma: no cover


def parse_json_action(text: str, space: ModelConvention = "fraction") -> tuple[Action, str]:
    """Parse one JSON action object; returns the action and the model's thought.

    Raises:
        ModelOutputError: the text is not exactly one valid action object.
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, or an integer of 4300+ digits
        raise ModelOutputError(f"the output is not valid JSON ({exc}); write one JSON object", text) from exc
    if not isinstance(data, dict):
        raise ModelOutputError("the output must be one JSON object, not a list or a value", text)
    kind = data.get("kind")
    model = _BY_KIND.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ModelOutputError(f"unknown action kind {data.get('kind')!r}; use one of {sorted(_BY_KIND)}", text)
    try:
        obj = model.model_validate(data)
        action = _to_action(obj, space)
    except ValidationError as exc:
        raise ModelOutputError(f"invalid {data['kind']} action: {_first_error(exc)}", text) from exc
    except (ModelOutputError, KeyNameError) as exc:
        raise ModelOutputError(str(exc), text) from exc
    return action, str(getattr(obj, "thought", ""))


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}"


def render_json_action(action: Action, thought: str = "") -> str:
    """Render an action (points in a model convention) as the JSON the model would write."""
    data: dict[str, Any] = {"thought": thought, "kind": action.kind}
    match action:
        case Click():
            data |= {"x": action.point.x, "y": action.point.y, "button": action.button, "count": action.count}
        case Move():
            data |= {"x": action.point.x, "y": action.point.y}
        case Drag():
            data |= {"x": action.start.x, "y": action.start.y, "to_x": action.end.x, "to_y": action.end.y}
        case Scroll():
            if action.point is None or action.dx:
                raise ModelOutputError("JSON scroll needs a point and vertical scrolling only")
            data |= {"x": action.point.x, "y": action.point.y, "dy": action.dy}
        case TypeText():
            data["text"] = action.text
        case Hotkey():
            data["keys"] = list(action.keys)
        case Wait():
            data["seconds"] = action.seconds
        case Done():
            data["answer"] = action.answer
        case Fail():
            data["reason"] = action.reason
        case AskUser():
            data["question"] = action.question
    return json.dumps(data, ensure_ascii=False)
