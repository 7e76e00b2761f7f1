"""The accessibility adapter's costs on the rig, against baselines measured in the same run.

    .venv/bin/python bench/bench_accessibility.py [--rounds 15] [--app galculator]

Starts Xvfb, openbox, a private accessibility bus, the Qt 6 target app and one real application, then:
- focus read: ``AtspiAccessibility.focus()`` with the watcher's event at hand (what the safety check pays
  before typing), as a ratio to one bare ``GetState`` round trip to the same application — the least any
  "is this still focused?" answer costs;
- tree dump: ``tree(app, showing_only=True)`` (one pipelined batch per level), as a ratio to walking the
  same elements with the same calls one at a time.
Rounds alternate the order of the measured and the baseline call; medians and spread are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omnidesk.agent.ports import FocusedElement
from omnidesk.runtime.accessibility import AtspiAccessibility
from omnidesk.runtime.atspi import ACCESSIBLE, ROOT_PATH, AtspiLink, as_refs, find_bus_address
from omnidesk.runtime.atspi_tree import Ref
from omnidesk.runtime.windows import X11WindowInspector
from tests.rig.a11y import start_a11y_bus
from tests.rig.apps import activate_window, launch_app
from tests.rig.target_client import launch_target
from tests.rig.xserver import start_openbox, start_xvfb


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _compare(name: str, measured: Callable[[], object], baseline: Callable[[], object], rounds: int) -> None:
    ours, base = [], []
    for index in range(rounds):
        pair = [(ours, measured), (base, baseline)]
        for into, call in pair if index % 2 == 0 else reversed(pair):
            into.append(_timed(call))
    m, b = statistics.median(ours), statistics.median(base)
    spread = f"{min(ours) * 1000:.1f}–{max(ours) * 1000:.1f}"
    print(f"{name}: median {m * 1000:.1f} ms (range {spread} ms over {rounds} rounds)")
    print(f"  baseline median {b * 1000:.2f} ms; ratio {m / b:.2f}x")


def _serial_walk(link: AtspiLink, bus: str) -> int:
    """The same calls as the adapter's walk, one round trip at a time (showing elements only)."""
    count, level = 0, [(bus, ROOT_PATH)]
    while level:
        following: list[Ref] = []
        for ref in level:
            deadline = time.monotonic() + 5
            for method in ("GetRole", "GetState", "GetChildren"):
                reply = link.call((*ref, ACCESSIBLE, method, None, ()), deadline)
            for prop in ("Name", "AccessibleId"):
                link.call((*ref, "org.freedesktop.DBus.Properties", "Get", "ss", (ACCESSIBLE, prop)), deadline)
            link.call_many([(*ref, "org.a11y.atspi.Component", "GetExtents", "u", (0,))], deadline)
            following += as_refs(reply[0])
            count += 1
        level = following
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--app", default="galculator", help="a real application from tests/rig/apps.py")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        xvfb = start_xvfb(work)
        wm = start_openbox(xvfb.display, work)
        bus = start_a11y_bus(work)
        windows = X11WindowInspector(xvfb.display)
        port = AtspiAccessibility(bus.env(xvfb.display), windows=windows)
        env = {**os.environ, **bus.app_env(xvfb.display)}
        target = launch_target(work, env=env)
        real = launch_app(args.app, bus=bus, accessibility=port, display=xvfb.display, workdir=work)
        link = AtspiLink(find_bus_address(bus.env(xvfb.display), 2.0), timeout=2.0)
        try:
            activate_window(xvfb.display, target.ready["pid"], target.ready["title"])
            focus = port.focus()
            assert isinstance(focus, FocusedElement), focus
            root = (focus.app.handle, ROOT_PATH)
            _compare(
                "focus read (watcher event at hand)",
                port.focus,
                lambda: link.call((*root, ACCESSIBLE, "GetState", None, ()), time.monotonic() + 2),
                args.rounds * 4,
            )
            for app in (a for a in port.applications() if a.pid in (target.ready["pid"], real.app.pid)):
                tree = port.tree(app, showing_only=True)
                _compare(
                    f"tree dump of {app.name} ({tree.size} elements, showing only)",
                    lambda app=app: port.tree(app, showing_only=True),
                    lambda app=app: _serial_walk(link, app.handle),
                    args.rounds,
                )
        finally:
            link.close()
            real.close()
            target.close()
            port.close()
            windows.close()
            bus.stop()
            wm.stop()
            xvfb.stop()


if __name__ == "__main__":
    main()
