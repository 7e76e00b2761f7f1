"""EvsSampler (the FrameSampler port): images, labels, token counts and settle waits, on scripted frames."""

from __future__ import annotations

import numpy as np

from omnidesk.agent.errors import CaptureError
from omnidesk.agent.formats import ImageSizing
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import Frame, FrameSampler
from omnidesk.runtime.config import EvsConfig
from omnidesk.runtime.evs_sampler import EvsSampler
from tests.runtime.test_evs_scripted import EDITOR, MENU, SPINNER, ScriptedSession

MONITOR = MonitorInfo(1, "DUMMY0", Rect(0, 0, 1920, 1080), primary=True)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class ScriptedSource:
    """A capture stream over a scripted session whose time is a fake clock: each new frame advances it."""

    def __init__(self, session: ScriptedSession, clock: Clock) -> None:
        self._frames = iter(session.frames())
        self._clock = clock
        self._fps = session.fps
        self._current: Frame | None = None
        self._seq = 0

    def _next(self) -> Frame:
        shot = next(self._frames)
        self._seq += 1
        self._clock.now = shot.timestamp
        pixels = shot.pixels
        pixels.setflags(write=False)
        self._current = Frame(pixels, shot.timestamp, MONITOR, self._seq)
        return self._current

    def latest(self) -> Frame | None:
        return self._current

    def wait_frame(self, after_seq: int = 0, timeout: float = 5.0) -> Frame:
        frame = self.poll_frame(after_seq, timeout)
        if frame is None:
            raise CaptureError("no frame")
        return frame

    def poll_frame(self, after_seq: int, timeout: float) -> Frame | None:
        if self._current is not None and self._current.seq > after_seq:
            return self._current
        # The next frame arrives one period after the current one; a shorter wait sees none.
        if self._current is not None and self._current.timestamp + 1.0 / self._fps > self._clock.now + timeout:
            self._clock.now += timeout
            return None
        try:
            return self._next()
        except StopIteration:
            return None

    def advance_to(self, t: float) -> None:
        while self._current is None or self._current.timestamp + 1e-9 < t:
            self._next()


def _sampler(
    script: list[tuple[float, str, object]],
    config: EvsConfig,
    duration: float = 20,
    fps: float = 4,
    sizing: ImageSizing | None = None,
):
    clock = Clock()
    source = ScriptedSource(ScriptedSession(script, fps=fps, duration=duration, blink_period=1000), clock)
    sampler = EvsSampler(source, config, image_size=512, tokens_per_image=256, epoch=0.0, clock=clock, sizing=sizing)
    return sampler, source


def test_with_a_formats_sizing_a_keyframe_is_the_whole_screenshot() -> None:
    sampler, source = _sampler([(1.0, "type", "hello")], EvsConfig(), sizing=ImageSizing.native())
    source.advance_to(0.0)
    (image,) = sampler.observe().images
    frame = source.latest()
    assert frame is not None and image.kind == "overview"
    assert image.pixels.shape[:2] == (frame.height, frame.width)  # not a 512² letterbox
    assert image.transform.content.width == frame.width


def test_keyframe_then_crops_then_nothing() -> None:
    sampler, source = _sampler([(1.0, "type", "hello"), (3.0, "menu", "open")], EvsConfig())
    port: FrameSampler = sampler  # mypy checks the port's shape
    assert port is sampler
    first = sampler.observe()
    assert first.keyframe and len(first.images) == 1
    image = first.images[0]
    assert image.kind == "overview" and image.pixels.shape == (512, 512, 3)
    assert image.label == "Frame at 0.00 s"

    source.advance_to(2.0)  # "hello" typed
    typed = sampler.observe()
    assert not typed.keyframe and typed.images
    assert all(img.kind == "crop" for img in typed.images)
    assert typed.images[0].label.startswith("Changed region ") and typed.images[0].label.endswith(
        " of monitor 1 at 2.00 s"
    )
    box = typed.changed_boxes[0]
    assert box.intersect(EDITOR) is not None and box.area < EDITOR.area
    # The crop's transform maps back onto the changed box.
    shown = typed.images[0].transform.monitor_box
    assert shown.intersect(box) == box

    source.advance_to(2.5)
    still = sampler.observe()
    assert still.images == () and still.notes == ("no change since 2.00 s",)

    source.advance_to(3.0)
    menu = sampler.observe()
    assert len(menu.images) >= 1 and not menu.keyframe
    stats = sampler.stats()
    assert stats.observations == 4
    assert stats.tokens_sent == 256 * (1 + len(typed.images) + len(menu.images))
    assert stats.tokens_without_evs == 4 * 256


def test_forced_keyframe_and_evs_off() -> None:
    sampler, source = _sampler([], EvsConfig())
    sampler.observe()
    source.advance_to(1.0)
    assert sampler.observe().images == ()
    forced = sampler.observe(force_keyframe=True)
    assert forced.keyframe and forced.notes == ("keyframe (forced)",)

    off, source = _sampler([], EvsConfig(enabled=False))
    for t in (0.0, 0.5, 1.0):
        source.advance_to(t)
        assert len(off.observe().images) == 1
    assert off.stats().tokens_sent == off.stats().tokens_without_evs == 3 * 256


