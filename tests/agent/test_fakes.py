"""The fakes behave like the ports they stand for (a wrong fake makes every other test lie)."""

from __future__ import annotations

import threading

import pytest

from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import CancelToken, ChatMessage, ModelRequest
from tests.fakes import FakeModel, FakeSampler, RecordingInputDevice, StaticScreen, letterbox, make_frame


def test_letterbox_maps_a_box_back_onto_itself() -> None:
    frame = make_frame(boxes=[(Rect(1500, 900, 40, 30), (255, 0, 0))])
    image = letterbox(frame, 512)
    red = (image.pixels[:, :, 0] == 255) & (image.pixels[:, :, 1] == 0)
    ys, xs = red.nonzero()
    cx, cy = image.transform.image_to_desktop(xs.mean() + 0.5, ys.mean() + 0.5)
    assert abs(cx - 1520) <= 3 and abs(cy - 915) <= 3
    assert image.transform.content.y > 0  # 16:9 in a square: bars above and below


def test_fake_model_streams_and_stops_on_cancel() -> None:
    model = FakeModel(["x" * 400], chunk=4, token_delay=0.01)
    cancel = CancelToken()
    pieces: list[str] = []
    threading.Timer(0.05, cancel.cancel).start()
    reply = model.generate(
        ModelRequest((ChatMessage.text("user", "hi"),)), on_token=lambda d: pieces.append(d.text), cancel=cancel
    )
    assert reply.stop_reason == "cancelled"
    assert 0 < len(reply.text) < 400 and reply.text == "".join(pieces)


def test_fake_model_runs_out_loudly() -> None:
    model = FakeModel([])
    with pytest.raises(AssertionError):
        model.generate(ModelRequest(()))


def test_sampler_reports_change() -> None:
    screen = StaticScreen([make_frame(), make_frame(), make_frame(color=(0, 0, 0))])
    sampler = FakeSampler(screen)
    assert sampler.observe().changed_fraction == 1.0
    assert sampler.observe().changed_fraction == 0.0
    assert sampler.observe().changed_fraction == 1.0


def test_recording_input_device_tracks_pointer() -> None:
    device = RecordingInputDevice()
    device.click(5, 6)
    assert device.position() == (5, 6)
    device.user_moves_to(100, 100)
    assert device.position() == (100, 100)
    assert device.actions == [("click", 5, 6, "left", 1, ())]
