"""Agent step overhead and parser throughput, against baselines measured in the same run.

    .venv/bin/python bench/bench_agent.py [--steps 200] [--parses 20000]

- step overhead: one full ``Agent`` step (observe → prompt → instant model → parse → safety → map →
  act on a recording device → settle) on 1920×1080 frames with the runtime's real overview images, as
  a median in ms (budget ≤ 50 ms) and as a ratio to the baseline of only making the overview image;
- parser throughput: replies per second for each format (one action; three actions in one reply; the
  answer in Nemotron's reasoning stream; Qwen calls split off by an engine's tool parser), as ratios to
  ``json.loads`` of a one-action JSON reply (the cheapest possible parse), over alternating rounds.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from omnidesk.agent.actions import Click, Hotkey, Point, TypeText
from omnidesk.agent.config import AgentConfig, SafetyConfig
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.loop import Agent
from omnidesk.agent.parsing import OutputParser, Parsed, parser_for
from omnidesk.agent.ports import CancelToken, Frame, Observation, SettleResult, ToolCall
from omnidesk.agent.trajectory import TrajectoryWriter
from omnidesk.runtime.images import overview_image
from omnidesk.runtime.png import CvPngEncoder
from tests.fakes import FakeModel, RecordingInputDevice, ScriptedConfirmer

MONITOR = MonitorInfo(1, "bench", Rect(0, 0, 1920, 1080), primary=True)


class Clock:
    def monotonic(self) -> float:
        return time.perf_counter()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def wall_time(self) -> float:
        return time.time()


class OverviewSampler:
    """Every observation: a new 1080p frame turned into the runtime's letterboxed overview."""

    def __init__(self, size: int) -> None:
        rng = np.random.default_rng(0)
        self._frames = [rng.integers(0, 255, (1080, 1920, 4), dtype=np.uint8) for _ in range(4)]
        self._n = 0
        self._size = size

    @property
    def monitor(self) -> MonitorInfo:
        return MONITOR

    def observe(self, *, force_keyframe: bool = False) -> Observation:
        self._n += 1
        frame = Frame(self._frames[self._n % 4], time.monotonic(), MONITOR, self._n)
        return Observation((overview_image(frame, self._size),), frame.timestamp, True, 1.0)

    def wait_settled(
        self, *, still_for: float = 0.3, timeout: float = 3.0, cancel: CancelToken | None = None
    ) -> SettleResult:
        return SettleResult(True, 0.0)


def bench_steps(steps: int) -> None:
    sampler = OverviewSampler(512)
    baseline = []
    for _ in range(steps):
        t0 = time.perf_counter()
        sampler.observe()
        baseline.append(time.perf_counter() - t0)
    replies = [
        f"Step.\n## Action:\nclick\n## Code:\npyautogui.click(x={0.1 + (i % 7) / 10:.3f}, y=0.5)" for i in range(steps)
    ]
    agent = Agent(
        FakeModel(replies, chunk=64),
        sampler,
        RecordingInputDevice(),
        ScriptedConfirmer(),
        Clock(),
        AgentConfig(),
        SafetyConfig(max_steps=steps, loop_repeats=1000),
    )
    durations, recording = [], []
    with tempfile.TemporaryDirectory() as folder:
        writer = TrajectoryWriter(Path(folder) / "bundle", "bench", encoder=CvPngEncoder())
        t0 = time.perf_counter()
        for step in agent.run("bench", CancelToken()):
            now = time.perf_counter()
            if step.status == "acted":
                durations.append(now - t0)
            writer.record(step)
            recording.append(time.perf_counter() - now)
            t0 = time.perf_counter()
        writer.close("stopped")
    median, base = statistics.median(durations), statistics.median(baseline)
    print(f"step overhead: median {median * 1000:.1f} ms over {len(durations)} steps (budget 50 ms)")
    print(f"  baseline (overview image only): {base * 1000:.1f} ms; ratio {median / base:.2f}x")
    rec = statistics.median(recording)
    print(f"  trajectory record() on the loop thread: {rec * 1000:.2f} ms; ratio to the step {rec / median:.3f}")


def _parser_cases() -> dict[str, tuple[OutputParser, dict[str, Any]]]:
    """Each format's parser with a typical reply: one action, and three (click, type, Enter) in one reply."""
    fraction = Point(x=0.412, y=0.218, space="fraction")
    thousandths = Point(x=412, y=218, space="thousandths")
    pixels = Point(x=812, y=430, space="image_pixels")
    three = lambda p: (Click(point=p), TypeText(text="weather in Tokyo"), Hotkey(keys=("enter",)))  # noqa: E731
    cases: dict[str, tuple[OutputParser, dict[str, Any]]] = {}
    for name, fmt, point in (
        ("nemotron", "nemotron", fraction),
        ("qwen2.5", "qwen2.5", pixels),
        ("qwen3", "qwen3", thousandths),
        ("uitars", "uitars", pixels),
    ):
        parser = parser_for(fmt)
        for count, actions in (("1", (Click(point=point),)), ("3", three(point))):
            cases[f"{name} ×{count}"] = (parser, {"text": parser.render(Parsed(actions, "the OK button"))})
    nemotron, qwen3 = cases["nemotron ×3"][0], cases["qwen3 ×3"][0]
    cases["nemotron ×3 in reasoning"] = (nemotron, {"text": "", "reasoning": cases["nemotron ×3"][1]["text"]})
    calls = [json.loads(c) for c in re.findall(r"<tool_call>\n(.*?)\n</tool_call>", cases["qwen3 ×3"][1]["text"])]
    tool_calls = tuple(ToolCall(c["name"], json.dumps(c["arguments"])) for c in calls)
    cases["qwen3 ×3 tool_calls"] = (qwen3, {"text": "", "tool_calls": tool_calls})
    json_parser = parser_for("json")
    cases["json ×1"] = (json_parser, {"text": json_parser.render(Parsed((Click(point=fraction),), "the OK button"))})
    return cases


def bench_parsers(parses: int, rounds: int = 5) -> None:
    """Outputs per second for each parser, as ratios to json.loads of a one-action JSON reply, measured in
    alternating order over ``rounds`` rounds (median and spread of the ratio)."""
    cases = _parser_cases()
    json_text = cases["json ×1"][1]["text"]

    def rate(work: Callable[[], object]) -> float:
        start = time.perf_counter()
        for _ in range(parses):
            work()
        return parses / (time.perf_counter() - start)

    ratios: dict[str, list[float]] = {name: [] for name in cases}
    bases: list[float] = []
    for round_ in range(rounds):
        order = list(cases) if round_ % 2 == 0 else list(reversed(cases))
        base = rate(lambda: json.loads(json_text))
        bases.append(base)
        for name in order:
            parser, reply = cases[name]
            ratios[name].append(rate(lambda p=parser, r=reply: p.parse(**r)) / base)
    print(f"parser throughput, {rounds} rounds (baseline json.loads: median {statistics.median(bases):,.0f}/s)")
    for name, values in ratios.items():
        median = statistics.median(values)
        print(f"  {name:24s} ratio to json.loads {median:.3f} (spread {min(values):.3f}–{max(values):.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--parses", type=int, default=20000)
    args = parser.parse_args()
    bench_steps(args.steps)
    bench_parsers(args.parses)


if __name__ == "__main__":
    main()
