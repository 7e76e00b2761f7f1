"""``omnidesk calibrate``: check the two ends of the coordinate path on this machine.

1. Input: Omnidesk's calibration window covers every monitor checked (so no click reaches the person's
   applications); the real input device clicks five known targets on each, and the window reports where
   every click landed — errors in device pixels, across multi-monitor layouts, offsets and HiDPI scale.
2. Model (when one is configured): synthetic screenshots of each monitor with a red disc at a random
   place; the model is asked to click it in its own output format, and its answer goes through the same
   parser and coordinate path a run uses. The distance to the disc's centre shows whether the profile's
   coordinate convention and the letterbox mapping fit this model.
"""

from __future__ import annotations

import json
import random
import statistics
import time
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
    from omnidesk.agent.formats import FormatSettings, ModelFormat
    from omnidesk.agent.geometry import MonitorInfo
    from omnidesk.agent.ports import InputDevice, ModelClient
    from omnidesk.app.calibration_window import CalibrationDisplay

__all__ = ["check_input", "check_model", "register"]

TASK = "Click the centre of the red circle."


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
) -> list[dict[str, Any]]:
    """Ask the model, in its format, to click a red disc ``trials`` times per monitor; distances in device pixels."""
    from omnidesk.agent.coords import model_point_to_desktop
    from omnidesk.agent.errors import ActionError, ModelOutputError
    from omnidesk.agent.ports import Observation
    from omnidesk.agent.safety import action_points
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
                points = action_points(conversation.parse(reply).action)
                if not points:
                    raise ModelOutputError("the answer has no point")
                x, y = model_point_to_desktop(points[0], image.transform)
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
    if not no_model:
        client = build_model_client(settings, context.paths, consent=terminal_consent())
        try:
            fmt, format_settings = build_model_format(settings, client.capabilities)
            report["model"] = check_model(client, fmt, format_settings, monitors, trials=trials)
        finally:
            client.close()
    ok = all(r["ok"] for section in report.values() for r in section)
    if as_json:
        typer.echo(json.dumps({"ok": ok, **report}, indent=2))
    else:
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


def register(cli: typer.Typer) -> None:
    cli.command("calibrate")(calibrate)
