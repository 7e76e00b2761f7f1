"""Make the grounding set on the rig: real applications on a private X server and accessibility bus, a
screenshot of the monitor each shows on, and for each target element (a name and a role a person would
click) its box from the accessibility tree — kept only when an XTest click at the box's centre is seen to
reach that element (the focus moves to it, or one of its states changes). Deterministic from a seed.

    python -m tests.evaluation.make_grounding_set --out grounding-set            # the full set
    python -m tests.evaluation.make_grounding_set --out small --preset ci         # the CI subset

Sessions (desktops): 1920×1080 and 3840×2160 at scale 1.0 / 1.5 / 2.0, and two 1920×1080 monitors at
1.0. A real HiDPI setting: ``Xft.dpi`` (144, 192) on the X server, which Qt 6 follows on its own; Qt 5
with ``QT_ENABLE_HIGHDPI_SCALING=1`` and the PassThrough rounding policy (else 1.5 becomes 2); GTK 3 with
``GDK_SCALE=2`` and ``GDK_DPI_SCALE=0.5`` at 2.0 — and at 1.5 nothing but its text, because GTK 3 on X11
scales by integers only (the set's notes say so, and those shots are labelled ``1.5 text``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import mss
import numpy as np

from omnidesk.agent.evaluation.grounding import GroundingCase, GroundingSet, Shot, instruction_for
from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import AccessibleElement, AccessibleTree, FocusedElement
from omnidesk.runtime.accessibility import AtspiAccessibility
from omnidesk.runtime.windows import X11WindowInspector
from tests.rig.a11y import A11yBus, start_a11y_bus
from tests.rig.apps import APPS, RunningApp, activate_window, launch_app
from tests.rig.target_client import TargetApp, launch_target
from tests.rig.xserver import Monitor, start_openbox, start_xorg_dummy, start_xvfb

log = logging.getLogger(__name__)

# Roles a person would click; a label is text, not a control.
TARGET_ROLES = frozenset(
    {
        "push_button",
        "toggle_button",
        "check_box",
        "radio_button",
        "menu",
        "menu_item",
        "page_tab",
        "text",
        "entry",
        "password_text",
        "spin_button",
        "combo_box",
        "list_item",
        "table_cell",
        "tree_item",
        "link",
        "slider",
    }
)
# Window controls close or resize the window (client-side decorations put them in the tree).
_WINDOW_CONTROLS = frozenset({"Close", "Maximize", "Minimize", "Restore", "Quit"})
_EVIDENCE_STATES = frozenset({"focused", "selected", "checked", "pressed", "expanded", "armed"})
GTK_NOTE = (
    "GTK 3 on X11 scales by integers only: at 1.5 its applications keep 1.0 widgets and scale their text "
    "alone (Xft.dpi 144); those shots are labelled scale '1.5 text'."
)


@dataclass(frozen=True)
class Session:
    """One desktop: monitor sizes (laid out left to right), the scale, and which apps show on which monitor."""

    monitors: tuple[tuple[int, int], ...]
    scale: float
    apps: tuple[str, ...]

    @property
    def label(self) -> str:
        w, h = self.monitors[0]
        return f"{len(self.monitors)}x{w}x{h}@{self.scale}"


FULL_APPS = ("galculator", "gtk3-demo", "mousepad", "featherpad", "target")
PRESETS: dict[str, tuple[Session, ...]] = {
    "full": (
        *(Session(((1920, 1080),), s, FULL_APPS) for s in (1.0, 1.5, 2.0)),
        *(Session(((3840, 2160),), s, FULL_APPS) for s in (1.0, 1.5, 2.0)),
        Session(((1920, 1080), (1920, 1080)), 1.0, FULL_APPS),
    ),
    "ci": (
        Session(((1920, 1080),), 1.0, ("galculator", "target")),
        Session(((1920, 1080), (1920, 1080)), 1.0, ("galculator", "target")),
    ),
}


@dataclass
class Desk:
    display: str
    monitors: list[Rect]
    bus: A11yBus
    port: AtspiAccessibility
    windows: X11WindowInspector
    workdir: Path


@dataclass
class Tally:
    shots: list[Shot] = field(default_factory=list)
    cases: list[GroundingCase] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    notes: set[str] = field(default_factory=set)

    def drop(self, why: str, n: int = 1) -> None:
        self.dropped[why] = self.dropped.get(why, 0) + n


def _run(display: str, *args: str, stdin: str | None = None) -> None:
    env = {"DISPLAY": display, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    subprocess.run(list(args), env=env, input=stdin, text=True, check=True, timeout=20, capture_output=True)


@contextlib.contextmanager
def desktop(session: Session, workdir: Path) -> Iterator[Desk]:
    """X server(s), openbox, Xft.dpi, the accessibility bus and the port; all stopped afterwards."""
    stack = contextlib.ExitStack()
    with stack:
        if len(session.monitors) == 1:
            ((w, h),) = session.monitors
            server = start_xvfb(workdir, w, h)
            stack.callback(server.stop)
            display, monitors = server.display, [Rect(0, 0, w, h)]
        else:
            dummy = start_xorg_dummy(workdir)
            stack.callback(dummy.stop)
            layout, x = [], 0
            for i, (w, h) in enumerate(session.monitors):
                layout.append(Monitor(f"DUMMY{i}", x, 0, w, h))
                x += w
            dummy.set_layout(layout)
            display, monitors = dummy.display, [Rect(m.x, m.y, m.width, m.height) for m in layout]
        wm = start_openbox(display, workdir)
        stack.callback(wm.stop)
        _run(display, "xrdb", "-merge", stdin=f"Xft.dpi: {round(96 * session.scale)}\n")
        bus = start_a11y_bus(workdir / "a11y")
        stack.callback(bus.stop)
        windows = X11WindowInspector(display)
        stack.callback(windows.close)
        port = AtspiAccessibility(bus.env(display), windows=windows, monitors=lambda: list(monitors))
        stack.callback(port.close)
        yield Desk(display, monitors, bus, port, windows, workdir)


def _app_env(toolkit: str, scale: float) -> tuple[dict[str, str], str]:
    """The toolkit's own scale settings for a desktop at ``scale`` (on top of Xft.dpi), and the label."""
    if scale == 1.0:
        return {}, "1.0"
    if toolkit == "gtk3":
        if scale != int(scale):
            return {}, f"{scale} text"
        return {"GDK_SCALE": str(int(scale)), "GDK_DPI_SCALE": str(1 / scale)}, str(scale)
    if toolkit == "qt5":
        return {"QT_ENABLE_HIGHDPI_SCALING": "1", "QT_SCALE_FACTOR_ROUNDING_POLICY": "PassThrough"}, str(scale)
    return {}, str(scale)  # Qt 6 follows Xft.dpi by itself


