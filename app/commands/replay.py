"""``omnidesk replay BUNDLE``: do a recorded run again without the model.

Every acted step is repeated in order. Points are not replayed blindly: the patch of the overview the
model pointed at is found again on the current screen (OpenCV template matching), so a window that
moved since the recording is still hit; a target that cannot be found — or is found in two places —
stops the replay instead of clicking elsewhere. Safety rules (deny-list, confirmations) apply as in a run.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import numpy.typing as npt
import typer

from omnidesk.agent.actions import ACTION_ADAPTER, Action, AskUser, Click, Done, Drag, Fail, Move, Point, Scroll
from omnidesk.agent.errors import ActionError, RecordingError
from omnidesk.agent.ports import CancelToken, Clock, Confirmer, InputDevice, Screen
from omnidesk.app.cli_options import JsonOption, MonitorOption, get_context

if TYPE_CHECKING:
    from omnidesk.agent.safety import SafetyPolicy
    from omnidesk.agent.secrets import SecretStore
    from omnidesk.agent.trajectory import Bundle

__all__ = ["ReplayedStep", "find_patch", "register", "replay_steps", "replayable_steps", "with_points"]

Pixels = npt.NDArray[np.uint8]


def find_patch(overview: Pixels, patch: Pixels, *, min_score: float = 0.8) -> tuple[float, float, float]:
    """Where ``patch`` (top-left) best matches in ``overview``, and the match score.

    Raises:
        ActionError: no good match, two equally good ones, or a featureless patch.
    """
    import cv2

    if patch.shape[0] > overview.shape[0] or patch.shape[1] > overview.shape[1]:
        raise ActionError("the recorded target is larger than the current screenshot")
    if float(patch.std()) < 2.0:
        raise ActionError("the recorded target has no features to find it by; this step cannot be replayed")
    scores = cv2.matchTemplate(overview, patch, cv2.TM_CCOEFF_NORMED)
    _, best, _, (bx, by) = cv2.minMaxLoc(scores)
    if best < min_score:
        raise ActionError(f"the recorded target is not on the screen (best match {best:.2f} < {min_score:.2f})")
    h, w = patch.shape[:2]
    suppressed = scores.copy()
    suppressed[max(0, by - h) : by + h, max(0, bx - w) : bx + w] = -1.0
    second = float(suppressed.max()) if suppressed.size else -1.0
    if second >= best - 0.02:
        raise ActionError(f"the recorded target matches in two places ({best:.2f} and {second:.2f}); not guessing")
    return float(bx), float(by), float(best)


def with_points(action: Action, points: list[Point]) -> Action:
    """The action with its points replaced, in order (start, end for a drag)."""
    match action:
        case Click() | Move() | Scroll():
            return action.model_copy(update={"point": points[0]})
        case Drag():
            return action.model_copy(update={"start": points[0], "end": points[1]})
    return action


def _read_png(path: Path) -> Pixels:
    import cv2

    pixels = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if pixels is None:
        raise RecordingError(f"cannot read {path}; the bundle is incomplete")
    return np.ascontiguousarray(pixels[:, :, ::-1])


def _wait_still(grab: Any, *, still: float = 0.3, timeout: float = 3.0) -> None:
    """Until two grabs ``still`` s apart are identical (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    previous = grab().pixels.copy()
    while time.monotonic() < deadline:
        time.sleep(still)
        current = grab().pixels
        if np.array_equal(previous, current):
            return
        previous = current.copy()


@dataclass(frozen=True, slots=True)
class ReplayedStep:
    """One recorded step done again: the action with the points found on the current screen."""

    index: int
    action: Action
    targets: list[tuple[int, int]]
    scores: list[float]


def replayable_steps(recorded: Bundle) -> list[dict[str, Any]]:
    """The recorded steps that did something (acted, or planned in a dry run)."""
    return [s for s in recorded.steps if s["status"] in {"acted", "planned"} and s.get("action")]


def replay_steps(
    bundle: Path,
    *,
    screen: Screen,
    monitor: int | str | None,
    policy: SafetyPolicy,
    confirmer: Confirmer,
    device: InputDevice,
    clock: Clock,
    cancel: CancelToken,
    secrets: SecretStore | None = None,
    dry_run: bool = False,
    min_score: float = 0.8,
) -> Iterator[ReplayedStep]:
    """The replay engine: repeat ``bundle``'s acted steps on ``screen``, yielding each one once done.

    ``monitor`` picks the monitor (None: the one the run was recorded on). Stops (raises) on a target
    that cannot be found, a refused or declined step; stops quietly when ``cancel`` is set.

    Raises:
        ActionError: a target is missing or ambiguous. SafetyStop: a step was refused or declined.
        RecordingError: the bundle is incomplete.
    """
    from omnidesk.agent.describe import describe_action
    from omnidesk.agent.errors import SafetyStop
    from omnidesk.agent.geometry import resolve_monitor
    from omnidesk.agent.loop import perform
    from omnidesk.agent.ports import ConfirmationRequest
    from omnidesk.agent.safety import action_points
    from omnidesk.agent.trajectory import load_bundle
    from omnidesk.runtime.images import overview_image

    steps = replayable_steps(load_bundle(bundle))
    names = [s["observation"]["monitor"]["name"] for s in steps if s.get("observation", {}).get("monitor")]
    index = resolve_monitor(screen.monitors(), monitor if monitor is not None else (names[0] if names else None))
    for record in steps:
        if cancel.cancelled:
            return
        action: Action = ACTION_ADAPTER.validate_python(record["action"])
        if isinstance(action, Done | Fail | AskUser):
            continue
        points = action_points(action)
        patches = record.get("patches", [])
        if points and len(patches) != len(points):
            raise RecordingError(f"step {record['index'] + 1} has no saved target patches; it cannot be replayed")
        found, scores = [], []
        if points:
            size = patches[0]["image_size"][0]
            overview = overview_image(screen.grab(index), size)
            for patch in patches:
                x, y, score = find_patch(overview.pixels, _read_png(bundle / patch["file"]), min_score=min_score)
                ax, ay = patch["anchor"]
                dx, dy = overview.transform.image_to_desktop(x + ax, y + ay)
                found.append(Point(x=dx, y=dy, space="desktop"))
                scores.append(round(score, 3))
        live = with_points(action, found) if found else action
        verdict = policy.review(live)
        if verdict.decision == "confirm":
            question = f"Replay wants to {describe_action(action)}: {verdict.reason}. Allow it?"
            if not confirmer.confirm(ConfirmationRequest(live, verdict.reason, question)):
                raise SafetyStop(f"step {record['index'] + 1} declined: {verdict.reason}")
        elif verdict.decision == "refuse":
            raise SafetyStop(f"step {record['index'] + 1} refused: {verdict.reason}")
        if cancel.cancelled:
            return
        if not dry_run:
            perform(live, device, clock=clock, cancel=cancel, secrets=secrets)
            _wait_still(lambda: screen.grab(index))
        yield ReplayedStep(record["index"], live, [(int(p.x), int(p.y)) for p in found], scores)


def replay(
    ctx: typer.Context,
    bundle: Annotated[Path, typer.Argument(help="A run's bundle folder (see `omnidesk run`).")],
    *,
    monitor: MonitorOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Find every target, act on none.")] = False,
    min_score: Annotated[float, typer.Option("--min-score", min=0.1, max=1.0, help="Template match needed.")] = 0.8,
    as_json: JsonOption = False,
) -> None:
    """Repeat a recorded run's actions, finding each target again on the current screen."""
    from omnidesk.agent.describe import describe_action
    from omnidesk.agent.safety import SafetyPolicy
    from omnidesk.agent.trajectory import load_bundle
    from omnidesk.app.terminal import TerminalConfirmer
    from omnidesk.runtime.capture import MssScreen
    from omnidesk.runtime.clock import SystemClock
    from omnidesk.runtime.display import require_x11
    from omnidesk.runtime.input import PyAutoGuiInput
    from omnidesk.runtime.secrets import KeyringSecretStore
    from omnidesk.runtime.windows import X11WindowInspector

    settings = get_context(ctx).settings
    require_x11(os.environ)
    total = len(replayable_steps(load_bundle(bundle)))
    screen = MssScreen(settings.capture.scale)
    windows = X11WindowInspector()
    device = PyAutoGuiInput()
    replayed = 0
    try:
        for done in replay_steps(
            bundle,
            screen=screen,
            monitor=monitor,
            policy=SafetyPolicy(settings.safety, windows=windows),
            confirmer=TerminalConfirmer(),
            device=device,
            clock=SystemClock(),
            cancel=CancelToken(),
            secrets=KeyringSecretStore(),
            dry_run=dry_run,
            min_score=min_score,
        ):
            replayed += 1
            if as_json:
                typer.echo(
                    json.dumps(
                        {"step": done.index, "action": done.action.kind, "targets": done.targets, "scores": done.scores}
                    )
                )
            else:
                target = done.targets or "-"
                typer.echo(
                    f"{done.index + 1:3d} {describe_action(done.action)} → {target} {done.scores or ''}".rstrip()
                )
    finally:
        if not dry_run:
            device.release_all()
        windows.close()
    typer.echo(f"replayed {replayed} of {total} steps", err=True)


def register(cli: typer.Typer) -> None:
    cli.command("replay")(replay)
