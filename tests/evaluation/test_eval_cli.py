"""``omnidesk eval`` through the installed console script: the task list and unknown tasks refused with it,
compare's table, unreadable summaries refused with what to do."""

from __future__ import annotations

from pathlib import Path

from omnidesk.agent.evaluation import ItemResult
from omnidesk.app.evaluation.driver import RunHeader, build_summary
from tests.app.cli_helpers import isolated_env, run_cli


def _summary(path: Path, model: str, statuses: list[str]) -> Path:
    items = [
        ItemResult(id=str(i), status=s, instruction="x", labels={"app": "galculator" if i % 2 else "mousepad"})  # type: ignore[arg-type]
        for i, s in enumerate(statuses)
    ]
    header = RunHeader("grounding", model, "nemotron", "set")
    summary = build_summary(header, items, planned=len(items), started="t", complete=True, interrupted=False)
    path.write_text(summary.to_json())
    return path


def test_tasks_are_listed_and_an_unknown_one_is_refused_with_the_list(tmp_path: Path) -> None:
    listed = run_cli(["eval", "tasks", "--list"], isolated_env(tmp_path))
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 21 and lines[0].split()[:2] == ["mousepad-replace-text", "mousepad"]
    result = run_cli(["eval", "tasks", "--task", "galculator-multiply", "--task", "nope"], isolated_env(tmp_path))
    assert result.returncode == 2 and "no task 'nope'" in result.stderr and "galculator-divide" in result.stderr


def test_compare_puts_two_runs_side_by_side(tmp_path: Path) -> None:
    a = _summary(tmp_path / "a.json", "model-a", ["pass"] * 30 + ["fail"] * 30)
    b = _summary(tmp_path / "b.json", "model-b", ["pass"] * 58 + ["fail"] * 1 + ["errored"])
    result = run_cli(["eval", "compare", str(a), str(b)], isolated_env(tmp_path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "model-a" in out and "model-b" in out
    assert "50.0 %" in out and "98.3 %" in out and "+48.3 pt *" in out and "1 errored" in out
    assert "galculator" in out and "mousepad" in out


def test_compare_refuses_what_is_not_a_summary(tmp_path: Path) -> None:
    a = _summary(tmp_path / "a.json", "m", ["pass"])
    (tmp_path / "old.json").write_text('{"schema_version": 0}')
    result = run_cli(["eval", "compare", str(a), str(tmp_path / "old.json")], isolated_env(tmp_path))
    assert result.returncode == 2 and "schema version 0" in result.stderr
    result = run_cli(["eval", "compare", str(a), str(tmp_path / "none.json")], isolated_env(tmp_path))
    assert result.returncode == 2 and "cannot be read" in result.stderr


def test_ctrl_c_in_the_terminal_leaves_a_valid_partial_report(tmp_path: Path) -> None:
    """The console script against the strict scripted Nemotron server (slow answers), SIGINT after the
    first item: exit 130, and a summary and page marked interrupted with the items done so far."""
    import signal
    import subprocess
    import threading

    from omnidesk.agent.evaluation import load_summary
    from tests.app.cli_helpers import OMNIDESK
    from tests.evaluation.synthetic import write_synthetic_set
    from tests.models.scripted_nemotron import Answer, Seen, scripted_nemotron

    grounding_set = write_synthetic_set(tmp_path / "set")
    release = threading.Event()

    def slow(seen: Seen) -> Answer:
        release.wait(0.3)
        return Answer("Somewhere.", "Click.", "pyautogui.click(x=0.5, y=0.5)")

    screens = {(s.monitor[2], s.monitor[3]) for s in grounding_set.shots}
    out = tmp_path / "out"
    with scripted_nemotron(slow, screens) as server:
        args = [str(OMNIDESK), "eval", "grounding", str(tmp_path / "set"), "--remote", server.url, "--out", str(out)]
        process = subprocess.Popen(args, env=isolated_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            from tests.rig import wait_until

            def first_item() -> bool:
                try:
                    return len(load_summary((out / "summary.json").read_text()).items) >= 1
                except (OSError, ValueError):
                    return False

            wait_until(first_item, 120, "the first item in summary.json", interval=0.05)
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 130, stderr.decode()[-2000:]
    summary = load_summary((out / "summary.json").read_text())
    assert summary.interrupted and not summary.complete and 1 <= len(summary.items) < len(grounding_set.cases)
    assert "interrupted" in (out / "report.html").read_text()
