"""The short version of bench/bench_recording_truth.py: a scripted session with known events, written by the
real recorder, and every sampler's recall of them — EVS must see every event; the sweeps must be able to miss
some (the measure is not trivially full); the token figures follow from the frames kept."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_recording_truth.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_recording_truth", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_evs_sees_every_known_event_and_the_samplers_are_compared(tmp_path: Path) -> None:
    bench = _bench()
    result = bench.run(0.5, 5.0, 2, tmp_path)
    assert result["events"] >= 4 and result["events_by_kind"]["dialog"] >= 1, result["events_by_kind"]
    assert result["frame_size"] == [672, 384] and result["tokens_per_frame"] == 286
    evs, *others = result["samplers"]
    assert evs["sampler"] == "EVS" and evs["recall"] == 1.0 and result["target_recall"] == 1.0
    assert [s["sampler"] for s in others] == ["uniform", "mpdecimate", "scene"]
    for sampler in result["samplers"]:
        assert sampler["tokens_per_minute"] == round(sampler["frames"] * 286 / 0.5), sampler
    uniform = {row["setting"]: row for row in result["sweeps"]["uniform"]}
    assert others[0]["at_equal_recall"] and uniform["4 fps"]["recall"] == 1.0
    assert uniform["0.05 fps"]["recall"] < 1.0  # one frame in 20 s misses events
    assert result["evs_speed_x_realtime"] > 0
