"""Regenerate ``docs/examples/report.html``: a real run on a private X desktop, rendered by ``omnidesk report``.

Everything is real except the model: Xvfb 1920×1080 with openbox, the Qt target app of the test rig,
capture with mss + EVS, input with XTest (pyautogui), the agent loop, the trajectory bundle and the report.
The model is scripted the way the end-to-end tests script it: it looks for a widget's colour in the
pixels of the overview it was sent and answers in Nemotron's format with that point as fractions — it is
never told where anything is. The target app's own event report checks that the text arrived and OK
was pressed; the script fails otherwise.

Run from the repository root: ``.venv/bin/python docs/examples/make_report.py [-o OUT.html]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the test rig and the fakes live in tests/

from omnidesk.agent.ports import CancelToken, ModelCapabilities, ModelRequest  # noqa: E402
from omnidesk.agent.trajectory import TrajectoryWriter  # noqa: E402
from omnidesk.app.compose import build_agent_session  # noqa: E402
from omnidesk.app.settings import Settings  # noqa: E402
from omnidesk.runtime.png import CvPngEncoder  # noqa: E402
from tests.fakes import FakeModel, ScriptedConfirmer, request_images  # noqa: E402
from tests.rig.target_client import TargetApp, launch_target  # noqa: E402
from tests.rig.xserver import start_openbox, start_xvfb  # noqa: E402

log = logging.getLogger("make_report")

TASK = "Type 'hello from Omnidesk' into the yellow text field, then press OK"
TEXT = "hello from Omnidesk"
IMAGE_SIZE = 768
CAPABILITIES = ModelCapabilities(
    name="scripted model (finds widgets by colour)",
    vision=True,
    audio=False,
    image_size=IMAGE_SIZE,
    coordinate_convention="fraction",
    context_length=32768,
)


def _find(pixels: np.ndarray, color: str) -> tuple[float, float] | None:
    """The centre of the pixels of ``color`` (±8 per channel) as fractions of the image, or None."""
    rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], np.int16)
    ys, xs = np.nonzero(np.all(np.abs(pixels.astype(np.int16) - rgb) <= 8, axis=2))
    if len(xs) < 4:
        return None
    height, width = pixels.shape[:2]
    return (float(np.median(xs)) + 0.5) / width, (float(np.median(ys)) + 0.5) / height


def _fail(why: str) -> str:
    return f"{why}\n## Action:\nfail\n## Code:\ncomputer.terminate(status='failure', answer={why!r})"


def scripted_model(colors: dict[str, str]) -> FakeModel:
    """Click the text field, type, click OK, finish — each point found in the newest screenshot."""
    turn = iter(range(100))

    def script(request: ModelRequest) -> str:
        step = next(turn)
        # Points refer to this step's overview (the newest one; changed-region crops may follow it).
        pixels = [image for image in request_images(request) if image.kind == "overview"][-1].pixels
        if step == 0:
            where = _find(pixels, colors["text_field"])
            if where is None:
                return _fail("I cannot see a text field.")
            return (
                "The window 'Omnidesk Target' shows a yellow text field under the OK and Cancel buttons. "
                "I click into it first so that the typing goes there.\n## Action:\nclick the yellow text field\n"
                f"## Code:\npyautogui.click(x={where[0]:.4f}, y={where[1]:.4f})"
            )
        if step == 1:
            return (
                "The text field has the keyboard focus now (the cursor is in it). I type the text.\n"
                f"## Action:\ntype the text\n## Code:\npyautogui.write(message={TEXT!r})"
            )
        if step == 2:
            where = _find(pixels, colors["ok_button"])
            if where is None:
                return _fail("I cannot see the OK button.")
            return (
                "The text is in the field. The green OK button is at the top left of the window; I press it.\n"
                f"## Action:\nclick OK\n## Code:\npyautogui.click(x={where[0]:.4f}, y={where[1]:.4f})"
            )
        return (
            "The text was typed and OK was pressed; the task is complete.\n## Action:\ndone\n"
            "## Code:\ncomputer.terminate(status='success', answer='typed the text and pressed OK')"
        )

    return FakeModel(script, capabilities=CAPABILITIES)


def run(workdir: Path, output: Path) -> None:
    xvfb = start_xvfb(workdir)
    os.environ["DISPLAY"] = xvfb.display
    os.environ["XDG_SESSION_TYPE"] = "x11"
    os.environ.pop("WAYLAND_DISPLAY", None)
    wm = None
    app: TargetApp | None = None
    try:
        subprocess.run(["xsetroot", "-solid", "#2f4f6f"], check=False)
        wm = start_openbox(xvfb.display, workdir)
        app = launch_target(workdir / "target-app", x=460, y=170, width=1000, height=700, env=dict(os.environ))
        model = scripted_model(app.ready["colors"])
        folder = workdir / "bundle"
        meta = {"model": CAPABILITIES.name, "desktop": "Xvfb 1920x1080 + openbox", "target": "rig's Qt target app"}
        with (
            build_agent_session(Settings(), model=model, confirmer=ScriptedConfirmer(), monitor=1) as session,
            TrajectoryWriter(folder, TASK, encoder=CvPngEncoder(compression=6), meta=meta) as writer,
        ):
            steps = list(writer.consume(session.agent.run(TASK, CancelToken())))
        statuses = [s.status for s in steps]
        if statuses != ["acted", "acted", "acted", "finished"]:
            raise SystemExit(f"the run did not go as scripted: {[(s.status, s.error) for s in steps]}")
        app.wait_for({"type": "text", "widget": "text_field", "text": TEXT}, timeout=10)
        app.wait_for({"type": "clicked", "widget": "ok_button"}, timeout=10)
        omnidesk = Path(sys.executable).with_name("omnidesk")
        subprocess.run([str(omnidesk), "report", str(folder), "-o", str(output)], check=True)
        log.info("wrote %s (%.0f kB) from %s", output, output.stat().st_size / 1024, folder)
    finally:
        if app is not None:
            app.close()
        if wm is not None:
            wm.stop()
        xvfb.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).with_name("report.html"))
    parser.add_argument("--keep", type=Path, help="keep the X logs and the bundle in this folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        run(args.keep, args.output)
        return
    with tempfile.TemporaryDirectory(prefix="omnidesk-report-") as tmp:
        run(Path(tmp), args.output)


if __name__ == "__main__":
    main()
