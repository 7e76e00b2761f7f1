"""A recording question in the trained video layout, what its media cost, and how a long one is cut into
parts — checked against the numbers in vLLM's sources and against the strict scripted model."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.media_budget import audio_tokens, video_frame_size, video_tokens, vllm_image_tokens
from omnidesk.agent.ports import AudioClip, Frame
from omnidesk.agent.recording_plan import Pick, plan_chunks
from omnidesk.agent.recording_prompt import (
    SPOKEN_LABEL,
    SPOKEN_QUESTION,
    RecordingSlice,
    combine_request,
    frame_separators,
    mmss,
    recording_request,
    spoken_clips,
)
from omnidesk.runtime.images import resized_image
from omnidesk.runtime.remote import encode_messages
from tests.models.scripted_nemotron_video import Combine, OffFormat, SeenPart, check_request

SCREEN = (1920, 1080)


def test_separators_are_vllms() -> None:
    # nano_nemotron_vl.py's example: a 30 fps video sampled at 1 fps (33 ms frames: index 30 is 0.99 s).
    assert frame_separators([0.0, 0.99, 1.98, 2.97, 3.96]) == [
        "Frame 1 sampled at 0.00 seconds and frame 2 sampled at 0.99 seconds: ",
        "\nFrame 3 sampled at 1.98 seconds and frame 4 sampled at 2.97 seconds: ",
        "\nFrame 5 sampled at 3.96 seconds: ",
    ]
    assert [mmss(t) for t in (0, 59.99, 134, 3725)] == ["00:00", "00:59", "02:14", "1:02:05"]


def test_media_costs_are_the_engines() -> None:
    assert video_frame_size(1920, 1080) == (672, 384) and video_frame_size(1600, 1200) == (576, 448)
    assert video_frame_size(512, 512) == (512, 512)
    assert video_tokens(64, 1920, 1080) == 8064 and video_tokens(64, 1920, 1080, pruning_rate=0.5) == 4032
    assert audio_tokens(30 * 16000) == 375 and audio_tokens(60 * 16000) == 750
    # 672x384 is 42x24 patches, under the tiler's 1024 minimum: scaled up to 43x25, made even: 44x26.
    assert vllm_image_tokens(672, 384) == 286
    assert vllm_image_tokens(1920, 1080) == (120 * 68) // 4


def test_plan_tiles_the_range_within_the_budget() -> None:
    picks = [Pick(t, 300) for t in (0.0, 2.0, 5.0, 9.0, 9.5)]
    chunks = plan_chunks(picks, 0.0, 12.0, budget=700, audio_tokens=lambda s: round(12.5 * s))
    assert [(c.start, c.end, c.picks) for c in chunks] == [(0.0, 5.0, (0, 1)), (5.0, 9.5, (2, 3)), (9.5, 12.0, (4,))]
    assert len(plan_chunks(picks, 0.0, 12.0, budget=10_000)) == 1
    with pytest.raises(ConfigError, match="budget is 300"):
        plan_chunks(picks, 0.0, 12.0, budget=300, audio_tokens=lambda s: round(12.5 * s))
    with pytest.raises(ConfigError, match="no frame"):
        plan_chunks([], 0.0, 1.0, budget=1000)


def _body(times: list[float], *, audio_seconds: float = 40.0) -> dict[str, Any]:
    monitor = MonitorInfo(1, "x", Rect(0, 0, *SCREEN))
    frames = []
    for k, t in enumerate(times):
        pixels = np.full((SCREEN[1], SCREEN[0], 4), 30 * k, np.uint8)
        image = resized_image(Frame(pixels, t, monitor), *video_frame_size(*SCREEN))
        frames.append(image.__class__(image.pixels, image.transform, image.kind, t))
    rate = 16000
    clips = tuple(
        AudioClip(
            np.zeros(round(min(30.0, audio_seconds - lo) * rate), np.float32), rate, lo, min(lo + 30, audio_seconds)
        )
        for lo in np.arange(0.0, audio_seconds, 30.0)
    )
    piece = RecordingSlice(0.0, audio_seconds, 60.0, tuple(frames), audio=clips)
    request = recording_request(piece, "What did I open?")
    return {"messages": encode_messages(request.messages), "max_tokens": 1024, "stream": True}


def test_the_strict_model_takes_the_request_and_refuses_it_off_format() -> None:
    body = _body([0.0, 1.5, 4.25])
    seen = check_request(body, SCREEN)
    assert isinstance(seen, SeenPart) and seen.times == [0.0, 1.5, 4.25] and seen.clips == [30.0, 10.0]
    assert seen.span == ("00:00", "00:40", "01:00") and seen.question == "What did I open?"

    def refused(change: Any, reason: str) -> None:
        broken = copy.deepcopy(body)
        change(broken["messages"][0]["content"])
        with pytest.raises(OffFormat, match=reason):
            check_request(broken, SCREEN)

    def relabel(parts: list[dict[str, Any]]) -> None:
        parts[3]["text"] = "Frame 3 sampled at 4.25 seconds: "  # the newline before a later group is missing

    def drop_frame(parts: list[dict[str, Any]]) -> None:
        del parts[2]

    def late_audio(parts: list[dict[str, Any]]) -> None:
        parts.insert(0, parts.pop(5))

    def swap_clips(parts: list[dict[str, Any]]) -> None:
        parts[5], parts[6] = parts[6], parts[5]

    refused(relabel, "not the next one")
    refused(drop_frame, "followed by its 2 frame")
    refused(late_audio, "frames come first")
    refused(swap_clips, "full 30 s")
    with pytest.raises(OffFormat, match="a 672x384 frame; the video frame size is 576x448"):
        check_request(body, (1280, 1024))
    with pytest.raises(OffFormat, match="fields"):
        check_request({**body, "video_pruning": 1}, SCREEN)


def _spoken_body(seconds: float = 2.5) -> tuple[dict[str, Any], AudioClip]:
    monitor = MonitorInfo(1, "x", Rect(0, 0, *SCREEN))
    pixels = np.zeros((SCREEN[1], SCREEN[0], 4), np.uint8)
    image = resized_image(Frame(pixels, 0.0, monitor), *video_frame_size(*SCREEN))
    sound = AudioClip(np.zeros(10 * 16000, np.float32), 16000, 0.0, 10.0)
    voice = 0.3 * np.sin(np.arange(round(seconds * 16000)) * (2 * np.pi * 300 / 16000))
    spoken = AudioClip(voice.astype(np.float32), 16000, 500.0, 500.0 + seconds)
    piece = RecordingSlice(0.0, 10.0, 10.0, (image,), audio=(sound,))
    request = recording_request(piece, "", spoken=spoken)
    return {"messages": encode_messages(request.messages), "max_tokens": 1024, "stream": True}, spoken


def test_a_spoken_question_follows_the_recording_labelled_and_apart_from_its_sound() -> None:
    body, spoken = _spoken_body()
    parts = body["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "input_audio", "text", "input_audio", "text"]
    assert parts[3]["text"] == SPOKEN_LABEL
    assert "The recording's sound from 00:00–00:10 follows the frames" in parts[5]["text"]
    seen = check_request(body, SCREEN)
    assert isinstance(seen, SeenPart) and seen.clips == [10.0]  # the recording's sound only
    assert seen.spoken is not None and np.allclose(seen.spoken, spoken.samples, atol=1e-3)
    assert seen.question == SPOKEN_QUESTION

    def refused(change: Any, reason: str) -> None:
        broken = copy.deepcopy(body)
        change(broken["messages"][0]["content"])
        with pytest.raises(OffFormat, match=reason):
            check_request(broken, SCREEN)

    def unlabelled(parts: list[dict[str, Any]]) -> None:
        del parts[3]  # the question's clip then reads as more of the recording's sound

    def no_clip(parts: list[dict[str, Any]]) -> None:
        del parts[3:5]

    def before_the_recording(parts: list[dict[str, Any]]) -> None:
        parts[0:0] = [parts.pop(3), parts.pop(3)]

    def not_said(parts: list[dict[str, Any]]) -> None:
        parts[5]["text"] = parts[5]["text"].replace("asked the question aloud", "asked")

    refused(unlabelled, "full 30 s")
    refused(no_clip, "no spoken question follows")
    refused(before_the_recording, "only a turn merging")
    refused(not_said, "must say the question is the spoken audio")


def test_a_long_spoken_question_is_cut_into_encoder_clips_and_goes_into_the_merge_too() -> None:
    voice = AudioClip(np.full(round(31.5 * 16000), 0.1, np.float32), 16000, 0.0, 31.5)
    assert [c.duration for c in spoken_clips(voice)] == [30.0, 1.5]
    merge = combine_request("", [(0.0, 5.0, "a"), (5.0, 9.0, "b")], length=9.0, spoken=voice)
    seen = check_request({"messages": encode_messages(merge.messages), "max_tokens": 1024}, SCREEN)
    assert isinstance(seen, Combine) and seen.spoken is not None and len(seen.spoken) == len(voice.samples)
    assert seen.question == SPOKEN_QUESTION
    typed = combine_request("What did I open?", [(0.0, 5.0, "a"), (5.0, 9.0, "b")], length=9.0)
    assert check_request({"messages": encode_messages(typed.messages), "max_tokens": 1024}, SCREEN).spoken is None
