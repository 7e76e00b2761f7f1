"""The shared evaluation loop with the grounding runner on a drawn set and a scripted model in Nemotron's
format: the report after every item, errored items apart, Ctrl-C leaving a valid partial report, the
HTML page escaping what applications and models say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnidesk.agent.config import AgentConfig
from omnidesk.agent.errors import RemoteEngineError
from omnidesk.agent.evaluation import load_summary
from omnidesk.agent.evaluation.grounding import GroundingSet, load_grounding_set
from omnidesk.agent.formats import get_format, resolve_settings
from omnidesk.agent.ports import CancelToken, ModelRequest
from omnidesk.app.compose import build_shot_files
from omnidesk.app.evaluation.driver import run_evaluation
from omnidesk.app.evaluation.grounding import GroundingRunner
from tests.evaluation.synthetic import write_synthetic_set
from tests.fakes import FakeModel, request_images


def _runner(tmp_path: Path, model: FakeModel, grounding_set: GroundingSet | None = None) -> GroundingRunner:
    set_dir = tmp_path / "set"
    grounding_set = grounding_set or write_synthetic_set(set_dir)
    fmt = get_format("nemotron")
    settings = resolve_settings(fmt, AgentConfig(), slow_decoding=True)
    ticks = iter(range(10_000))
    return GroundingRunner(
        grounding_set,
        set_dir,
        tmp_path / "out",
        model,
        fmt,
        settings,
        build_shot_files(),
        "scripted",
        list(grounding_set.cases),
        0,
        lambda: float(next(ticks)),
    )


def _click_centre_of(runner: GroundingRunner):  # type: ignore[no-untyped-def]
    """Answers as Nemotron does (a pyautogui click at fractions of the image), at the named box's centre."""

    def answer(request: ModelRequest) -> str:
        (image,) = request_images(request)
        text = request.messages[-1].parts[-1].text  # type: ignore[union-attr]
        case = next(c for c in runner.grounding_set.cases if c.instruction in text)
        x, y, w, h = case.box
        mx, my, _, _ = runner.grounding_set.shot(case.shot).monitor
        fx = (x - mx + w / 2) / image.transform.monitor.geometry.width
        fy = (y - my + h / 2) / image.transform.monitor.geometry.height
        code = f"pyautogui.click(x={fx:.4f}, y={fy:.4f})"
        return f"## Thought:\nthere\n\n## Action:\nclick\n\n## Code:\n```python\n{code}\n```"

    return answer


def test_every_item_is_scored_and_the_report_is_there_after_each(tmp_path: Path) -> None:
    holder: list[GroundingRunner] = []

    def answer(request: ModelRequest) -> str:
        return str(_click_centre_of(holder[0])(request))

    runner = _runner(tmp_path, FakeModel(answer))
    holder.append(runner)
    seen: list[int] = []

    def after(n: int, total: int, item: object) -> None:
        summary = load_summary((tmp_path / "out" / "summary.json").read_text())
        assert len(summary.items) == n and not summary.complete
        seen.append(n)

    summary = run_evaluation(runner, tmp_path / "out", cancel=CancelToken(), on_item=after)
    assert seen == [1, 2, 3, 4, 5, 6]
    assert summary.complete and summary.total.rate == 1.0 and summary.total.measured == 6
    assert set(summary.groups) == {"app", "resolution", "scale", "monitors", "size"}
    assert summary.groups["monitors"]["2"].passed == 6
    on_disk = load_summary((tmp_path / "out" / "summary.json").read_text())
    assert on_disk == summary
    assert (tmp_path / "out" / "thumbs" / "m2.png").stat().st_size > 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.count('class="item pass"') == 6 and "thumbs/m1.png" in html
    # Points are in desktop pixels: the second monitor's items lie right of x = 640.
    assert all(i.grounding and i.grounding.point and i.grounding.point[0] >= 640 for i in summary.items[3:])


def test_a_model_that_does_not_answer_makes_items_errored_and_the_run_goes_on(tmp_path: Path) -> None:
    calls = iter(range(100))

    def flaky(request: ModelRequest) -> str:
        if next(calls) % 2 == 0:
            raise RemoteEngineError("the engine at http://127.0.0.1:9 refused the connection")
        return (
            "## Thought:\nno idea\n\n## Action:\nnothing\n\n## Code:\n```python\npyautogui.click(x=0.001, y=0.001)\n```"
        )

    summary = run_evaluation(_runner(tmp_path, FakeModel(flaky)), tmp_path / "out", cancel=CancelToken())
    assert (summary.total.passed, summary.total.failed, summary.total.errored) == (0, 3, 3)
    errored = [i for i in summary.items if i.status == "errored"]
    assert all("refused the connection" in i.error for i in errored)
    assert summary.total.rate == 0.0 and summary.complete


@pytest.mark.allow_log_errors
def test_garbage_answers_are_misses_with_the_reason(tmp_path: Path) -> None:
    summary = run_evaluation(
        _runner(tmp_path, FakeModel(lambda r: "<script>alert(1)</script> I would click the button")),
        tmp_path / "out",
        cancel=CancelToken(),
    )
    assert summary.total.failed == 6 and all("no usable action" in i.error for i in summary.items)
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)" in html


def test_ctrl_c_leaves_a_valid_partial_report(tmp_path: Path) -> None:
    answered = iter(range(100))

    def interrupted(request: ModelRequest) -> str:
        if next(answered) == 2:
            raise KeyboardInterrupt
        return "## Thought:\n.\n\n## Action:\n.\n\n## Code:\n```python\npyautogui.click(x=0.5, y=0.5)\n```"

    with pytest.raises(KeyboardInterrupt):
        run_evaluation(_runner(tmp_path, FakeModel(interrupted)), tmp_path / "out", cancel=CancelToken())
    summary = load_summary((tmp_path / "out" / "summary.json").read_text())
    assert summary.interrupted and not summary.complete and len(summary.items) == 2 and summary.planned == 6
    assert "interrupted" in (tmp_path / "out" / "report.html").read_text()