@dataclass
class Launched:
    pid: int
    close: object
    key: str
    toolkit: str


def _launch(desk: Desk, key: str, scale: float, origin: tuple[int, int]) -> tuple[Launched, str]:
    if key == "target":
        env = {**os.environ, **desk.bus.app_env(desk.display)}
        env.pop("QT_SCALE_FACTOR", None)
        target: TargetApp = launch_target(desk.workdir, x=origin[0] + 60, y=origin[1] + 60, env=env)
        return Launched(target.process.pid, target.close, key, "qt6"), _app_env("qt6", scale)[1]
    spec = APPS[key]
    extra, label = _app_env(spec.toolkit, scale)
    app: RunningApp = launch_app(
        spec, bus=desk.bus, accessibility=desk.port, display=desk.display, workdir=desk.workdir, env=extra
    )
    return Launched(app.process.pid, app.close, key, spec.toolkit), label


def _tree(desk: Desk, pid: int) -> AccessibleTree:
    def found() -> AccessibleTree | None:
        app = next((a for a in desk.port.applications() if a.pid == pid), None)
        if app is None:
            return None
        tree = desk.port.tree(app, showing_only=True)
        return tree if any(w.box is not None for w in tree.windows) else None

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        tree = found()
        if tree is not None:
            return tree
        time.sleep(0.1)
    raise RuntimeError(f"process {pid} shows no window on the accessibility bus")


