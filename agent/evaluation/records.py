"""The JSON summary of an evaluation run, versioned: what the HTML report is drawn from and what
``omnidesk eval compare`` reads.

One :class:`RunSummary` per run. It is rewritten after every item, so a run stopped at any point (Ctrl-C,
a crash) leaves a valid summary with ``complete`` false. An item is ``pass`` or ``fail`` when the model
was measured, ``errored`` when it could not be (the model never answered, the application was missing,
a task's set-up failed): errored items are counted apart and never enter a rate. ``labels`` are the
dimensions a rate is broken down by (grounding: app, resolution, scale, monitors, size).

Schema changes bump :data:`SCHEMA_VERSION`; :func:`load_summary` refuses other versions with a typed
error that says which it found.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from omnidesk.agent.errors import ConfigError

__all__ = [
    "SCHEMA_VERSION",
    "EvalKind",
    "GroundingDetail",
    "ItemResult",
    "ItemStatus",
    "RateRecord",
    "RunSummary",
    "TaskDetail",
    "load_summary",
]

SCHEMA_VERSION: Literal[1] = 1

EvalKind = Literal["grounding", "tasks"]
ItemStatus = Literal["pass", "fail", "errored"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class GroundingDetail(BaseModel):
    """Where one grounding item's target was and where the model pointed (desktop device pixels).

    ``screenshot`` is the picture shown in the report (a path relative to the report, a thumbnail);
    ``image`` the size of the screenshot the item was made from, ``monitor`` that monitor's place in
    the desktop (``[x, y, w, h]``), ``box`` the target, ``point`` the predicted point (None: the answer
    named no point), ``reply`` the model's answer text (its first 2 000 characters).
    """

    model_config = _FROZEN
    screenshot: str
    image: tuple[int, int]
    monitor: tuple[int, int, int, int]
    box: tuple[int, int, int, int]
    point: tuple[int, int] | None = None
    reply: str = ""


class TaskDetail(BaseModel):
    """What a task's run looked like: ``screenshot`` the last screen the model saw, with its actions drawn
    (a path relative to the report, inside the task's trajectory; "" when no step saw the screen), and
    ``actions`` one line per step (its status and what the model asked for)."""

    model_config = _FROZEN
    screenshot: str = ""
    actions: tuple[str, ...] = ()


class ItemResult(BaseModel):
    """One item's outcome. ``error`` says why an ``errored`` item could not be measured (or why a
    ``fail`` failed, when there is more to say than "missed"). ``notes`` are extra facts the report shows
    (a task's steps, the confirmations it answered)."""

    model_config = _FROZEN
    id: str
    status: ItemStatus
    instruction: str
    labels: dict[str, str] = Field(default_factory=dict)
    seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str = ""
    grounding: GroundingDetail | None = None
    task: TaskDetail | None = None
    notes: dict[str, str] = Field(default_factory=dict)


class RateRecord(BaseModel):
    """Passes, failures and errored items of a group; ``rate`` over the measured ones (None: none were),
    with its 95 % Wilson interval ``low``–``high``."""

    model_config = _FROZEN
    passed: int
    failed: int
    errored: int
    rate: float | None
    low: float | None
    high: float | None

    @property
    def measured(self) -> int:
        return self.passed + self.failed


class RunSummary(BaseModel):
    """A whole run (see the module doc). ``model`` describes what was evaluated (profile, file or URL),
    ``suite`` what it was evaluated on, ``planned`` how many items the run meant to do, ``notes`` what the
    reader must know (e.g. which scales could not be made real)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    schema_version: Literal[1] = SCHEMA_VERSION
    kind: EvalKind
    model: str
    format: str
    suite: str
    seed: int | None = None
    started: str
    finished: str | None = None
    complete: bool = False
    interrupted: bool = False
    planned: int
    notes: tuple[str, ...] = ()
    total: RateRecord
    groups: dict[str, dict[str, RateRecord]] = Field(default_factory=dict)
    items: tuple[ItemResult, ...] = ()

    def to_json(self) -> str:
        return self.model_dump_json(indent=1)


def load_summary(text: str, *, source: str = "summary") -> RunSummary:
    """A summary read back from its JSON.

    Raises:
        ConfigError: not JSON, another schema version, or fields that do not fit (the message says which).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source} is not JSON ({exc.msg} at line {exc.lineno}); pass an eval summary.json") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{source} is not an eval summary (a JSON object with schema_version)")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ConfigError(
            f"{source} has summary schema version {version!r}; this Omnidesk reads version {SCHEMA_VERSION}"
        )
    try:
        return RunSummary.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{source} is not a valid eval summary: {where}: {first['msg']}") from exc
