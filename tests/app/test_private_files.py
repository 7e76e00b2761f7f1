"""What Omnidesk writes shows the person's screen and work: other local users cannot read any of it.

A child process with umask 0 (the widest) writes a run bundle, the settings, the log, a screen recording
and a saved automation through the real writers; every folder must come out 0700 and every file 0600.
Folders and a settings file left readable by an older version are tightened on the next start.
"""

from __future__ import annotations

import stat
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.app.cli_helpers import isolated_env, run_cli

ROOT = Path(__file__).resolve().parents[2]

_WRITE_EVERYTHING = textwrap.dedent(
    """
    import logging, sys
    from pathlib import Path
    from omnidesk.agent.config import AgentConfig, SafetyConfig
    from omnidesk.agent.loop import Agent
    from omnidesk.agent.ports import CancelToken
    from omnidesk.agent.trajectory import TrajectoryWriter
    from omnidesk.app.gui.automation_store import Automation, AutomationStore
    from omnidesk.app.logging_setup import setup_logging
    from omnidesk.app.settings import AppPaths, Settings, save_settings
    from omnidesk.runtime.png import CvPngEncoder
    from omnidesk.runtime.recording import SegmentedRecorder
    from tests.fakes import FakeClock, FakeModel, FakeSampler, RecordingInputDevice, ScriptedConfirmer
    from tests.fakes import StaticScreen, make_frame

    root = Path(sys.argv[1])
    paths = AppPaths(root / "config", root / "data", root / "run")
    setup_logging(paths.log_file)
    logging.getLogger("omnidesk").info("a line for the log file")
    save_settings(Settings(), paths)
    click = "ok\\n## Action:\\nclick\\n## Code:\\npyautogui.click(0.5, 0.5)"
    agent = Agent(FakeModel([click]), FakeSampler(StaticScreen([make_frame()])), RecordingInputDevice(),
                  ScriptedConfirmer(), FakeClock(), AgentConfig(), SafetyConfig(max_steps=1))
    with TrajectoryWriter(paths.runs_dir / "run-1", "t", encoder=CvPngEncoder()) as writer:
        list(writer.consume(agent.run("t", CancelToken())))
    recorder = SegmentedRecorder(paths.recordings_dir / "rec-1", monitor={"index": 1}, size=(320, 240),
                                 fps=10, audio=False)
    recorder.add_frame(make_frame())
    recorder.close()
    AutomationStore(paths.automations_dir).save(Automation(name="a", task="t"))
    """
)


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in sorted(root.rglob("*"))}


def test_everything_written_is_private_whatever_the_umask(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-c", _WRITE_EVERYTHING, str(tmp_path)], cwd=ROOT, check=True, timeout=120, umask=0)
    modes = _modes(tmp_path)
    wanted = {"data/runs/run-1/step-0000.png", "data/runs/run-1/steps.jsonl", "data/runs/run-1/run.json"}
    wanted |= {"config/settings.toml", "data/logs/omnidesk.log", "data/recordings/rec-1/index.json"}
    wanted |= {"data/recordings/rec-1/segment-00000.mkv", "data/automations/a.toml"}
    assert wanted <= set(modes)
    wider = {
        name: oct(mode) for name, mode in modes.items() if mode != (0o700 if (tmp_path / name).is_dir() else 0o600)
    }
    assert wider == {}


def test_places_an_older_version_left_readable_are_tightened(tmp_path: Path) -> None:
    config, data = tmp_path / "config", tmp_path / "data"
    (data / "runs" / "old-run").mkdir(parents=True, mode=0o755)
    config.mkdir(mode=0o755)
    (config / "settings.toml").write_text("schema_version = 1\n")
    for path, mode in ((config, 0o755), (data, 0o755), (config / "settings.toml", 0o644)):
        path.chmod(mode)
    result = run_cli(["config", "show"], isolated_env(tmp_path))
    assert result.returncode == 0, result.stderr
    modes = _modes(tmp_path)
    assert (modes["config"], modes["data"], modes["config/settings.toml"]) == (0o700, 0o700, 0o600)
