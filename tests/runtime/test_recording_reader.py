"""Reading recordings back: segment folders on one clock, plain files, time ranges, audio at the right
time, and every kind of bad input (empty, cut off, unknown codec, no video) — with the files untouched."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from omnidesk.agent.errors import RecordingReadError
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import Frame
from omnidesk.runtime.recording import SegmentedRecorder
from omnidesk.runtime.recording_reader import (
    TimeRange,
    format_time,
    iter_frames,
    newest_recording,
    open_recording,
    parse_time,
    read_audio,
)

SMALL = MonitorInfo(1, "x", Rect(0, 0, 320, 240))
T0 = 500.0


def _pixels(i: int) -> np.ndarray:
    px = np.full((240, 320, 4), 40, np.uint8)
    px[20:60, (i * 3) % 280 : (i * 3) % 280 + 40, :3] = 250  # a box that moves: every frame differs
    return px


def _beeps(seconds: float, every: float = 2.0, length: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.5 * np.sin(2 * np.pi * 440 * t) * ((t % every) < length)).astype(np.float32)


def make_recording(
    out: Path, seconds: float = 6.0, fps: float = 10.0, segment: float = 2.0, audio: bool = True
) -> Path:
    """A finished recording: a moving box, and (with audio) a 0.5 s beep every 2 s from 0."""
    recorder = SegmentedRecorder(
        out, monitor={"index": 1}, size=(320, 240), fps=fps, audio=audio, segment_seconds=segment
    )
    tone = _beeps(seconds)
    for i in range(int(seconds * fps)):
        recorder.add_frame(Frame(_pixels(i), T0 + i / fps, SMALL, i + 1))
        if audio:
            block = slice(int(i / fps * 16000), int((i + 1) / fps * 16000))
            recorder.add_audio(tone[block], T0 + i / fps)
    recorder.close()
    return out


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def onsets(samples: np.ndarray, rate: int = 16000) -> list[float]:
    """Times (s) where a beep starts: 10 ms windows whose loudness rises past half the peak."""
    win = rate // 100
    env = np.sqrt((samples[: len(samples) // win * win].reshape(-1, win) ** 2).mean(axis=1))
    loud = env > 0.5 * env.max()
    return ([0.0] if loud[0] else []) + [i / 100 for i in np.flatnonzero(loud[1:] & ~loud[:-1]) + 1]


def test_a_folder_reads_as_one_timeline(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec")
    before = digests(folder)
    recording = open_recording(folder)
    assert [s.path.name for s in recording.sources] == ["segment-00000.mkv", "segment-00001.mkv", "segment-00002.mkv"]
    assert [s.start for s in recording.sources] == pytest.approx([0.0, 2.0, 4.0])
    assert recording.duration == pytest.approx(6.0, abs=0.01) and recording.complete and recording.has_audio
    assert recording.size == (320, 240) and recording.notes == ()
    times = [f.time for f in iter_frames(recording, TimeRange(1.05, 4.55))]
    assert times == pytest.approx([k / 10 for k in range(11, 46)], abs=0.002)  # across two segment joins
    sparse = [f.time for f in iter_frames(recording, recording.range(), min_interval=0.5)]
    assert sparse == pytest.approx([k * 0.5 for k in range(12)], abs=0.002)
    first = next(iter_frames(recording, TimeRange(3.0, 3.5)))
    assert first.bgra()[40, (30 * 3) % 280 + 10, 0] > 200 and first.grey.shape == (240, 320)  # frame 30's box
    assert digests(folder) == before  # nothing of the recording changed


def test_audio_comes_back_at_its_times(tmp_path: Path) -> None:
    recording = open_recording(make_recording(tmp_path / "rec"))
    whole = read_audio(recording, recording.range())
    assert whole is not None and whole.sample_rate == 16000
    assert whole.duration == pytest.approx(6.0, abs=0.01)
    assert onsets(whole.samples) == pytest.approx([0.0, 2.0, 4.0], abs=0.03)
    part = read_audio(recording, TimeRange(3.2, 5.0))  # starts inside the second segment, after a seek
    assert part is not None and part.start == 3.2 and part.duration == pytest.approx(1.8, abs=0.001)
    assert [part.start + t for t in onsets(part.samples)] == pytest.approx([4.0], abs=0.03)


def test_time_ranges(tmp_path: Path) -> None:
    recording = open_recording(make_recording(tmp_path / "rec", audio=False))
    assert read_audio(recording, recording.range()) is None  # no audio track: nothing, and no error
    last = recording.range(last=2.0)
    assert (last.start, last.end) == pytest.approx((4.0, 6.0))
    assert recording.range(start=1.5, end=3.0) == TimeRange(1.5, 3.0)
    assert recording.range(last=600).start == 0.0
    with pytest.raises(RecordingReadError, match=r"00:06 long.*--from/--to"):
        recording.range(start=10.0)
    assert parse_time("75") == 75 and parse_time("01:15") == 75 and parse_time("1:02:03.5") == 3723.5
    for bad in ("", "1:75", "a", "1::2", "-3", "1:2:3:4"):
        with pytest.raises(ValueError, match="not a time"):
            parse_time(bad)
    assert format_time(134.9) == "02:14" and format_time(3723) == "1:02:03"


def test_plain_video_files(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(_pixels(i)[:, :, :3]), format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, 5)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    recording = open_recording(path)
    assert recording.complete is None and not recording.has_audio
    assert recording.duration == pytest.approx(2.0, abs=0.01)
    assert [f.time for f in iter_frames(recording, recording.range())] == pytest.approx([i / 5 for i in range(10)])
    segment = open_recording(make_recording(tmp_path / "rec") / "segment-00001.mkv")  # a lone segment: from 0
    assert segment.start == 0.0 and segment.duration == pytest.approx(2.0, abs=0.01)


def test_newest_recording(tmp_path: Path) -> None:
    with pytest.raises(RecordingReadError, match="omnidesk record"):
        newest_recording(tmp_path)
    make_recording(tmp_path / "b", seconds=1, audio=False)
    make_recording(tmp_path / "a", seconds=1, audio=False)  # started later, sorts first by name
    assert newest_recording(tmp_path).name == "a"


def test_empty_and_unreadable_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mkv"
    empty.touch()
    with pytest.raises(RecordingReadError, match=r"empty \(0 bytes\)"):
        open_recording(empty)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(RecordingReadError, match="not a video PyAV can read"):
        open_recording(junk)
    with pytest.raises(RecordingReadError, match="does not exist"):
        open_recording(tmp_path / "missing")
    with pytest.raises(RecordingReadError, match="no recording segments"):
        open_recording(tmp_path)
    sound = tmp_path / "sound.mka"
    with av.open(str(sound), "w", format="matroska") as container:
        stream = container.add_stream("libopus", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(_beeps(1.0)[None, :], format="flt", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with pytest.raises(RecordingReadError, match="no video track"):
        open_recording(sound)


def test_a_codec_this_build_cannot_decode(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec", seconds=2, audio=False)
    data = (folder / "segment-00000.mkv").read_bytes()
    assert data.count(b"V_MPEG4/ISO/AVC") == 1
    crafted = tmp_path / "crafted.mkv"
    crafted.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_OMNIDESK/XYZW"))  # same length: a valid file
    with pytest.raises(RecordingReadError, match=r"codec this build cannot decode.*convert it"):
        open_recording(crafted)


_WRITER = """
import sys, time
import numpy as np
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import Frame
from omnidesk.runtime.recording import SegmentedRecorder
mon = MonitorInfo(1, "x", Rect(0, 0, 320, 240))
rec = SegmentedRecorder(sys.argv[1], monitor={}, size=(320, 240), fps=10, audio=False, segment_seconds=2.0)
for i in range(55):  # two closed segments, 1.5 s into the third
    px = np.full((240, 320, 4), 40, np.uint8)
    px[20:60, (i * 3) % 280 : (i * 3) % 280 + 40, :3] = 250
    rec.add_frame(Frame(px, 100.0 + i / 10, mon, i + 1))
