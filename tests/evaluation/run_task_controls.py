"""The whole task suite with both control models, on a private rig, from the command line:

    python -m tests.evaluation.run_task_controls [OUT_DIR]

Starts Xvfb, openbox and an accessibility bus, runs ``omnidesk eval tasks`` on all tasks with the oracle
and then the idle model (``tests/evaluation/task_controls.py``) behind the strict scripted Nemotron server,
and prints each run's rate, its counts and its wall time; the reports stay in OUT_DIR.
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


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="task-controls-"))
    work = Path(tempfile.mkdtemp(prefix="task-controls-rig-"))
    xvfb = start_xvfb(work)
    openbox = start_openbox(xvfb.display, work)
    bus = start_a11y_bus(work)
    windows = X11WindowInspector(xvfb.display)
    port = AtspiAccessibility(bus.env(xvfb.display), windows=windows)
    try:
        _run("oracle", oracle(port), bus, xvfb.display, out)
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
