"""The short version of bench/bench_recording_rig.py: a narrated rig session (the Qt target app and galculator
driven with xdotool, espeak-ng in the microphone) recorded by the real recorder, then scored. Checks that the
truth, the recall and the narration's alignment are computed right; the figures themselves are the bench's."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.truth_audio import MATCH, KnownSpeech, locate, speech_with_moments, vad_agreement
from bench.truth_samplers import compare_samplers, evs_times, missed, recall, seen
from omnidesk.runtime.accessibility import AtspiAccessibility
from omnidesk.runtime.recording_reader import TimeRange, iter_frames, open_recording
from tests.rig.a11y import A11yBus
from tests.rig.apps import launch_app
from tests.rig.audio import PulseAudioRig
from tests.rig.reference_session import (
    FONT_PX,
    KINDS,
    TARGET_RECT,
    KnownEvent,
    ReferenceSession,
    shows,
)
from tests.rig.target_client import TargetApp
from tests.rig.xserver import WindowManager, XServer

pytestmark = [pytest.mark.desktop, pytest.mark.audio, pytest.mark.slow, pytest.mark.timeout(900)]

SCREEN = (1920, 1080)


@dataclasses.dataclass(frozen=True)
class Recorded:
    folder: Path
    events: list[KnownEvent]


@pytest.fixture(scope="module")
def recorded(
    x_display: XServer,
    module_window_manager: WindowManager,
    pulse_audio: PulseAudioRig,
    a11y_bus: A11yBus,
    accessibility: AtspiAccessibility,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Recorded]:
    from tests.rig.target_client import launch_target

    work = tmp_path_factory.mktemp("rig-truth")
    x, y, w, h = TARGET_RECT
    target: TargetApp = launch_target(work / "target", x=x, y=y, width=w, height=h, title="Ledger", font_px=FONT_PX)
    try:
        calculator = launch_app(
            "galculator", bus=a11y_bus, accessibility=accessibility, display=x_display.display, workdir=work, scale=2
        )
        try:
            session = ReferenceSession(x_display.display, pulse_audio, target, calculator, work, seed=3)
            truth = session.run(seconds=40, fps=10, pace=(1.0, 2.0))
        finally:
            calculator.close()
    finally:
        target.close()
    yield Recorded(truth.folder, truth.on_recording_clock())


def _matching(folder: Path, event: KnownEvent, start: float, end: float) -> list[bool]:
    """For each recorded frame of ``[start, end)``: does the event's region show its finished state?"""
    recording = open_recording(folder)
    x, y, w, h = event.region
    frames = iter_frames(recording, TimeRange(recording.start + start, recording.start + end))
    return [shows(frame.grey[y : y + h, x : x + w], event.final, event.before) for frame in frames]


def test_the_truth_windows_are_what_the_recording_shows(recorded: Recorded) -> None:
    events = recorded.events
    assert [e.kind for e in events[:4]] == list(KINDS) and len(events) >= 6
    for event in events:
        assert event.start <= event.shown < event.gone, event
        # Every recorded frame of the window shows the finished text where it was confirmed.
        found = _matching(recorded.folder, event, event.shown, min(event.gone, event.shown + 1.5))
        assert found and all(found), (event.kind, event.text, found)
    typed = next(e for e in events if e.kind == "typing")
    # Before the input began it was not there (the field was empty or held the text before).
    before = _matching(recorded.folder, typed, max(0.0, typed.start - 1.0), typed.start)
    assert before and not any(before), (typed.start, before)
    # Its capitals are readable in the model's 672x384 frame (10 px or more), as the font was chosen for.
    assert all(e.text_px * 384 / 1080 >= 10 for e in events), [(e.kind, e.text_px) for e in events]