def _candidates(tree: AccessibleTree, monitor: Rect) -> tuple[list[AccessibleElement], int, int, int]:
    """Enabled targets that show (inside every ancestor's box and the monitor), named once in the
    application: (candidates, clipped, ambiguous, disabled)."""
    found: list[AccessibleElement] = []
    clipped = disabled = 0

    def visit(element: AccessibleElement, clip: Rect) -> None:
        nonlocal clipped, disabled
        box = element.box
        if box is None:
            return
        inside = clip.intersect(box)
        named = instruction_for(element.role, element.name) is not None and element.name not in _WINDOW_CONTROLS
        if element.role in TARGET_ROLES and named and "enabled" not in element.states:
            disabled += 1
        elif element.role in TARGET_ROLES and named:
            # What shows of it (a cell under a scroll pane's edge): kept when most of it shows.
            if inside is not None and inside.area * 4 >= box.area * 3 and inside.width >= 3 and inside.height >= 3:
                found.append(replace(element, box=inside))
            else:
                clipped += 1
        for child in element.children:
            visit(child, inside or Rect(box.x, box.y, 0, 0))

    for window in tree.windows:
        visit(window, monitor)
    names: dict[tuple[str, str], int] = {}
    for e in found:
        names[(e.role, e.name)] = names.get((e.role, e.name), 0) + 1
    unique = [e for e in found if names[(e.role, e.name)] == 1]
    return unique, clipped, len(found) - len(unique), disabled


def _signature(tree: AccessibleTree) -> frozenset[tuple[str, str, Rect | None]]:
    return frozenset((e.role, e.name, e.box) for e in tree.walk() if e.role in TARGET_ROLES)


def _find(tree: AccessibleTree, target: AccessibleElement) -> AccessibleElement | None:
    return next((e for e in tree.walk() if (e.role, e.name) == (target.role, target.name)), None)


