"""Agent step overhead and parser throughput, against baselines measured in the same run.

    .venv/bin/python bench/bench_agent.py [--steps 200] [--desktop-steps 8] [--rounds 5] [--parses 20000]

- step on a real desktop: ``omnidesk run``'s composition (``build_agent_session``: masked mss capture
  behind the X-event window list, EVS sampler, XTest input, the user-activity watch) on a private Xvfb,
  an instant scripted model clicking around; one agent step against the same work by hand on the same
  desktop (observe, one XTest click, the real settle wait with the agent's settle settings), in
  alternating rounds: median per-step ms of each, the ratio's median and spread, and the agent's own
  phase timings (what the step spends besides waiting for the screen to be still);
- step overhead without the desktop: one full ``Agent`` step (observe → prompt → instant model → parse →
  safety → map → act on a recording device → settle) on 1920×1080 frames with the runtime's real
  overview images, as a median in ms (budget ≤ 50 ms) and as a ratio to only making the overview image;
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


def bench_desktop_steps(steps: int, rounds: int) -> None:
    """The agent's step on a real desktop (private Xvfb) against the same work done by hand there."""
    import os

    from omnidesk.app.compose import build_agent_session
    from omnidesk.app.settings import Settings
    from omnidesk.runtime.input import PyAutoGuiInput
    from tests.rig.xserver import start_xvfb

    points = [(0.1 + (i % 7) / 10, 0.3 + (i % 3) / 10) for i in range(steps)]
    clicks = iter(range(10**9))

    def script(request: object) -> str:
        x, y = points[next(clicks) % steps]
        return f"Next.\n## Action:\nclick\n## Code:\npyautogui.click(x={x:.3f}, y={y:.3f})"

    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp:
        xvfb = start_xvfb(Path(tmp))
        saved = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = xvfb.display
        settings = Settings()
        config = settings.agent
        try:
            session = build_agent_session(
                settings, model=FakeModel(script), confirmer=ScriptedConfirmer(), max_steps=steps
            )
            device = PyAutoGuiInput()
            area = session.monitor.geometry
            with session:

                def agent_round() -> tuple[list[float], list[Any]]:
                    times, acted = [], []
                    t0 = time.perf_counter()
                    for step in session.agent.run("bench", CancelToken()):
                        now = time.perf_counter()
                        if step.status == "acted":
                            times.append(now - t0)
                            acted.append(step)
                        t0 = time.perf_counter()
                    if len(times) != steps:
                        raise RuntimeError(f"the agent acted {len(times)} times, not {steps}: {step.status}")
                    return times, acted

                def hand_round() -> list[float]:
                    times = []
                    for x, y in points:
                        t0 = time.perf_counter()
                        session.sampler.observe()
                        device.click(area.x + round(x * area.width), area.y + round(y * area.height))
                        session.sampler.wait_settled(still_for=config.settle_seconds, timeout=config.settle_timeout)
                        times.append(time.perf_counter() - t0)
                    return times

                agent_round()
                hand_round()  # warm-up: first frames, fonts, X connections
                agents: list[float] = []
                hands: list[float] = []
                ratios: list[float] = []
                phases: dict[str, list[float]] = {}
                load = os.getloadavg()
                for round_ in range(rounds):
                    if round_ % 2 == 0:
                        (agent, acted), hand = agent_round(), hand_round()
                    else:
                        hand = hand_round()
                        agent, acted = agent_round()
                    agents += agent
                    hands += hand
                    ratios.append(statistics.median(agent) / statistics.median(hand))
                    for step in acted:
                        for name, seconds in step.timings:
                            phases.setdefault(name, []).append(seconds)
                load_after = os.getloadavg()
        finally:
            xvfb.stop()
            if saved is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = saved
    agent_ms, hand_ms = statistics.median(agents) * 1000, statistics.median(hands) * 1000
    print(
        f"step on a real desktop (Xvfb {area.width}x{area.height}, XTest, settle {config.settle_seconds} s), "
        f"{rounds} rounds x {steps} steps, alternating; load {load[0]:.2f} -> {load_after[0]:.2f}"
    )
    print(f"  agent step: median {agent_ms:.1f} ms; by hand (observe + click + settle): {hand_ms:.1f} ms")
    print(f"  ratio agent/by hand: median {statistics.median(ratios):.3f} (spread {min(ratios):.3f}–{max(ratios):.3f})")
    print(
        "  the agent's phases (median ms): "
        + ", ".join(f"{name} {statistics.median(values) * 1000:.1f}" for name, values in phases.items())
    )


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
    parser.add_argument("--desktop-steps", type=int, default=8, help="Agent steps per round on the Xvfb desktop.")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    bench_desktop_steps(args.desktop_steps, args.rounds)
    bench_steps(args.steps)
    bench_parsers(args.parses)


if __name__ == "__main__":
    main()