def test_recall_counts_a_readable_event_once_a_kept_frame_falls_in_its_window(recorded: Recorded) -> None:
    events = recorded.events
    inside = [(e.shown + min(e.gone, e.shown + 1.0)) / 2 for e in events]
    assert recall(events, inside, SCREEN) == 1.0
    assert recall(events, [], SCREEN) == 0.0
    assert recall(events, [e.start - 1e-3 for e in events], SCREEN) < 1.0  # just before: not finished yet
    assert seen(events, inside[:1], SCREEN) == [True] + [False] * (len(events) - 1)
    assert missed(events, [inside[0]], SCREEN) == {
        k: sum(e.kind == k for e in events[1:]) for k in KINDS if any(e.kind == k for e in events[1:])
    }
    # The same text 20 px high on the screen would be 7 px in the model's frame: never seen.
    small = [dataclasses.replace(e, text_px=20.0) for e in events]
    assert recall(small, inside, SCREEN) == 0.0


def test_samplers_are_scored_against_the_truth(recorded: Recorded) -> None:
    events = recorded.events
    result = compare_samplers(
        recorded.folder, events, rates=(0.1, 4.0), mpdecimate_hi=(768, 49152), scene_thresholds=(0.001, 0.1)
    )
    evs, uniform, *_ = result["samplers"]
    assert [s["sampler"] for s in result["samplers"]] == ["EVS", "uniform", "mpdecimate", "scene"]
    assert result["target_recall"] == recall(events, result["evs_times"], SCREEN) == evs["recall"]
    assert result["frame_size"] == [672, 384] and result["readable_events"] == len(events)
    minutes = result["seconds"] / 60
    for row in result["samplers"]:
        assert row["tokens_per_minute"] == pytest.approx(row["frames"] * 286 / minutes, rel=1e-3)  # seconds rounded
        assert row["at_equal_recall"] == (row["recall"] >= result["target_recall"] - 1e-9)
    rows = {r["setting"]: r for r in result["sweeps"]["uniform"]}
    assert rows["4 fps"]["recall"] == 1.0  # a frame every 0.25 s falls in every window (dialogs stay 1.5 s)
    assert uniform["setting"] == "4 fps" or rows["0.1 fps"]["recall"] >= evs["recall"]
    # A second scan picks the same frames (the scoring is deterministic).
    assert evs_times(open_recording(recorded.folder))[0] == result["evs_times"]


def test_the_narration_is_found_where_it_was_spoken(recorded: Recorded) -> None:
    recording = open_recording(recorded.folder)
    speeches = [KnownSpeech(e.speech.samples, e.speech.played_at, e.speech.voiced) for e in recorded.events if e.speech]
    assert len(speeches) == len(recorded.events)
    located = [locate(recording, s) for s in speeches]
    # Found, each (a loaded machine's microphone clock may shift part of a clip by tens of ms, which lowers
    # one clip's correlation; chance level is about 0.1), most of them closely.
    correlations = sorted(loc.correlation for loc in located)
    assert correlations[0] > 0.2 and correlations[len(located) // 2] > 0.5, located
    offsets = sorted(loc.offset for loc in located)
    assert all(-0.05 < o < 0.4 for o in offsets), offsets  # paplay's start-up and the audio path, never early
    # A nominal time 0.5 s late is found 0.5 s early: locate measures, it does not assume.
    shifted = locate(recording, dataclasses.replace(speeches[0], at=speeches[0].at + 0.5))
    assert abs(shifted.offset - (located[0].offset - 0.5)) < 0.01
    median = offsets[len(offsets) // 2]
    vad = vad_agreement(recording, speeches, median)
    assert vad["speech_heard"] > 0.8 and vad["voice_elsewhere_s"] < 0.5, vad
    everything = [0.0, *[(e.shown + min(e.gone, e.shown + 1.0)) / 2 for e in recorded.events]]
    one_part = speech_with_moments(recording, recorded.events, speeches, everything, budget=100_000)
    found = sum(loc.correlation >= MATCH for loc in located)  # the narrations are numbered: each is unique
    assert one_part == {"parts": 1, "events_checked": len(speeches), "speech_in_their_part": found}
    # Parts of two frames each: the check runs per part (a narration may fall in the part before).
    small = speech_with_moments(recording, recorded.events, speeches, everything, budget=2 * 286 + 400)
    assert small["parts"] > 1 and small["events_checked"] == len(speeches)
    assert 0 < small["speech_in_their_part"] <= len(speeches)
