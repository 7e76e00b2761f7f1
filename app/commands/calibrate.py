"""``omnidesk calibrate``: check the two ends of the coordinate path on this machine.

1. Input: Omnidesk's calibration window covers every monitor checked (so no click reaches the person's
   applications); the real input device clicks five known targets on each, and the window reports where
   every click landed — errors in device pixels, across multi-monitor layouts, offsets and HiDPI scale.
2. Model (when one is configured): synthetic screenshots of each monitor with a red disc at a random
   place; the model is asked to click it in its own output format, and its answer goes through the same
   parser and coordinate path a run uses. The distance to the disc's centre shows whether the profile's
   coordinate convention and the engine's canvas mapping fit this model.
3. Pointing reference (a model whose engine letterboxes its screenshots, as libmtmd does onto
   ``nemotron_v2_vl``'s 512² canvas): the model is shown the calibration window with one target at a time,
   in its trained format, and asked to click it. Each answer is read both ways — as a point of the whole
   canvas the encoder saw and as a point of the screenshot on it; near the corners the two lie far apart, so
   the reading that lands on the targets tells which one the model names. A clear result is stored as
   ``model.pointing_reference`` (runs then read the model's points that way).
"""

from __future__ import annotations

import json
import random
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from omnidesk.app.cli_options import (
    JsonOption,
    MmprojOption,
    ModelOption,
    ModelOptions,
    MonitorOption,
    ProfileOption,
    RemoteOption,
    get_context,
    terminal_consent,
)

if TYPE_CHECKING:
    import numpy.typing as npt

    from omnidesk.agent.actions import Action
    from omnidesk.agent.canvas import ImageCanvas, PointingReference
    from omnidesk.agent.formats import FormatSettings, ModelFormat
    from omnidesk.agent.geometry import ImageTransform, MonitorInfo
    from omnidesk.agent.ports import InputDevice, ModelClient
    from omnidesk.app.calibration_window import CalibrationDisplay
    from omnidesk.app.settings import AppPaths

__all__ = ["Shot", "check_input", "check_model", "check_pointing", "register", "store_pointing_reference"]

TASK = "Click the centre of the red circle."
POINTING_TASK = "Click the centre of the red target."


@dataclass(frozen=True, slots=True)
class Shot:
    """One picture of the calibration window showing a single target (desktop device pixels)."""

    monitor: MonitorInfo
    x: int
    y: int
    radius: float
    pixels: npt.NDArray[np.uint8]  # H×W×3 RGB, the monitor's size


def check_input(device: InputDevice, monitors: list[MonitorInfo], display: CalibrationDisplay) -> list[dict[str, Any]]:
    """Click every target of the calibration windows through ``device``; compare with what the windows got."""
    results = []
    start = device.position()
    for window in display.windows:
        if window.monitor.index not in {m.index for m in monitors}:
            continue
        errors: list[float] = []
        missed: list[int] = []
        for target in window.targets:
            landed = display.click(device, target.x, target.y)
            if landed is None:
                missed.append(target.number)
                continue
            errors.append(max(abs(landed[0] - target.x), abs(landed[1] - target.y)))
        worst = round(max(errors), 1) if errors else None
        results.append(
            {
                "monitor": window.monitor.index,
                "name": window.monitor.name,
                "targets": len(window.targets),
                "reported": len(errors),
                "missed": missed,
                "max_error_px": worst,
                "ok": not missed and worst is not None and worst <= 1,
            }
        )
    device.move(*start)
    return results