def test_a_cancel_stops_after_the_item_in_flight(tmp_path: Path) -> None:
    cancel = CancelToken()

    def stop_on_third(n: int, total: int, item: object) -> None:
        if n == 3:
            cancel.cancel()

    model = FakeModel(lambda r: "## Action:\n.\n\n## Code:\n```python\npyautogui.click(x=0.5, y=0.5)\n```")
    summary = run_evaluation(_runner(tmp_path, model), tmp_path / "out", cancel=cancel, on_item=stop_on_third)
    assert summary.interrupted and len(summary.items) == 3
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["interrupted"] is True


def test_a_missing_screenshot_is_an_errored_item(tmp_path: Path) -> None:
    set_dir = tmp_path / "set"
    grounding_set = write_synthetic_set(set_dir)
    (set_dir / "m2.png").unlink()
    model = FakeModel(lambda r: "## Action:\n.\n\n## Code:\n```python\npyautogui.click(x=0.5, y=0.5)\n```")
    summary = run_evaluation(
        _runner(tmp_path, model, load_grounding_set((set_dir / "set.json").read_text())),
        tmp_path / "out",
        cancel=CancelToken(),
    )
    assert summary.total.errored == 3 and all("m2.png" in i.error for i in summary.items[3:])
    assert grounding_set.cases[3].id == summary.items[3].id


def test_a_uniform_model_hits_as_often_as_the_boxes_cover_the_screen_over_many_items(tmp_path: Path) -> None:
    """The rig's boxes are small (a uniform model's expected rate there is well under 1 %); here 300 boxes
    cover 1–40 % of a drawn screen each, so the check has power: the measured count must fall inside the
    99.9 % binomial interval of the boxes' mean share — and far from what a harness mapping points
    wrongly would give."""
    import random

    from omnidesk.agent.evaluation import binomial_interval
    from omnidesk.agent.evaluation.grounding import GroundingCase

    base = write_synthetic_set(tmp_path / "set", two_monitors=True)
    rng = random.Random(2)
    cases = []
    for i in range(300):
        shot = base.shots[i % 2]
        mx, my, mw, mh = shot.monitor
        w, h = rng.randint(mw // 10, mw * 2 // 3), rng.randint(mh // 10, mh * 2 // 3)
        x, y = rng.randint(0, mw - w), rng.randint(0, mh - h)
        cases.append(
            GroundingCase(
                id=f"u{i}",
                shot=shot.id,
                app="synthetic",
                toolkit="numpy",
                role="push_button",
                name=f"U{i}",
                instruction=f'Click the "U{i}" button.',
                box=(mx + x, my + y, w, h),
            )
        )
    grounding_set = base.model_copy(update={"cases": tuple(cases)})
    draws = random.Random(9)

    def uniform(request: ModelRequest) -> str:
        code = f"pyautogui.click(x={draws.random():.5f}, y={draws.random():.5f})"
        return f"## Thought:\nsomewhere\n\n## Action:\nclick\n\n## Code:\n```python\n{code}\n```"

    summary = run_evaluation(
        _runner(tmp_path, FakeModel(uniform), grounding_set), tmp_path / "out", cancel=CancelToken()
    )
    shares = [
        c.box[2] * c.box[3] / (grounding_set.shot(c.shot).monitor[2] * grounding_set.shot(c.shot).monitor[3])
        for c in cases
    ]
    expected = sum(shares) / len(shares)
    low, high = binomial_interval(300, expected, 0.999)
    assert summary.total.measured == 300 and low <= summary.total.passed <= high
    assert 0.05 < expected < 0.3 and high < 300 * 0.5


def test_a_letterboxing_engine_s_canvas_points_are_read_as_omnidesk_run_reads_them(tmp_path: Path) -> None:
    """In-process Nemotron sees each screenshot letterboxed on a 512² canvas and (per its profile) points on
    that canvas: a point at the box centre in canvas fractions hits only when the runner maps it through the
    canvas as the agent loop does; read as fractions of the screenshot it would land elsewhere."""
    from dataclasses import replace

    from omnidesk.agent.canvas import ImageCanvas
    from tests.fakes import CAPS_FRACTION

    canvas = ImageCanvas("nemotron_v2_vl", "fixed", 16, 2, side=512)
    holder: list[GroundingRunner] = []

    def answer(request: ModelRequest) -> str:
        (image,) = request_images(request)
        runner = holder[0]
        text = request.messages[-1].parts[-1].text  # type: ignore[union-attr]
        case = next(c for c in runner.grounding_set.cases if c.instruction in text)
        x, y, w, h = case.box
        mx, my, _, _ = runner.grounding_set.shot(case.shot).monitor
        geometry = image.transform.monitor.geometry
        view = canvas.view(image.transform.image_width, image.transform.image_height)
        scale = view.content.width / geometry.width
        cx = view.content.x + (x - mx + w / 2) * scale
        cy = view.content.y + (y - my + h / 2) * scale
        code = f"pyautogui.click(x={cx / view.width:.5f}, y={cy / view.height:.5f})"
        return f"## Thought:\nthere\n\n## Action:\nclick\n\n## Code:\n```python\n{code}\n```"

    caps = replace(CAPS_FRACTION, image_canvas=canvas, pointing_reference="canvas")
    runner = _runner(tmp_path, FakeModel(answer, capabilities=caps))
    holder.append(runner)
    summary = run_evaluation(runner, tmp_path / "out", cancel=CancelToken())
    assert summary.total.passed == len(runner.cases()) > 0
