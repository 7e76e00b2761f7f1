"""``omnidesk eval grounding``: each item of a grounding set put to the model exactly as ``omnidesk run``
puts a step — one screenshot of the monitor, sized by the model's format, with the instruction in the
family's trained layout (``agent/formats/``) — and the answer read by the family's parser. The first
point the answer names is mapped back to the desktop the way the agent maps it (model space → image →
monitor → desktop) and scored: inside the element's box is a pass.

An answer without a usable action, or with a point off the screenshot, is a miss (the model was asked
and answered); a model that does not answer (engine down, timeout) makes the item errored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from omnidesk.agent.actions import Action, Click, Drag, Move, Scroll
from omnidesk.agent.coords import action_to_desktop
from omnidesk.agent.errors import CoordinateError, GenerationCancelled, ModelOutputError
from omnidesk.agent.evaluation.grounding import GroundingCase, GroundingSet
from omnidesk.agent.evaluation.records import GroundingDetail, ItemResult, ItemStatus
from omnidesk.agent.formats import FormatSettings, ImageSizing, ModelFormat
from omnidesk.agent.geometry import ImageTransform, MonitorInfo
from omnidesk.agent.ports import CancelToken, Frame, ModelClient, ModelImage, Observation
from omnidesk.agent.private_files import private_dir
from omnidesk.app.evaluation.driver import CaseInfo, RunHeader

__all__ = ["GroundingRunner", "ShotSource", "first_point"]

log = logging.getLogger(__name__)

_REPLY_CHARS = 2000


class ShotSource(Protocol):
    """Where a set's screenshots come from (``runtime/shots.py``)."""

    def load(self, path: Path, monitor: MonitorInfo) -> Frame: ...

    def overview(self, frame: Frame, sizing: ImageSizing) -> ModelImage: ...

    def write_thumbnail(self, frame: Frame, path: Path) -> None: ...


def first_point(actions: Sequence[Action]) -> Action | None:
    """The first action that names a point (a click, a move, a drag's start, a scroll's place)."""
    for action in actions:
        match action:
            case Click() | Move() | Drag():
                return action
            case Scroll(point=p) if p is not None:
                return action
    return None


def _desktop_point(action: Action) -> tuple[int, int]:
    match action:
        case Click(point=p) | Move(point=p) | Drag(start=p):
            return round(p.x), round(p.y)
        case Scroll(point=p) if p is not None:
            return round(p.x), round(p.y)
    raise ValueError(f"{action.kind} names no point")


@dataclass
class GroundingRunner:
    """Runs a :class:`GroundingSet` (folder ``set_dir``) against ``model`` in ``fmt``'s layout.

    ``describe_model`` is how the report names the model (profile and file or URL).
    """

    grounding_set: GroundingSet
    set_dir: Path
    out_dir: Path
    model: ModelClient
    fmt: ModelFormat
    format_settings: FormatSettings
    shots: ShotSource
    describe_model: str
    chosen: Sequence[GroundingCase]
    seed: int
    clock: Callable[[], float]

    def __post_init__(self) -> None:
        self._frames: dict[str, Frame] = {}
        self._thumbs: set[str] = set()

    @property
    def header(self) -> RunHeader:
        s = self.grounding_set
        dropped = ", ".join(f"{n} {why}" for why, n in sorted(s.dropped.items()))
        notes = (*s.notes, f"Set {s.name}: {len(s.cases)} validated items ({dropped or 'none'} dropped).")
        return RunHeader("grounding", self.describe_model, self.fmt.name, s.name, self.seed, notes)

    def cases(self) -> Sequence[GroundingCase]:
        return self.chosen

    def describe(self, case: GroundingCase) -> CaseInfo:
        return CaseInfo(case.id, case.instruction, self.grounding_set.labels(case))

    def _frame(self, shot_id: str) -> tuple[Frame, str]:
        shot = self.grounding_set.shot(shot_id)
        monitor = MonitorInfo(shot.index, "", shot.geometry)
        frame = self._frames.get(shot_id)
        if frame is None:
            self._frames.clear()  # the set's cases are grouped by shot: keep one at a time
            frame = self.shots.load(self.set_dir / shot.file, monitor)
            self._frames[shot_id] = frame
        thumb = f"thumbs/{shot_id}.png"
        if shot_id not in self._thumbs:
            private_dir(self.out_dir / "thumbs")
            self.shots.write_thumbnail(frame, self.out_dir / thumb)
            self._thumbs.add(shot_id)
        return frame, thumb

    def _to_desktop(self, action: Action, transform: ImageTransform) -> Action:
        """The point in desktop pixels read as ``omnidesk run`` reads it: where the engine letterboxes the
        sent image onto a canvas, the model's pointing reference says which of the two it names."""
        capabilities = self.model.capabilities
        canvas = capabilities.image_canvas
        view = canvas.view(transform.image_width, transform.image_height) if canvas is not None else None
        return action_to_desktop(action, transform, canvas=view, reference=capabilities.pointing_reference)

    def run(self, case: GroundingCase, cancel: CancelToken) -> ItemResult:
        info = self.describe(case)
        began = self.clock()
        frame, thumb = self._frame(case.shot)
        overview = self.shots.overview(frame, self.fmt.image_sizing)
        observation = Observation(images=(overview,), timestamp=frame.timestamp, keyframe=True, changed_fraction=1.0)
        conversation = self.fmt.conversation(case.instruction, self.format_settings)
        request = conversation.request(observation)
        reply = self.model.generate(request, cancel=cancel)
        if reply.stop_reason == "cancelled" or cancel.cancelled:
            raise GenerationCancelled("the evaluation was stopped")
        geometry = frame.monitor.geometry
        detail = GroundingDetail(
            screenshot=thumb,
            image=(frame.width, frame.height),
            monitor=(geometry.x, geometry.y, geometry.width, geometry.height),
            box=case.box,
            reply=reply.text[:_REPLY_CHARS],
        )
        status: ItemStatus = "fail"
        why, point = "", None
        try:
            parsed = conversation.parse(reply)
            action = first_point(parsed.actions)
            if action is None:
                why = f"the answer names no point ({', '.join(a.kind for a in parsed.actions)})"
            else:
                point = _desktop_point(self._to_desktop(action, overview.transform))
                status = "pass" if case.rect.contains(*point) else "fail"
        except ModelOutputError as exc:
            why = f"no usable action: {exc}"
        except CoordinateError as exc:
            why = f"the point is off the screenshot: {exc}"
        return ItemResult(
            id=case.id,
            status=status,
            instruction=case.instruction,
            labels=info.labels,
            seconds=round(self.clock() - began, 3),
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            error=why,
            grounding=detail.model_copy(update={"point": point}),
        )