print("written", flush=True)
time.sleep(120)
"""


def test_the_open_segment_is_read_while_written_and_after_kill_9(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(out)], stdout=subprocess.PIPE, text=True, env={**os.environ}
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "written"
        live = open_recording(out)  # the recorder is still running
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    for recording in (live, open_recording(out)):
        assert [s.closed for s in recording.sources] == [True, True, False]
        assert (
            recording.complete is False and "segment-00002.mkv is cut off, or still being written" in recording.notes[0]
        )
        # Clusters of at most 1 s reach the disk: at least 0.5 s of the open segment is there.
        assert 4.5 <= recording.end <= 5.5, recording.sources
        times = [f.time for f in iter_frames(recording, TimeRange(3.5, recording.end))]
        assert times == pytest.approx([k / 10 for k in range(35, 35 + len(times))], abs=0.002)
    before = digests(out)
    list(iter_frames(open_recording(out), TimeRange(0, 10)))
    assert digests(out) == before


def test_an_empty_segment_in_a_folder_is_skipped_with_a_note(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec", seconds=4, audio=False)
    (folder / "segment-00002.mkv").touch()  # what a recorder killed before its first flush leaves
    recording = open_recording(folder)
    assert len(recording.sources) == 2 and "skipped segment-00002.mkv" in recording.notes[0]
    assert "0 bytes" in recording.notes[0]


def test_the_first_frame_is_read_when_the_demuxer_gives_the_video_the_audios_start_time(tmp_path: Path) -> None:
    """A segment recorded on the rig (screen at 15 fps + Opus microphone) for which FFmpeg's Matroska demuxer
    reports the video stream's start_time as 13 ms — the Opus track's start after its pre-skip — although its
    first frame is stamped 0. Subtracting start_time put that frame before the recording's start and dropped
    it, so a click right after "Show me" had no picture of its target."""
    folder = tmp_path / "rec"
    folder.mkdir()
    for name in ("index.json", "segment-00000.mkv"):
        (folder / name).write_bytes((Path(__file__).parent / "data" / "opus-start-recording" / name).read_bytes())
    with av.open(str(folder / "segment-00000.mkv")) as container:
        stream = container.streams.video[0]
        assert stream.start_time == 13  # the demuxer's quirk this test is about
        packets = sorted(int(p.pts) for p in container.demux(stream) if p.pts is not None)
    assert packets[0] == 0
    recording = open_recording(folder)
    times = [frame.time for frame in iter_frames(recording, recording.range())]
    assert len(times) == len(packets) == 7
    assert times == pytest.approx([p / 1000 for p in packets], abs=1e-6)
