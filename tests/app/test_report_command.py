"""``omnidesk report``: a self-contained HTML page of a bundle, model output escaped."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

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


def _rewrite_first_step(bundle: Path, **fields: object) -> None:
    lines = (bundle / "steps.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first.update(fields)
    (bundle / "steps.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")


def test_report_replaces_a_planted_link_instead_of_writing_through_it(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    make_bundle(bundle)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (bundle / "report.html").symlink_to(victim)
    result = run_cli(["report", str(bundle)], isolated_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "keep me"
    written = bundle / "report.html"
    assert not written.is_symlink() and '<section class="step"' in written.read_text()
    assert stat.S_IMODE(written.stat().st_mode) == 0o600  # it shows the screen: private like the bundle


@pytest.mark.parametrize("how", ["climbs out", "absolute", "link inside", "patch climbs out"])
def test_report_refuses_a_file_outside_the_bundle(tmp_path: Path, how: str) -> None:
    bundle = tmp_path / "bundle"
    make_bundle(bundle)
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n" + b"SECRET-BYTES" * 8)
    if how == "link inside":
        (bundle / "inner.png").symlink_to(secret)
    name = {"climbs out": "../secret.png", "absolute": str(secret), "link inside": "inner.png"}.get(how)
    if name is not None:
        _rewrite_first_step(bundle, png=name)
    else:
        _rewrite_first_step(bundle, patches=[{"file": "../secret.png", "anchor": [1, 1], "image_size": [512, 512]}])
    out = tmp_path / "r.html"
    result = run_cli(["report", str(bundle), "-o", str(out)], isolated_env(tmp_path))
    assert result.returncode == 1, result.stdout
    assert "outside" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()
