"""The whole task suite with both control models, on a private rig, from the command line:

    python -m tests.evaluation.run_task_controls [OUT_DIR] [--example DIR]

Starts Xvfb, openbox and an accessibility bus, runs ``omnidesk eval tasks`` on all tasks with the oracle
and then the idle model (``tests/evaluation/task_controls.py``) behind the strict scripted Nemotron server,
and prints each run's rate, its counts and its wall time; the reports stay in OUT_DIR. ``--example DIR``
also copies the oracle's report there with each task's last screenshot scaled down (docs/examples/eval-tasks).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from omnidesk.runtime.accessibility import AtspiAccessibility
from omnidesk.runtime.windows import X11WindowInspector
from tests.app.cli_helpers import isolated_env, run_cli
from tests.evaluation.task_controls import idle, oracle
from tests.models.scripted_nemotron import Policy, scripted_nemotron
from tests.rig.a11y import A11yBus, start_a11y_bus
from tests.rig.xserver import start_openbox, start_xvfb


def _run(name: str, policy: Policy, bus: A11yBus, display: str, out: Path) -> None:
    began = time.monotonic()
    with scripted_nemotron(policy, [(1920, 1080)]) as server, bus.published(display):
        env = isolated_env(out / name, **bus.app_env(display))
        result = run_cli(
            ["eval", "tasks", "--remote", server.url, "--out", str(out / name / "report")], env, timeout=3600
        )
    seconds = time.monotonic() - began
    summary = json.loads((out / name / "report" / "summary.json").read_text())
    total = summary["total"]
    print(f"{name}: exit {result.returncode}, refused requests {len(server.refusals)}, "
          f"{total['passed']} passed / {total['failed']} failed / {total['errored']} errored, "
          f"rate {total['rate']}, {seconds:.0f} s for {len(summary['items'])} tasks")  # fmt: skip
    for item in summary["items"]:
        print(f"  {item['status']:<7} {item['id']:<24} {item['seconds']:6.1f} s  {item['error']}")


def _example(report: Path, dest: Path) -> None:
    """The report and summary with the screenshots they show, scaled to 480 pixels wide."""
    import shutil

    import cv2

    summary = json.loads((report / "summary.json").read_text())
    for item in summary["items"]:
        shot = (item.get("task") or {}).get("screenshot")
        if shot:
            image = cv2.imread(str(report / shot))
            target = dest / shot
            target.parent.mkdir(parents=True, exist_ok=True)
            height, width = image.shape[:2]
            small = cv2.resize(image, (480, round(height * 480 / width)), interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(target), small, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    for name in ("summary.json", "report.html"):
        shutil.copyfile(report / name, dest / name)


def main() -> None:
    args = sys.argv[1:]
    example = None
    if "--example" in args:
        at = args.index("--example")
        example = Path(args[at + 1])
        del args[at : at + 2]
    out = Path(args[0]) if args else Path(tempfile.mkdtemp(prefix="task-controls-"))
    work = Path(tempfile.mkdtemp(prefix="task-controls-rig-"))
    xvfb = start_xvfb(work)
    openbox = start_openbox(xvfb.display, work)
    bus = start_a11y_bus(work)
    windows = X11WindowInspector(xvfb.display)
    port = AtspiAccessibility(bus.env(xvfb.display), windows=windows)
    try:
        _run("oracle", oracle(port), bus, xvfb.display, out)
        if example is not None:
            _example(out / "oracle" / "report", example)
        _run("idle", idle, bus, xvfb.display, out)
    finally:
        port.close()
        windows.close()
        bus.stop()
        openbox.stop()
        xvfb.stop()
    print(f"reports in {out}")


if __name__ == "__main__":
    main()
