"""``omnidesk report``: a self-contained HTML page of a bundle, model output escaped."""

from __future__ import annotations

import base64
from pathlib import Path

from omnidesk.agent.config import AgentConfig, SafetyConfig
from omnidesk.agent.loop import Agent
from omnidesk.agent.ports import CancelToken
from omnidesk.agent.trajectory import TrajectoryWriter
from omnidesk.runtime.png import CvPngEncoder
from tests.app.cli_helpers import isolated_env, run_cli
from tests.fakes import (
    FakeClock,
    FakeModel,
    FakeSampler,
    RecordingInputDevice,
    ScriptedConfirmer,
    StaticScreen,
    make_frame,
)


def make_bundle(folder: Path) -> None:
    script = [
        "I see it.\n## Action:\nclick\n## Code:\npyautogui.click(0.5, 0.5)",
        "<script>alert(1)</script> no code here",
        "ok\n## Action:\ndone\n## Code:\ncomputer.terminate(status='success', answer='42')",
    ]
    agent = Agent(
        FakeModel(script),
        FakeSampler(StaticScreen([make_frame()])),
        RecordingInputDevice(),
        ScriptedConfirmer(),
        FakeClock(),
        AgentConfig(),
        SafetyConfig(),
    )
    with TrajectoryWriter(folder, "press <OK>", encoder=CvPngEncoder()) as writer:
        for step in writer.consume(agent.run("press <OK>", CancelToken())):
            assert step


def test_report_is_one_self_contained_page(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    make_bundle(bundle)
    result = run_cli(["report", str(bundle), "-o", str(tmp_path / "r.html")], isolated_env(tmp_path))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "r.html").read_text()
    assert page.count('<section class="step"') == 3
    assert "press &lt;OK&gt;" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    start = page.index("data:image/png;base64,") + len("data:image/png;base64,")
    png = base64.b64decode(page[start : page.index('"', start)])
    assert png.startswith(b"\x89PNG")
    assert "http://" not in page and "https://" not in page
    assert "click(" in page and "model_error" in page


def test_report_of_a_missing_bundle_fails_clearly(tmp_path: Path) -> None:
    result = run_cli(["report", str(tmp_path / "nothing")], isolated_env(tmp_path))
    assert result.returncode == 1 and "not a readable trajectory bundle" in result.stderr
