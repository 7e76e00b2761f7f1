"""``omnidesk ask --recording`` against a vLLM server, which takes the recording as video: the real recorder's
segments, the installed console script, and a strict scripted vLLM (``scripted_nemotron_video``) that decodes
the MP4 it gets with PyAV, samples it as vLLM would for its launch options, and checks the kept frames' labels
against when the screen changed and the sound against when the beep was. The server's EVS pruning rate is
reported from ``/server_info`` (dev mode), or said to be unknown, or taken as the person states it; a clip
longer than the server samples whole is asked in parts; llama.cpp's server still gets frames.
"""

from __future__ import annotations

import base64
import copy
import io
import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from omnidesk.agent.recording_video import VideoSlice, video_request
from omnidesk.runtime.recording_clip import cut_clip
from omnidesk.runtime.recording_reader import open_recording
from omnidesk.runtime.remote import encode_messages
from tests.app.cli_helpers import isolated_env, run_cli
from tests.app.test_ask_recording import BEEP_AT, LENGTH, SCREEN, _digests, _first, _onset, make_recording, policy
from tests.models.scripted_nemotron_video import OffFormat, SeenPart, VllmVideo, check_video_request, serve


def _ask(url: str, env: dict[str, str], *args: str) -> tuple[dict[str, Any], str]:
    result = run_cli(["ask", "When did the boxes appear?", "--remote", url, "--json", *args], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_vllm_gets_the_clip_as_video_and_its_pruning_rate_is_reported(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec")
    before = _digests(folder)
    with serve(policy, SCREEN, vllm=VllmVideo(pruning_rate=0.5, dev_mode=True)) as model:
        reply, err = _ask(model.url, isolated_env(tmp_path), "--recording", str(folder))
    assert model.refusals == [] and "/server_info?config_format=json" in model.gets
    (seen,) = model.seen
    assert isinstance(seen, SeenPart)
    # One 2 fps clip at the screen's own size (smaller than vLLM's 672x384: not upscaled); vLLM keeps all 16.
    assert (seen.clip_frames, seen.clip_size, seen.clip_fps) == (16, SCREEN, 2.0)
    assert seen.times == [k / 2 for k in range(16)]
    assert _first(seen, 0) == 2.0 and _first(seen, 2) == 5.0  # the boxes show from the frames at 2 s and 5 s
    assert sum(seen.clips) == pytest.approx(LENGTH, abs=0.15)
    assert _onset(seen.audio) == pytest.approx(BEEP_AT, abs=0.05)
    assert reply["answer"] == "I saw the red box at 00:02 and the blue box at 00:05."
    assert reply["video"]["pruning_rate"] == 0.5 and reply["video"]["pruning_rate_from"] == "server"
    assert [p["frames"] for p in reply["parts"]] == [seen.times]
    assert "video pruning rate is 0.5" in err
    assert _digests(folder) == before


def test_a_server_that_does_not_say_and_the_rate_stated_with_its_frame_cap(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec")
    before = _digests(folder)
    env = isolated_env(tmp_path)
    launch = VllmVideo(num_frames=6, pruning_rate=0.25)  # no dev mode: /server_info is not there
    with serve(policy, SCREEN, vllm=launch) as model:
        silent, silent_err = _ask(model.url, env, "--recording", str(folder))
        stated, stated_err = _ask(
            model.url, env, "--recording", str(folder), "--from", "00:04", "--video-frames", "6",
            "--video-pruning-rate", "0.25",
        )  # fmt: skip
    assert model.refusals == []
    assert silent["video"]["pruning_rate"] is None and "does not report its EVS video pruning rate" in silent_err
    assert "--video-pruning-rate" in silent_err
    # Not told the cap, one 8 s clip goes; the server keeps 6 of its 16 frames, spread as vLLM spreads them.
    first = model.seen[0]
    assert isinstance(first, SeenPart) and first.clip_frames == 16
    assert first.times == [0.0, 1.5, 3.0, 4.5, 6.0, 7.5]
    # Told the cap, each part is as long as the server samples whole (6 frames at 2 fps): 04–07, 07–08, merged.
    parts = [s for s in model.seen[1:] if isinstance(s, SeenPart)]
    assert [p.times for p in parts] == [[4.0, 4.5, 5.0, 5.5, 6.0, 6.5], [7.0, 7.5]]
    assert [p["frames"] for p in stated["parts"]] == [p.times for p in parts]
    assert [(p["from"], p["to"]) for p in stated["parts"]] == [(4.0, 7.0), (7.0, 8.0)]
    assert sum(sum(p.clips) for p in parts) == pytest.approx(4.0, abs=0.15)
    assert stated["video"]["pruning_rate"] == 0.25 and stated["video"]["pruning_rate_from"] == "stated"
    assert "as stated with --video-pruning-rate" in stated_err
    assert stated["answer"] == "Together: red box at 00:04; blue box at 00:05."
    assert _digests(folder) == before


def test_llama_cpp_server_and_frames_asked_for_get_the_sampled_frames(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec")
    env = isolated_env(tmp_path)
    with serve(policy, SCREEN) as llama:  # llama.cpp's server: no video input
        reply, err = _ask(llama.url, env, "--recording", str(folder))
    empty = tmp_path / "empty.mkv"
    empty.touch()
    with serve(policy, SCREEN, vllm=VllmVideo(dev_mode=True)) as vllm:
        framed, _ = _ask(vllm.url, env, "--recording", str(folder), "--frames")
        bad = run_cli(["ask", "What happened?", "--remote", vllm.url, "--recording", str(empty)], env)
    assert llama.refusals == [] == vllm.refusals and len(vllm.seen) == 1
    # Bad input reads the same whichever way the engine takes recordings: one line, nothing sent.
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1 and "empty (0 bytes)" in bad.stderr
    for seen in (llama.seen[0], vllm.seen[0]):
        assert isinstance(seen, SeenPart) and seen.clip_frames == 0 and len(seen.times) == 3  # EVS's frames
    assert "video" not in reply and "video" not in framed and "takes the clip as video" not in err
    assert reply["answer"] == framed["answer"] == "I saw the red box at 00:02 and the blue box at 00:05."


def _body(tmp_path: Path) -> dict[str, Any]:
    recording = open_recording(make_recording(tmp_path / "rec", audio=False))
    clip = cut_clip(recording, recording.range(0, 3), size=SCREEN)
    request = video_request(VideoSlice(clip, recording.duration), "What happened?")
    return {"model": "nemotron", "messages": encode_messages(request.messages), "max_tokens": 64, "stream": True}


def _with_sound_track(body: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        video, sound = out.add_stream("libx264", rate=2), out.add_stream("aac", rate=16000)
        video.width, video.height, video.pix_fmt = *SCREEN, "yuv420p"
        for k in range(4):
            frame = av.VideoFrame.from_ndarray(np.zeros((SCREEN[1], SCREEN[0], 3), np.uint8), format="rgb24")
            frame.pts = k
            out.mux(video.encode(frame))
        out.mux(video.encode())
        tone = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        tone.sample_rate = 16000
        out.mux(sound.encode(tone))
        out.mux(sound.encode())
    url = "data:video/mp4;base64," + base64.b64encode(buffer.getvalue()).decode()
    body["messages"][0]["content"][0]["video_url"]["url"] = url


def _upscaled(body: dict[str, Any], tmp_path: Path) -> None:
    recording = open_recording(tmp_path / "rec")
    clip = cut_clip(recording, recording.range(0, 2), size=(672, 384))
    url = "data:video/mp4;base64," + base64.b64encode(clip.data).decode()
    body["messages"][0]["content"][0]["video_url"]["url"] = url


def _mkv(body: dict[str, Any], tmp_path: Path) -> None:
    segment = base64.b64encode((tmp_path / "rec" / "segment-00000.mkv").read_bytes()).decode()
    body["messages"][0]["content"][0]["video_url"]["url"] = "data:video/mp4;base64," + segment


def test_the_scripted_vllm_refuses_clips_off_its_format(tmp_path: Path) -> None:
    body = _body(tmp_path)
    launch = VllmVideo()
    seen = check_video_request(copy.deepcopy(body), SCREEN, launch)
    assert isinstance(seen, SeenPart) and seen.times == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    content = body["messages"][0]["content"]
    cases: dict[str, Any] = {
        "one video_url part": lambda b: b["messages"][0]["content"][0].update(type="video"),
        "data:video/mp4;base64": lambda b: b["messages"][0]["content"][0]["video_url"].update(
            url=content[0]["video_url"]["url"].replace("video/mp4", "video/webm")
        ),
        "one text part": lambda b: b["messages"][0]["content"].append({"type": "text", "text": "more"}),
        "comes first": lambda b: b["messages"][0]["content"].reverse(),
        "sound track": _with_sound_track,
        "no upscale": lambda b: _upscaled(b, tmp_path),
        "no ftyp box": lambda b: _mkv(b, tmp_path),
        "where the video starts": lambda b: b["messages"][0]["content"][-1].update(text="\n\nQuestion: What?"),
    }
    for reason, mutate in cases.items():
        broken = copy.deepcopy(body)
        mutate(broken)
        with pytest.raises(OffFormat, match=reason):
            check_video_request(broken, SCREEN, launch)
