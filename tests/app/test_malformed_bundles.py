"""A malformed bundle is a clear one-line error from ``omnidesk report`` and ``omnidesk replay``, never a
traceback (issue 14, finding 13). The bundle is a real one with one field of one step line broken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app.cli_helpers import isolated_env, run_cli
from tests.app.test_report_command import make_bundle

BROKEN = {
    "timings as text": {"timings": "slow"},
    "index as a list": {"index": [0]},
    "an unknown action": {"action": {"kind": "format_disk"}},
    "a patch without its anchor": {"patches": [{"file": "step-0000-p0.png", "image_size": [512, 512]}]},
    "a huge patch scale": {"patches": [{"file": "step-0000-p0.png", "anchor": [1, 1], "image_size": [10**9, 1]}]},
    "a monitor geometry of text": {"observation": {"monitor": {"geometry": ["a", "b", "c", "d"]}}},
    "image sizes missing": {"observation": {"images": [{}]}},
    "no status": {"status": None},
}


@pytest.mark.parametrize("command", ["report", "replay"])
@pytest.mark.parametrize("broken", list(BROKEN), ids=list(BROKEN))
def test_a_malformed_bundle_is_one_clear_line(tmp_path: Path, command: str, broken: str) -> None:
    bundle = tmp_path / "bundle"
    make_bundle(bundle)
    lines = (bundle / "steps.jsonl").read_text().splitlines()
    first = {**json.loads(lines[0]), **BROKEN[broken]}
    (bundle / "steps.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    args = ["report", str(bundle), "-o", str(tmp_path / "r.html")] if command == "report" else ["replay", str(bundle)]
    result = run_cli(args, isolated_env(tmp_path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    message = result.stderr.strip().splitlines()
    assert len(message) == 1 and "steps.jsonl line 1" in message[0], result.stderr