def _reached(desk: Desk, pid: int, target: AccessibleElement, timeout: float = 3.0) -> bool:
    """Whether the click reached ``target``: the focus is on it, or one of its states changed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        focus = desk.port.focus()
        if isinstance(focus, FocusedElement) and focus.app.pid == pid:
            e = focus.element
            if (e.role, e.name) == (target.role, target.name):
                return True
        now = _find(_tree(desk, pid), target)
        if now is not None and (now.states ^ target.states) & _EVIDENCE_STATES:
            return True
        time.sleep(0.15)
    return False


def _click(desk: Desk, box: Rect) -> None:
    x, y = box.x + box.width // 2, box.y + box.height // 2
    _run(desk.display, "xdotool", "mousemove", "--sync", str(x), str(y))
    time.sleep(0.1)  # GTK 3 misses a click that follows the move at once (a known xdotool race)
    _run(desk.display, "xdotool", "click", "1")


def _restore(desk: Desk, pid: int, pristine: frozenset[tuple[str, str, Rect | None]]) -> bool:
    for _ in range(3):
        _run(desk.display, "xdotool", "key", "Escape")
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if _signature(_tree(desk, pid)) == pristine:
                return True
            time.sleep(0.15)
    return False


def _shoot(display: str, index: int, path: Path) -> None:
    with mss.MSS(display=display) as grabber:
        grab = grabber.grab(grabber.monitors[index])
        pixels = np.asarray(grab, dtype=np.uint8)[:, :, :3]
    cv2.imwrite(str(path), pixels)


def _monitor_index(desk: Desk, rect: Rect) -> int:
    """mss's index of the monitor ``rect`` is on (1..n, in mss's order)."""
    with mss.MSS(display=desk.display) as grabber:
        for i, m in enumerate(grabber.monitors[1:], 1):
            if Rect(m["left"], m["top"], m["width"], m["height"]) == rect:
                return i
    raise RuntimeError(f"no mss monitor {rect}")


def _open(desk: Desk, session: Session, key: str, monitor: Rect) -> tuple[Launched, str, AccessibleTree]:
    """Start ``key``, put its window on ``monitor`` and raise it; its tree once it has settled."""
    launched, scale_label = _launch(desk, key, session.scale, (monitor.x, monitor.y))
    try:
        tree = _tree(desk, launched.pid)
        window = tree.windows[0]
        wid = activate_window(desk.display, launched.pid, window.name)
        if window.box is not None and not (monitor.contains(window.box.x + 1, window.box.y + 1)):
            _run(desk.display, "xdotool", "windowmove", "--sync", str(wid), str(monitor.x + 40), str(monitor.y + 40))
            activate_window(desk.display, launched.pid, window.name)
        time.sleep(0.5)  # let the window manager finish placing and the toolkit repaint
        return launched, scale_label, _tree(desk, launched.pid)
    except BaseException:
        launched.close()  # type: ignore[operator]
        raise


def collect_app(
    desk: Desk, session: Session, key: str, monitor: Rect, rng: random.Random, limit: int, out: Path, tally: Tally
) -> None:
    launched, scale_label, tree = _open(desk, session, key, monitor)
    relaunches = 0
    try:
        if "text" in scale_label:
            tally.notes.add(GTK_NOTE)
        shot_id = f"{session.label}-{key}".replace("@", "-s")
        index = _monitor_index(desk, monitor)
        (out / "shots").mkdir(parents=True, exist_ok=True)
        file = f"shots/{shot_id}.png"
        pristine = _signature(tree)
        _shoot(desk.display, index, out / file)
        candidates, clipped, ambiguous, disabled = _candidates(tree, monitor)
        tally.drop("disabled (a click cannot show it was reached)", disabled)
        tally.drop("clipped or off the monitor", clipped)
        tally.drop("ambiguous name", ambiguous)
        rng.shuffle(candidates)
        if len(candidates) > limit:
            tally.drop("over the per-application limit", len(candidates) - limit)
            candidates = candidates[:limit]
        kept = 0
        for n, element in enumerate(candidates):
            assert element.box is not None
            _click(desk, element.box)
            reached = _reached(desk, launched.pid, element)
            restored = _restore(desk, launched.pid, pristine)
            if reached:
                instruction = instruction_for(element.role, element.name)
                assert instruction is not None
                box = element.box
                tally.cases.append(
                    GroundingCase(
                        id=f"{shot_id}-{len(tally.cases):04d}",
                        shot=shot_id,
                        app=key,
                        toolkit=launched.toolkit,
                        role=element.role,
                        name=element.name,
                        instruction=instruction,
                        box=(box.x, box.y, box.width, box.height),
                    )
                )
                kept += 1
            else:
                tally.drop("a click at the centre did not reach it")
            if not restored:
                # A click changed the application for good (a tool bar shown, a page switched): start it
                # again, and go on only if it comes back exactly as it was screenshotted.
                launched.close()  # type: ignore[operator]
                relaunches += 1
                launched, _, again = _open(desk, session, key, monitor)
                if relaunches > 4 or _signature(again) != pristine:
                    tally.drop("the application changed under a click", len(candidates) - n - 1)
                    break
        tally.shots.append(
            Shot(
                id=shot_id,
                file=file,
                index=index,
                monitor=(monitor.x, monitor.y, monitor.width, monitor.height),
                resolution=f"{monitor.width}x{monitor.height}",
                scale=scale_label,
                monitors=len(session.monitors),
            )
        )
        log.info("%s: %d of %d candidates kept", shot_id, kept, len(candidates))
    finally:
        launched.close()  # type: ignore[operator]


def make_set(
    out: Path, sessions: Sequence[Session], *, seed: int, limit: int, workdir: Path, name: str
) -> GroundingSet:
    """Generate the set into ``out`` (``set.json`` and ``shots/``); see the module doc."""
    rng = random.Random(seed)
    tally = Tally()
    out.mkdir(parents=True, exist_ok=True)
    for s_index, session in enumerate(sessions):
        work = workdir / f"session-{s_index}"
        work.mkdir(parents=True, exist_ok=True)
        with desktop(session, work) as desk:
            for a_index, key in enumerate(session.apps):
                monitor = desk.monitors[(a_index + 1) % len(desk.monitors)]
                try:
                    collect_app(desk, session, key, monitor, rng, limit, out, tally)
                except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
                    log.warning("%s on %s left out: %s", key, session.label, exc)
                    tally.drop(f"{key} could not be started or read")
    shots_used = {c.shot for c in tally.cases}
    grounding_set = GroundingSet(
        name=name,
        seed=seed,
        shots=tuple(s for s in tally.shots if s.id in shots_used),
        cases=tuple(tally.cases),
        dropped={k: v for k, v in sorted(tally.dropped.items()) if v},
        notes=tuple(sorted(tally.notes)),
    )
    (out / "set.json").write_text(grounding_set.to_json(), encoding="utf-8")
    return grounding_set


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="full")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=25, help="most items per application and desktop")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import tempfile

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="grounding-rig-") as work:
        made = make_set(
            args.out,
            PRESETS[args.preset],
            seed=args.seed,
            limit=args.limit,
            workdir=Path(work),
            name=f"rig-{args.preset}-seed{args.seed}",
        )
    print(
        f"{len(made.cases)} items on {len(made.shots)} screenshots in {time.monotonic() - started:.0f} s; "
        f"dropped {made.dropped}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
