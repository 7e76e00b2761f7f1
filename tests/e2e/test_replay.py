"""``omnidesk replay``: a recorded run done again after the window moved — the target is found again in
the pixels, and the target app's own report proves the click landed on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnidesk.agent.ports import CancelToken
from omnidesk.agent.trajectory import TrajectoryWriter, load_bundle
from omnidesk.app.compose import build_agent_session
from omnidesk.app.gui.automation_store import Automation, AutomationStore
from omnidesk.app.settings import Settings
from omnidesk.runtime.png import CvPngEncoder
from tests.app.cli_helpers import isolated_env, run_cli
from tests.e2e.test_agent_on_desktop import clicking_model
from tests.fakes import ScriptedConfirmer
from tests.rig.plugin import Launcher


def record_click_on_ok(app_color: str, folder: Path) -> None:
    session = build_agent_session(Settings(), model=clicking_model(app_color), confirmer=ScriptedConfirmer())
    with session, TrajectoryWriter(folder, "press OK", encoder=CvPngEncoder()) as writer:
        steps = list(writer.consume(session.agent.run("press OK", CancelToken())))
    assert [s.status for s in steps] == ["acted", "finished"]


@pytest.mark.desktop
@pytest.mark.slow
def test_replay_finds_the_moved_button(target_app: Launcher, tmp_path: Path) -> None:
    app = target_app(x=150, y=120, width=700, height=500)
    bundle = tmp_path / "bundle"
    record_click_on_ok(app.ready["colors"]["ok_button"], bundle)
    app.wait_for({"type": "clicked", "widget": "ok_button"}, timeout=15)
    assert load_bundle(bundle).steps[0]["patches"][0]["file"] == "step-0000-p0.png"

    app.move(900, 430)
    app.clear()
    result = run_cli(["replay", str(bundle), "--json"], isolated_env(tmp_path))
    assert result.returncode == 0, result.stderr
    press = app.wait_for({"type": "mouse_press"}, timeout=15)
    assert press["widget"] == "ok_button" and press["x"] > 900
    app.wait_for({"type": "clicked", "widget": "ok_button"}, timeout=15)


@pytest.mark.desktop
def test_replay_refuses_when_the_target_is_gone(target_app: Launcher, tmp_path: Path) -> None:
    app = target_app(x=150, y=120, width=700, height=500)
    bundle = tmp_path / "bundle"
    record_click_on_ok(app.ready["colors"]["ok_button"], bundle)
    app.close()
    env = isolated_env(tmp_path)
    result = run_cli(["replay", str(bundle)], env)
    assert result.returncode == 1 and "not on the screen" in result.stderr
    # saved with a description, but no model to hand over to, or the hand-over switched off: the same error
    store = AutomationStore(tmp_path / "data" / "automations")
    store.save(Automation(name="ok", task="press OK", kind="replay", bundle=str(bundle), description="Press OK."))
    for args in (["replay", "ok"], ["replay", "ok", "--no-fallback", "--remote", "http://127.0.0.1:9"]):
        result = run_cli(args, env)
        assert result.returncode == 1 and "not on the screen" in result.stderr, result.stderr
        assert "the model carries on" not in result.stderr