def _disc_frame(monitor: MonitorInfo, cx: int, cy: int, radius: int) -> Any:
    from omnidesk.agent.ports import Frame

    h, w = monitor.geometry.height, monitor.geometry.width
    pixels = np.full((h, w, 4), (48, 40, 40, 255), np.uint8)
    yy, xx = np.ogrid[:h, :w]
    pixels[(xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2] = (30, 30, 220, 255)  # BGRA red
    return Frame(pixels, time.monotonic(), monitor)


def check_model(
    model: ModelClient,
    fmt: ModelFormat,
    settings: FormatSettings,
    monitors: list[MonitorInfo],
    *,
    trials: int = 3,
    seed: int | None = None,
    canvas: ImageCanvas | None = None,
    reference: PointingReference = "content",
) -> list[dict[str, Any]]:
    """Ask the model, in its format, to click a red disc ``trials`` times per monitor; distances in device pixels.

    ``canvas`` is how the engine sizes what it is sent, ``reference`` what the model's points refer to there.
    """
    from omnidesk.agent.errors import ActionError, ModelOutputError
    from omnidesk.agent.ports import Observation
    from omnidesk.runtime.images import whole_image

    rng = random.Random(seed)
    results = []
    for monitor in monitors:
        g = monitor.geometry
        radius = max(8, g.width // 80)
        distances: list[float] = []
        failures: list[str] = []
        for _ in range(trials):
            cx, cy = rng.randrange(radius * 2, g.width - radius * 2), rng.randrange(radius * 2, g.height - radius * 2)
            image = whole_image(_disc_frame(monitor, cx, cy, radius), fmt.image_sizing)
            conversation = fmt.conversation(TASK, settings)
            reply = model.generate(conversation.request(Observation((image,), image.timestamp, True, 1.0)))
            try:
                x, y = _desktop_point(conversation.parse(reply).action, image.transform, canvas, reference)
            except (ModelOutputError, ActionError) as exc:
                failures.append(str(exc)[:160])
                continue
            distances.append(float(np.hypot(x - (g.x + cx), y - (g.y + cy))))
        hits = sum(d <= radius for d in distances)
        results.append(
            {
                "monitor": monitor.index,
                "name": monitor.name,
                "trials": trials,
                "hits": hits,
                "median_error_px": round(statistics.median(distances), 1) if distances else None,
                "target_radius_px": radius,
                "failures": failures,
                "ok": hits == trials,
            }
        )
    return results


def _desktop_point(
    action: Action, transform: ImageTransform, canvas: ImageCanvas | None, reference: PointingReference
) -> tuple[float, float]:
    """Where the answer's first point lands on the desktop, read with ``reference`` on the engine's canvas."""
    from omnidesk.agent.coords import action_to_desktop
    from omnidesk.agent.errors import ModelOutputError
    from omnidesk.agent.safety import action_points

    view = canvas.view(transform.image_width, transform.image_height) if canvas is not None else None
    points = action_points(action_to_desktop(action, transform, canvas=view, reference=reference))
    if not points:
        raise ModelOutputError("the answer has no point")
    return points[0].x, points[0].y


def check_pointing(
    model: ModelClient,
    fmt: ModelFormat,
    settings: FormatSettings,
    shots: list[Shot],
    canvas: ImageCanvas | None,
) -> dict[str, Any]:
    """Which point the model names where its engine letterboxes: the canvas's or the screenshot's.

    Every shot is sent in the model's format and its answer read both ways; a reading counts a hit when it
    lands inside the target. The reference is the reading with the most hits, when it hits more than half of
    the shots and more than the other reading (the centre target cannot tell them apart); else ``None``.
    Without a letterboxing canvas there is nothing to measure (no model call).
    """
    from omnidesk.agent.errors import ActionError, ModelOutputError
    from omnidesk.agent.ports import Frame, Observation
    from omnidesk.runtime.images import whole_image

    references: tuple[PointingReference, ...] = ("canvas", "content")
    letterboxed = canvas is not None and any(
        canvas.view(*fmt.image_sizing.size_for(s.monitor.geometry.width, s.monitor.geometry.height)).letterboxed
        for s in shots
    )
    hits = dict.fromkeys(references, 0)
    errors: dict[str, list[float]] = {r: [] for r in references}
    failures: list[str] = []
    if letterboxed:
        for shot in shots:
            bgra = np.dstack([shot.pixels[:, :, ::-1], np.full(shot.pixels.shape[:2], 255, np.uint8)])
            image = whole_image(Frame(bgra, time.monotonic(), shot.monitor), fmt.image_sizing)
            conversation = fmt.conversation(POINTING_TASK, settings)
            reply = model.generate(conversation.request(Observation((image,), image.timestamp, True, 1.0)))
            try:
                action = conversation.parse(reply).action
            except ModelOutputError as exc:
                failures.append(str(exc)[:160])
                continue
            for reference in references:
                try:
                    x, y = _desktop_point(action, image.transform, canvas, reference)
                except (ModelOutputError, ActionError):
                    continue  # this reading puts the point off the screenshot
                error = float(np.hypot(x - shot.x, y - shot.y))
                errors[reference].append(error)
                hits[reference] += error <= shot.radius
    best = max(references, key=lambda r: hits[r])
    other = next(r for r in references if r != best)
    measured = letterboxed and hits[best] * 2 > len(shots) and hits[best] > hits[other]
    return {
        "letterboxed": letterboxed,
        "shots": len(shots) if letterboxed else 0,
        "hits": hits,
        "median_error_px": {r: round(statistics.median(e), 1) if e else None for r, e in errors.items()},
        "failures": failures,
        "reference": best if measured else None,
        "ok": measured or not letterboxed,
    }


def _shots(display: CalibrationDisplay) -> list[Shot]:
    """Each target of each calibration window, shown alone."""
    return [
        Shot(
            window.monitor, target.x, target.y, window.target_radius_px, display.picture(window.monitor, target.number)
        )
        for window in display.windows
        for target in window.targets
    ]


def store_pointing_reference(reference: PointingReference, paths: AppPaths) -> None:
    """Keep a measured reference as ``model.pointing_reference`` in the settings file (not the environment's)."""
    from omnidesk.app.settings import load_settings, save_settings

    stored = load_settings(paths, environment=False)
    stored.model.pointing_reference = reference
    save_settings(stored, paths)


def calibrate(
    ctx: typer.Context,
    *,
    monitor: MonitorOption = None,
    trials: Annotated[int, typer.Option("--trials", min=1, max=50, help="Model answers per monitor.")] = 3,
    no_model: Annotated[bool, typer.Option("--no-model", help="Check only the input path.")] = False,
    model: ModelOption = None,
    mmproj: MmprojOption = None,
    profile: ProfileOption = None,
    remote: RemoteOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check pointer placement on every monitor and how well the model points; exit 0 when both fit."""
    from omnidesk.app.compose import build_desktop, build_model_client, build_model_format

    context = get_context(ctx)
    settings = ModelOptions(model=model, mmproj=mmproj, profile=profile, remote=remote).apply(context.settings)
    from omnidesk.app.calibration_window import CalibrationDisplay

    with build_desktop(settings) as desktop:
        monitors = desktop.screen.monitors()
        if monitor is not None:
            monitors = [m for m in monitors if m.index == monitor]
        with CalibrationDisplay(monitors) as display:
            report: dict[str, Any] = {"input": check_input(desktop.input, monitors, display)}
            shots = [] if no_model else _shots(display)
    pointing: dict[str, Any] | None = None
    if not no_model:
        client = build_model_client(settings, context.paths, consent=terminal_consent())
        try:
            capabilities = client.capabilities
            fmt, format_settings = build_model_format(settings, capabilities)
            canvas = capabilities.image_canvas
            pointing = check_pointing(client, fmt, format_settings, shots, canvas)
            reference = pointing["reference"] or capabilities.pointing_reference
            report["model"] = check_model(
                client, fmt, format_settings, monitors, trials=trials, canvas=canvas, reference=reference
            )
        finally:
            client.close()
        if pointing["reference"] is not None:
            store_pointing_reference(pointing["reference"], context.paths)
    ok = all(r["ok"] for section in report.values() for r in section) and (pointing is None or pointing["ok"])
    if as_json:
        typer.echo(json.dumps({"ok": ok, **report, **({"pointing": pointing} if pointing else {})}, indent=2))
    else:
        if pointing is not None:
            typer.echo(_describe_pointing(pointing))
        for r in report["input"]:
            missed = f"; {len(r['missed'])} clicks never reached the window" if r["missed"] else ""
            typer.echo(
                f"input   monitor {r['monitor']} ({r['name']}): {r['reported']}/{r['targets']} clicks landed, "
                f"error ≤ {r['max_error_px']} px{missed}"
            )
        for r in report.get("model", []):
            typer.echo(
                f"model   monitor {r['monitor']} ({r['name']}): {r['hits']}/{r['trials']} inside the target, "
                f"median error {r['median_error_px']} px"
                + (f"; {len(r['failures'])} unusable answers" if r["failures"] else "")
            )
    raise typer.Exit(0 if ok else 1)


def _describe_pointing(pointing: dict[str, Any]) -> str:
    if not pointing["letterboxed"]:
        return "pointing the engine shows the model the whole screenshot; nothing to measure"
    hits = ", ".join(f"{n}/{pointing['shots']} as {r}" for r, n in pointing["hits"].items())
    if pointing["reference"] is None:
        return f"pointing undecided ({hits}); model.pointing_reference left as it was"
    return (
        f"pointing the model names points of the {pointing['reference']} ({hits}); stored as model.pointing_reference"
    )


def register(cli: typer.Typer) -> None:
    cli.command("calibrate")(calibrate)
