"""The records of a trajectory bundle as typed models: what :func:`~omnidesk.agent.trajectory.load_bundle`
accepts from a folder that may have been crafted.

Every field the readers use (the report, the History panel, replay) is declared with its type and
bounds; fields a newer writer adds are kept (``extra="allow"``). A record that does not fit is refused
with the field's name, never a ``KeyError`` or ``TypeError`` later in a reader.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from omnidesk.agent.actions import ACTION_ADAPTER

__all__ = ["BundleImage", "BundleMonitor", "BundleObservation", "BundlePatch", "RunSummary", "StepRecord"]

Count = Annotated[int, Field(ge=0, le=2**53)]
Pixels = Annotated[int, Field(ge=0, le=1 << 20)]
Seconds = Annotated[float, Field(ge=0)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


class BundleImage(_Record):
    kind: str = ""
    label: str = ""
    width: Pixels
    height: Pixels


class BundleMonitor(_Record):
    index: Count = 0
    name: str = ""
    geometry: tuple[Annotated[int, Field(ge=-(1 << 20), le=1 << 20)], int, Pixels, Pixels] | None = None


class BundleObservation(_Record):
    timestamp: float = 0.0
    keyframe: bool = False
    changed_fraction: Annotated[float, Field(ge=0, le=1)] | None = None
    images: list[BundleImage] = Field(default_factory=list)
    monitor: BundleMonitor | None = None


class BundlePatch(_Record):
    """A replay target patch (see ``agent/replay.py``): the file, the point in it, the overview's size."""

    file: str
    anchor: tuple[Annotated[float, Field(ge=0, le=4096)], Annotated[float, Field(ge=0, le=4096)]]
    image_size: tuple[Annotated[int, Field(ge=16, le=16384)], Annotated[int, Field(ge=16, le=16384)]]


class StepRecord(_Record):
    """One line of ``steps.jsonl`` (written by ``trajectory.step_record``)."""

    index: Count
    status: str
    started_at: float = 0.0
    timings: dict[str, Seconds] = Field(default_factory=dict)
    raw_output: str = ""
    reasoning: str = ""
    action: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = None  # None: a line written before multi-action steps
    performed: Count = 0
    target: tuple[int, int] | None = None
    result: str = ""
    error: str = ""
    prompt_tokens: Count = 0
    completion_tokens: Count = 0
    reused_tokens: Count = 0
    png: str | None = None
    observation: BundleObservation | None = None
    patches: list[BundlePatch] = Field(default_factory=list)

    @field_validator("action")
    @classmethod
    def _known_action(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """The action must be one Omnidesk knows (the same allow-list as model output)."""
        if value is not None:
            ACTION_ADAPTER.validate_python(value)
        return value

    @field_validator("actions")
    @classmethod
    def _known_actions(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        for action in value or []:
            ACTION_ADAPTER.validate_python(action)
        return value

    def files(self) -> list[str]:
        """Every file name the record gives (each must stay inside the bundle)."""
        return ([self.png] if self.png else []) + [patch.file for patch in self.patches]


class TokenCounts(_Record):
    prompt: Count = 0
    completion: Count = 0
    reused: Count = 0


class LastStep(_Record):
    index: Count = 0
    status: str = ""
    result: str | None = None
    error: str | None = None


class RunSummary(_Record):
    """``run.json`` (written by ``TrajectoryWriter``)."""

    task: str = ""
    status: str = ""
    steps: Count = 0
    statuses: dict[str, Count] = Field(default_factory=dict)
    error: str = ""
    meta: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    tokens: TokenCounts = Field(default_factory=TokenCounts)
    last_step: LastStep | None = None
