"""Regenerate ``docs/examples/calibration.md``: pixel errors of the coordinate path on the test rig.

Three measurements per display (Xvfb 1920×1080; X.Org dummy with DUMMY0 1920×1080 + DUMMY1 1280×1024):

1. ``omnidesk calibrate --no-model --json``: the pointer moved to five points of each monitor and read back.
2. ``check_model`` (what ``omnidesk calibrate`` runs for the model) with a scripted model that finds the red
   disc in the image it was sent, at the image sizes of the Nemotron (512) and Qwen3-VL (1024) profiles:
   the error of the letterbox mapping alone, with a model that points perfectly in its image.
3. The agent clicking the Qt target app's OK button at ``QT_SCALE_FACTOR`` 1.0, 1.5 and 2.0 (calibrate has
   no scale option; this is the end-to-end equivalent): the scripted model finds the button's colour in
   the overview, the app reports where the press landed, the error is its distance to the button centre.

pyautogui binds to one X display per process, so each display is measured in a child process.
Run from the repository root: ``.venv/bin/python docs/examples/calibration.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from omnidesk.agent.config import AgentConfig  # noqa: E402
from omnidesk.agent.formats import get_format, resolve_settings  # noqa: E402
from omnidesk.agent.ports import CancelToken, ModelCapabilities, ModelRequest  # noqa: E402
from omnidesk.app.commands.calibrate import check_model  # noqa: E402
from omnidesk.app.compose import build_agent_session  # noqa: E402
from omnidesk.app.settings import Settings  # noqa: E402
from omnidesk.runtime.capture import MssScreen  # noqa: E402
from tests.fakes import FakeModel, ScriptedConfirmer, request_images  # noqa: E402
from tests.rig.target_client import launch_target  # noqa: E402
from tests.rig.xserver import start_openbox, start_xorg_dummy, start_xvfb  # noqa: E402

OMNIDESK = Path(sys.executable).with_name("omnidesk")
DUAL = [("DUMMY0", 1920, 1080, 0, 0), ("DUMMY1", 1280, 1024, 1920, 0)]
DONE = "Done.\n## Action:\ndone\n## Code:\ncomputer.terminate(status='success', answer='clicked')"


def _centre(pixels: np.ndarray, rgb: tuple[int, int, int], tolerance: int) -> tuple[float, float]:
    match = np.all(np.abs(pixels.astype(np.int16) - np.array(rgb, np.int16)) <= tolerance, axis=2)
    ys, xs = np.nonzero(match)
    height, width = pixels.shape[:2]
    return (float(np.mean(xs)) + 0.5) / width, (float(np.mean(ys)) + 0.5) / height


def _caps(size: int) -> ModelCapabilities:
    return ModelCapabilities("scripted", True, False, size, "fraction", 32768)


def _disc_model(size: int) -> FakeModel:
    def script(request: ModelRequest) -> str:
        x, y = _centre(request_images(request)[-1].pixels, (220, 30, 30), 40)
        return f"The red disc.\n## Action:\nclick it\n## Code:\npyautogui.click(x={x:.5f}, y={y:.5f})"

    return FakeModel(script, capabilities=_caps(size))


def _calibrate_cli(env: dict[str, str]) -> Any:
    done = subprocess.run(
        [str(OMNIDESK), "calibrate", "--no-model", "--json"], env=env, capture_output=True, text=True, check=False
    )
    return json.loads(done.stdout)


def _click_ok(workdir: Path, scale: float, monitor: int, screen: str | None) -> dict[str, Any]:
    width, height = (800, 600) if scale == 1.0 else (560, 400)
    app = launch_target(workdir, x=120, y=120, width=width, height=height, scale=scale, screen=screen)
    try:
        color = app.ready["colors"]["ok_button"]
        rgb = (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))

        def script(request: ModelRequest) -> str:
            overviews = [i for i in request_images(request) if i.kind == "overview"]
            if len(overviews) > 1:
                return DONE
            x, y = _centre(overviews[-1].pixels, rgb, 8)
            return f"The OK button.\n## Action:\nclick OK\n## Code:\npyautogui.click(x={x:.5f}, y={y:.5f})"

        model = FakeModel(script, capabilities=_caps(512))
        with build_agent_session(Settings(), model=model, confirmer=ScriptedConfirmer(), monitor=monitor) as session:
            statuses = [step.status for step in session.agent.run("press OK", CancelToken())]
        press = app.wait_for({"type": "mouse_press"}, timeout=10)
        cx, cy = app.widget_center("ok_button")
        return {
            "scale": scale,
            "statuses": statuses,
            "widget": press["widget"],
            "error_px": round(float(np.hypot(press["x"] - cx, press["y"] - cy)), 1),
            "button_px": list(app.widget_rect("ok_button")[2:]),
        }
    finally:
        app.close()


def measure(phase: str, workdir: Path) -> dict[str, Any]:
    screens: list[tuple[int, str | None]]
    if phase == "xvfb":
        server = start_xvfb(workdir)
        display, stop, screens = server.display, server.stop, [(1, None)]
    else:
        dummy = start_xorg_dummy(workdir)
        dummy.set_layout(DUAL)
        display, stop, screens = dummy.server.display, dummy.stop, [(1, "DUMMY0"), (2, "DUMMY1")]
    os.environ.update(DISPLAY=display, XDG_SESSION_TYPE="x11")
    try:
        wm = start_openbox(display, workdir)
        try:
            env = dict(os.environ, OMNIDESK_CONFIG_DIR=str(workdir / "config"), OMNIDESK_DATA_DIR=str(workdir / "data"))
            monitors = MssScreen().monitors()
            fmt = get_format("nemotron")
            chosen = resolve_settings(fmt, AgentConfig())
            return {
                "input": _calibrate_cli(env)["input"],
                "model_path": {
                    size: check_model(_disc_model(size), fmt, chosen, monitors, trials=20, seed=7)
                    for size in (512, 1024)
                },
                "click_ok": [
                    {"monitor": index, **_click_ok(workdir / "app", scale, index, screen)}
                    for index, screen in screens
                    for scale in (1.0, 1.5, 2.0)
                ],
            }
        finally:
            wm.stop()
    finally:
        stop()


def markdown(results: dict[str, Any]) -> str:
    names = {"xvfb": "Xvfb 1920×1080", "dual": "X.Org dummy, dual"}
    lines = [
        "# Calibration on the test rig",
        "",
        "Made by `docs/examples/calibration.py` (see its docstring for what each column measures).",
        "",
        "| display | monitor | pointer error (calibrate) | letterbox path, 512 px image: hits, median error |"
        " letterbox path, 1024 px image | agent click on OK at scale 1.0 / 1.5 / 2.0 |",
        "|---|---|---|---|---|---|",
    ]
    for phase, data in results.items():
        for row in data["input"]:
            index = row["monitor"]
            path = {
                size: next(r for r in data["model_path"][str(size)] if r["monitor"] == index) for size in (512, 1024)
            }
            clicks = [c for c in data["click_ok"] if c["monitor"] == index]
            click_text = " / ".join(
                f"{c['error_px']:g} px" + ("" if c["widget"] == "ok_button" else f" (hit {c['widget']})")
                for c in clicks
            )
            lines.append(
                f"| {names[phase]} | {index} {row['name']} | {row['max_error_px']} px | "
                + " | ".join(
                    f"{p['hits']}/{p['trials']} inside r={p['target_radius_px']} px, {p['median_error_px']} px"
                    for p in path.values()
                )
                + f" | {click_text} |"
            )
    lines += [
        "",
        "Pointer: `omnidesk calibrate --no-model` (XTest move, read back). Letterbox path: the median that",
        "`omnidesk calibrate` reports; points are rounded to whole desktop pixels, so single answers are 0 or",
        "1 px off. Clicks: distance from where the target app saw the press to the OK button's centre (device",
        "pixels; Qt rounds logical coordinates at scale 1.5). No real model was available here: the model-side",
        "error of Nemotron itself is not in this table.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=["xvfb", "dual"])
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).with_name("calibration.md"))
    args = parser.parse_args()
    if args.phase:
        with tempfile.TemporaryDirectory(prefix=f"omnidesk-cal-{args.phase}-") as tmp:
            print(json.dumps(measure(args.phase, Path(tmp))))
        return
    results = {}
    for phase in ("xvfb", "dual"):
        done = subprocess.run(
            [sys.executable, __file__, "--phase", phase], capture_output=True, text=True, check=True, cwd=ROOT
        )
        results[phase] = json.loads(done.stdout.strip().splitlines()[-1])
    args.output.write_text(markdown(results), encoding="utf-8")
    args.output.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(args.output.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
