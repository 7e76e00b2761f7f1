"""A ScreenSpot-style grounding set: screenshots of real applications, and for each target element an
instruction written from its accessible name and role and its box from the accessibility tree.

The set is a folder: ``set.json`` (:class:`GroundingSet`, versioned) and the screenshots it names. Each
screenshot is one monitor, as the agent captures it; boxes are desktop device pixels, so a point the
model names is mapped exactly as ``omnidesk run`` maps it (image → monitor → desktop) and then checked.
Items are made by the rig's generator (``tests/eval/make_grounding_set.py``) and kept only when a click
at the box's centre was seen to reach the element.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.geometry import Rect

__all__ = [
    "SET_SCHEMA_VERSION",
    "GroundingCase",
    "GroundingSet",
    "Shot",
    "instruction_for",
    "load_grounding_set",
    "pick_cases",
    "size_class",
]

SET_SCHEMA_VERSION: Literal[1] = 1

_FROZEN = ConfigDict(frozen=True, extra="forbid")

# Role → how a person would ask for it. Roles not listed are not targets (panels, fillers, labels of
# nothing): what a person would click on.
_PHRASES: dict[str, str] = {
    "push_button": 'Click the "{name}" button.',
    "toggle_button": 'Click the "{name}" button.',
    "push_button_menu": 'Click the "{name}" button.',
    "check_box": 'Click the "{name}" check box.',
    "radio_button": 'Select the "{name}" option.',
    "menu": 'Open the "{name}" menu.',
    "menu_item": 'Click "{name}" in the menu bar.',
    "page_tab": 'Switch to the "{name}" tab.',
    "text": 'Click the "{name}" text field.',
    "entry": 'Click the "{name}" text field.',
    "password_text": 'Click the "{name}" password field.',
    "spin_button": 'Click the "{name}" number field.',
    "combo_box": 'Open the "{name}" drop-down list.',
    "list_item": 'Click "{name}" in the list.',
    "table_cell": 'Click the "{name}" cell.',
    "tree_item": 'Click "{name}" in the tree.',
    "link": 'Click the "{name}" link.',
    "slider": 'Click the "{name}" slider.',
    "label": 'Click the text "{name}".',
}


def instruction_for(role: str, name: str) -> str | None:
    """The instruction for an element (None: not a target, or nothing to call it by)."""
    phrase = _PHRASES.get(role)
    name = " ".join(name.split())
    if phrase is None or not name or len(name) > 60:
        return None
    return phrase.format(name=name.replace('"', "'"))


def size_class(box: Rect, monitor: Rect) -> str:
    """The element's area as a share of its monitor, in classes (ScreenSpot-Pro reports the same way)."""
    share = box.area / max(1, monitor.area) * 100
    for limit, label in ((0.01, "<0.01%"), (0.05, "0.01-0.05%"), (0.2, "0.05-0.2%"), (1.0, "0.2-1%")):
        if share < limit:
            return label
    return ">=1%"


class Shot(BaseModel):
    """One screenshot: ``file`` (relative to the set), the monitor it shows (``index`` as mss counts,
    ``monitor`` its desktop geometry ``[x, y, w, h]``), the desktop's ``resolution`` label, the
    applications' ``scale`` and how many ``monitors`` the desktop had."""

    model_config = _FROZEN
    id: str
    file: str
    index: int
    monitor: tuple[int, int, int, int]
    resolution: str
    scale: str
    monitors: int

    @property
    def geometry(self) -> Rect:
        return Rect(*self.monitor)


class GroundingCase(BaseModel):
    """One item: the target's ``box`` (desktop pixels) on screenshot ``shot``, and its instruction."""

    model_config = _FROZEN
    id: str
    shot: str
    app: str
    toolkit: str
    role: str
    name: str
    instruction: str
    box: tuple[int, int, int, int]

    @property
    def rect(self) -> Rect:
        return Rect(*self.box)


class GroundingSet(BaseModel):
    """The set (see the module doc). ``dropped`` counts candidates left out, by reason (a click at the
    centre did not reach the element, a box off the monitor…); ``notes`` say what the set could not be
    made to hold (e.g. GTK 3 at 1.5×)."""

    model_config = _FROZEN
    schema_version: Literal[1] = SET_SCHEMA_VERSION
    name: str
    seed: int
    shots: tuple[Shot, ...]
    cases: tuple[GroundingCase, ...]
    dropped: dict[str, int] = Field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def shot(self, shot_id: str) -> Shot:
        for shot in self.shots:
            if shot.id == shot_id:
                return shot
        raise KeyError(shot_id)

    def labels(self, case: GroundingCase) -> dict[str, str]:
        """The dimensions a rate is broken down by."""
        shot = self.shot(case.shot)
        return {
            "app": case.app,
            "resolution": shot.resolution,
            "scale": shot.scale,
            "monitors": str(shot.monitors),
            "size": size_class(case.rect, shot.geometry),
        }

    def to_json(self) -> str:
        return self.model_dump_json(indent=1)


def load_grounding_set(text: str, *, source: str = "set.json") -> GroundingSet:
    """A set read back from its ``set.json``; every case must name a shot of the set.

    Raises:
        ConfigError: not JSON, another version, fields that do not fit, or a case naming no shot.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source} is not JSON ({exc.msg}); pass a grounding set folder") from exc
    if not isinstance(data, dict) or data.get("schema_version") != SET_SCHEMA_VERSION:
        found = data.get("schema_version") if isinstance(data, dict) else None
        raise ConfigError(f"{source}: grounding set schema {found!r}; this Omnidesk reads {SET_SCHEMA_VERSION}")
    try:
        loaded = GroundingSet.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{source}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc
    shots = {s.id for s in loaded.shots}
    missing = sorted({c.shot for c in loaded.cases} - shots)
    if missing:
        raise ConfigError(f"{source}: cases name shots the set does not have: {', '.join(missing[:5])}")
    return loaded


def pick_cases(cases: Sequence[GroundingCase], limit: int | None, seed: int) -> list[GroundingCase]:
    """``limit`` cases drawn with ``seed`` (all when None), in the set's order: the same run every time."""
    if limit is None or limit >= len(cases):
        return list(cases)
    chosen = set(random.Random(seed).sample(range(len(cases)), limit))
    return [case for i, case in enumerate(cases) if i in chosen]