def test_max_crops_zero_sends_an_overview_of_changes() -> None:
    sampler, source = _sampler([(1.0, "menu", "open")], EvsConfig(max_crops=0))
    sampler.observe()
    source.advance_to(1.5)
    obs = sampler.observe()
    assert [img.kind for img in obs.images] == ["overview"]


def test_settles_on_a_still_screen_within_bounds() -> None:
    sampler, source = _sampler([(0.0, "type", "abc")], EvsConfig(), fps=10)
    source.advance_to(0.5)
    result = sampler.wait_settled(still_for=0.3, timeout=3.0)
    assert result.settled
    assert 0.3 <= result.waited_seconds <= 0.6
    assert result.animating_boxes == ()


def test_reports_animation_instead_of_waiting_for_the_timeout() -> None:
    sampler, _ = _sampler([(0.0, "spinner", "start")], EvsConfig(), fps=10)
    result = sampler.wait_settled(still_for=0.3, timeout=10.0)
    assert not result.settled
    assert result.waited_seconds < 3.0  # bounded well before the 10 s timeout
    assert result.animating_boxes
    assert all(b.intersect(SPINNER) is not None for b in result.animating_boxes)


def test_times_out_when_everything_keeps_changing() -> None:
    # Typing all over for the whole wait: not an animation in one place, not still.
    text = "x" * 200
    sampler, _ = _sampler([(0.0, "type", text)], EvsConfig(), fps=10)
    result = sampler.wait_settled(still_for=0.3, timeout=1.0)
    assert not result.settled
    assert 0.9 <= result.waited_seconds <= 1.2


def test_crop_pixels_are_the_frame_pixels() -> None:
    sampler, source = _sampler([(1.0, "menu", "open")], EvsConfig())
    sampler.observe()
    source.advance_to(1.5)
    obs = sampler.observe()
    frame = source.latest()
    assert frame is not None
    crop = obs.images[0]
    box = crop.transform.monitor_box
    assert crop.transform.scale_x == crop.transform.scale_y == 1.0  # a small change: native resolution
    assert box.contains(MENU.x, MENU.y) and box.contains(MENU.right - 1, MENU.bottom - 1)
    c = crop.transform.content
    expected = frame.pixels[box.y : box.bottom, box.x : box.right, 2::-1]
    assert np.array_equal(crop.pixels[c.y : c.bottom, c.x : c.right], expected)


def test_pack_boxes_merges_what_fits_one_native_crop() -> None:
    from omnidesk.runtime.evs_sampler import pack_boxes

    a, b, far = Rect(0, 0, 64, 32), Rect(200, 100, 64, 64), Rect(1500, 900, 64, 64)
    assert pack_boxes([a, b, far], 512) == [Rect(0, 0, 264, 164), far]
    assert pack_boxes([a, far], 512) == [a, far]
    assert pack_boxes([Rect(0, 0, 600, 10), Rect(0, 20, 10, 10)], 512) == [Rect(0, 0, 600, 10), Rect(0, 20, 10, 10)]


def test_realistic_session_saves_three_quarters_of_the_tokens() -> None:
    """Observing every frame (2 fps) of the agent-paced 60 s session: ≥ 75% fewer tokens than overviews."""
    from tests.runtime.test_evs_scripted import REALISTIC_CPS, realistic_script

    clock = Clock()
    session = ScriptedSession(realistic_script(60.0), fps=2, duration=60, chars_per_second=REALISTIC_CPS)
    source = ScriptedSource(session, clock)
    sampler = EvsSampler(source, EvsConfig(), image_size=512, tokens_per_image=256, epoch=0.0, clock=clock)
    for t in np.arange(0, 60, 0.5):
        source.advance_to(float(t))
        sampler.observe()
    stats = sampler.stats()
    assert stats.observations == 120 and stats.tokens_without_evs == 120 * 256
    assert stats.tokens_sent <= 0.25 * stats.tokens_without_evs, stats
    assert stats.keyframes == 6  # the start and one every 10 s


def test_a_stop_request_ends_the_settle_wait() -> None:
    """Typing all over never settles; a cancel after a few frames ends the wait long before its timeout."""
    from omnidesk.agent.ports import CancelToken

    sampler, source = _sampler([(0.0, "type", "x" * 200)], EvsConfig(), fps=10)
    cancel = CancelToken()
    polls = 0
    poll_frame = source.poll_frame

    def counting_poll(after_seq: int, timeout: float) -> Frame | None:
        nonlocal polls
        polls += 1
        assert timeout <= 0.05  # the wait looks at the token at least every 50 ms
        if polls == 3:
            cancel.cancel()
        return poll_frame(after_seq, timeout)

    source.poll_frame = counting_poll  # type: ignore[method-assign]
    result = sampler.wait_settled(still_for=0.3, timeout=10.0, cancel=cancel)
    assert not result.settled
    assert polls == 3
    assert result.waited_seconds < 1.0
