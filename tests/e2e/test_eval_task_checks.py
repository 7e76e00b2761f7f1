"""Every evaluation task's checks, proven on the rig with the real application: set up as the task runner
sets it up (a private home folder, the application started there and waited for on the accessibility bus),
then undone fails, done nearly (a wrong value, seen to have landed) fails, and done by hand through xdotool
passes — read from the world, the saved file or the accessibility tree.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from omnidesk.agent.eval_catalog import TASKS, task_by_id
from omnidesk.agent.eval_tasks import Check, TaskWorld, evaluate, judge
from omnidesk.app.evaluation.tasks import TaskWorldOnDisk
from omnidesk.runtime.accessibility import AtspiAccessibility
from omnidesk.runtime.desktop_apps import DesktopApps
from tests.e2e.eval_hand import HAND, Hands, focus_window
from tests.rig import wait_until
from tests.rig.a11y import A11yBus
from tests.rig.xserver import WindowManager, XServer

pytestmark = [pytest.mark.desktop]


def _wait_for(world: TaskWorld, checks: Sequence[Check], what: str) -> None:
    """Until every check passes (the application saves and redraws in its own time); says what it read."""

    def passes() -> bool:
        try:
            return all(check.check(world).passed for check in checks)
        except (OSError, UnicodeDecodeError):
            return False

    try:
        wait_until(passes, 20, what, 0.2)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}: {[check.check(world).detail for check in checks]}") from None


@pytest.fixture
def apps(a11y_bus: A11yBus, x_display: XServer, accessibility: AtspiAccessibility) -> DesktopApps:
    environ = {**a11y_bus.app_env(x_display.display), "PATH": os.environ["PATH"]}
    return DesktopApps(environ, accessibility)


def test_every_task_is_done_by_hand_here() -> None:
    assert sorted(HAND) == sorted(task.id for task in TASKS)


@pytest.mark.parametrize("task_id", [task.id for task in TASKS])
def test_undone_and_nearly_done_fail_done_passes(
    task_id: str,
    apps: DesktopApps,
    a11y_bus: A11yBus,
    x_display: XServer,
    module_window_manager: WindowManager,
    tmp_path: Path,
) -> None:
    spec, hand = task_by_id(task_id), HAND[task_id]
    home = tmp_path / "home"
    home.mkdir()
    for task_file in spec.files:
        (home / task_file.path).write_text(task_file.content, encoding="utf-8")
    qt5 = apps.application(spec.app).toolkit == "qt5"
    # Qt 5 joins reliably only through the address on the root window, as a desktop publishes it
    published = a11y_bus.published(x_display.display) if qt5 else contextlib.nullcontext()
    with published:
        launched = apps.launch(spec.app, list(spec.argv(str(home))), home)
    try:
        world = TaskWorldOnDisk(home, launched)
        hands = Hands(x_display.display, world)
        focus_window(hands, launched.process.pid, hand.window)

        undone = evaluate(spec, world)
        assert judge(undone, ())[0] == "failed", undone

        hand.nearly(hands)
        _wait_for(world, hand.nearly_seen, f"{task_id}: the nearly-done value")
        nearly = evaluate(spec, world)
        assert judge(nearly, ())[0] == "failed", nearly

        hand.done(hands)
        _wait_for(world, spec.checks, f"{task_id}: the checks to pass")
        assert judge(evaluate(spec, world), ()) == ("passed", "every check passed")
    finally:
        launched.close()
