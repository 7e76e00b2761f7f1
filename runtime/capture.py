"""Screen capture with mss: the Screen port (:class:`MssScreen`) and a capture thread (:class:`CaptureStream`).

Monitors are numbered as mss numbers them (1..n, 0 = the whole virtual desktop); their RandR output
names and the primary flag come from python-xlib's RandR extension (``XRRGetMonitors``), their scale from
settings (X11 has no per-monitor scale). An mss instance is bound to the thread that made it, so
:class:`MssScreen` keeps one per thread. Every grabbed frame passes the privacy mask (deny-listed and own
windows blacked out) before it is handed to anyone; the pixels are a read-only, zero-copy view of mss's
buffer.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from omnidesk.agent.errors import CaptureError, ConfigError
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import Frame, Screen
from omnidesk.runtime.display import open_x_display
from omnidesk.runtime.windows import WindowMask
from omnidesk.runtime.xcb_events import XcbEvents

__all__ = [
    "CaptureStats",
    "CaptureStream",
    "MssScreen",
    "RegionScreen",
    "randr_monitors",
]

log = logging.getLogger(__name__)

MAX_FPS = 30.0
_MAX_CONSECUTIVE_ERRORS = 3


@dataclass(frozen=True, slots=True)
class _RandrMonitor:
    name: str
    geometry: Rect
    primary: bool


def randr_monitors(display: str | None = None) -> list[_RandrMonitor]:
    """The RandR monitors of ``display`` (``XRRGetMonitors``): output name, geometry, primary flag."""
    conn = open_x_display(display)
    try:
        reply = conn.screen().root.xrandr_get_monitors(is_active=True)
        return [
            _RandrMonitor(
                name=conn.get_atom_name(m.name),
                geometry=Rect(int(m.x), int(m.y), int(m.width_in_pixels), int(m.height_in_pixels)),
                primary=bool(m.primary),
            )
            for m in reply.monitors
        ]
    finally:
        conn.close()


def _new_mss(display: str | None) -> Any:
    import mss

    factory = getattr(mss, "MSS", None)
    if factory is None:  # mss < 10.2 has only the lower-case factory
        factory = mss.mss
    try:
        return factory(display=display) if display else factory()
    except mss.ScreenShotError as exc:
        raise CaptureError(f"cannot open the screen for capture: {exc}; is the X server running?") from exc


def _rect_of(mon: Mapping[str, Any]) -> Rect:
    return Rect(int(mon["left"]), int(mon["top"]), int(mon["width"]), int(mon["height"]))


class RegionScreen(Screen, Protocol):
    """A Screen that can also grab an arbitrary rectangle of the virtual desktop."""

    def grab_region(self, region: Rect) -> Frame: ...


class MssScreen:
    """The Screen port over mss, with RandR names, scales from settings and the privacy mask.

    Args:
        scale: desktop scale per RandR output name (``CaptureConfig.scale``); missing names are 1.0.
        display: X display name; ``None`` uses ``DISPLAY``.
        mask: blacks out denied windows in every frame; ``None`` only where nothing is private (tests).
        monitor_refresh_seconds: how often grabs re-read the monitor layout (RandR changes, hot-plug).
    """

    def __init__(
        self,
        scale: Mapping[str, float] | None = None,
        *,
        display: str | None = None,
        mask: WindowMask | None = None,
        monitor_refresh_seconds: float = 5.0,
    ) -> None:
        self._scale = dict(scale or {})
        self._display = display
        self._mask = mask
        self._local = threading.local()
        self._monitors: list[MonitorInfo] | None = None
        self._monitors_at = -math.inf
        self._monitors_lock = threading.Lock()
        self._refresh = monitor_refresh_seconds

    def _sct(self) -> Any:
        sct = getattr(self._local, "sct", None)
        if sct is None:
            sct = _new_mss(self._display)
            self._local.sct = sct
            if self._mask is not None:  # the mask reads window events where this thread grabs
                self._mask.grabbing_on(XcbEvents.of(sct))
        return sct

    def release_thread(self) -> None:
        """Close the calling thread's mss instance (a capture thread calls this before it ends)."""
        sct = getattr(self._local, "sct", None)
        if sct is not None:
            if self._mask is not None:
                self._mask.grabbing_on(None)
            sct.close()
            self._local.sct = None

    def close(self) -> None:
        """Close this thread's mss instance and the mask's X connection."""
        self.release_thread()
        if self._mask is not None:
            self._mask.close()

    def monitors(self) -> list[MonitorInfo]:
        """Every single monitor (mss index 1..n), named and flagged primary from RandR; fresh each call."""
        import mss

        try:
            with _new_mss(self._display) as sct:
                raw = list(sct.monitors)
        except mss.ScreenShotError as exc:
            raise CaptureError(f"cannot list monitors: {exc}") from exc
        randr = {m.geometry: m for m in randr_monitors(self._display)}
        found: list[MonitorInfo] = []
        for index, mon in enumerate(raw[1:], start=1):
            geometry = _rect_of(mon)
            match = randr.get(geometry)
            name = match.name if match else str(mon.get("output", ""))
            primary = match.primary if match else bool(mon.get("is_primary", False))
            found.append(MonitorInfo(index, name, geometry, self._scale.get(name, 1.0), primary))
        with self._monitors_lock:
            self._monitors = found
            self._monitors_at = time.monotonic()
        return list(found)

    def _monitor(self, index: int) -> MonitorInfo:
        with self._monitors_lock:
            known = self._monitors
            stale = time.monotonic() - self._monitors_at >= self._refresh
        if known is None or stale or index > len(known):
            known = self.monitors()
        if index == 0:
            return _virtual_desktop(known)
        if not 1 <= index <= len(known):
            raise CaptureError(
                f"there is no monitor {index}; this desktop has monitors 1..{len(known)} (see `omnidesk doctor`)"
            )
        return known[index - 1]

    def grab(self, monitor: int) -> Frame:
        """Grab one frame of ``monitor`` (mss index; 0 = the whole virtual desktop)."""
        info = self._monitor(monitor)
        return self._grab(info.geometry, info)

    def grab_region(self, region: Rect) -> Frame:
        """Grab a rectangle of the virtual desktop; the frame's monitor is the region itself (index 0)."""
        return self._grab(region, MonitorInfo(0, "region", region))

    def _grab(self, rect: Rect, info: MonitorInfo) -> Frame:
        import mss

        box = {"left": rect.x, "top": rect.y, "width": rect.width, "height": rect.height}
        sct = self._sct()
        if self._mask is not None:
            self._mask.prepare()  # the window list must be known before the pixels are
        try:
            t0 = time.monotonic()
            shot = sct.grab(box)
            t1 = time.monotonic()
        except mss.ScreenShotError as exc:
            raise CaptureError(f"cannot grab {rect} of the screen: {exc}") from exc
        height, width = int(shot.height), int(shot.width)
        pixels = np.frombuffer(shot.raw, dtype=np.uint8).reshape(height, width, 4)
        if self._mask is not None:
            self._mask.apply(pixels, rect)
        pixels.flags.writeable = False
        return Frame(pixels=pixels, timestamp=(t0 + t1) / 2, monitor=info)


def _virtual_desktop(monitors: list[MonitorInfo]) -> MonitorInfo:
    if not monitors:
        raise CaptureError("the X server reports no monitors; is a screen attached?")
    x0 = min(m.geometry.x for m in monitors)
    y0 = min(m.geometry.y for m in monitors)
    x1 = max(m.geometry.right for m in monitors)
    y1 = max(m.geometry.bottom for m in monitors)
    return MonitorInfo(0, "desktop", Rect(x0, y0, x1 - x0, y1 - y0))


@dataclass(frozen=True, slots=True)
class CaptureStats:
    """``missed``: capture ticks skipped because a grab ran late; ``overwritten``: frames that left the
    ring buffer before anyone read them."""

    captured: int
    missed: int
    overwritten: int
    fps: float

    @property
    def dropped(self) -> int:
        return self.missed + self.overwritten


class CaptureStream:
    """A capture thread for one monitor, one region or the whole virtual desktop.

    Frames go into a bounded ring buffer (``buffer_frames``); when readers fall behind the oldest frames
    are dropped, and when a grab runs late capture ticks are skipped, never queued: memory stays bounded
    and both are counted (:meth:`stats`). A grab failing three times in a row stops the stream; readers then
    get the :class:`CaptureError`.
    """

    def __init__(
        self,
        screen: Screen,
        *,
        monitor: int = 1,
        region: Rect | None = None,
        fps: float = 2.0,
        buffer_frames: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < fps <= MAX_FPS:
            raise ConfigError(f"capture fps must be in (0, {MAX_FPS:g}], got {fps:g}")
        if buffer_frames < 1:
            raise ConfigError("the capture buffer needs at least one frame")
        if region is not None and not hasattr(screen, "grab_region"):
            raise ConfigError("this screen cannot grab regions; capture a whole monitor instead")
        self._screen = screen
        self._monitor = monitor
        self._region = region
        self._interval = 1.0 / fps
        self._clock = clock
        self._frames: collections.deque[Frame] = collections.deque(maxlen=buffer_frames)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: CaptureError | None = None
        self._seq = 0
        self._read_seq = 0
        self._missed = 0
        self._overwritten = 0
        self._started_at = 0.0

    @property
    def fps(self) -> float:
        return 1.0 / self._interval

    def start(self) -> CaptureStream:
        if self._thread is not None:
            return self
        self._stop.clear()
        self._started_at = self._clock()
        self._thread = threading.Thread(target=self._run, name="omnidesk-capture", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> CaptureStream:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _grab(self) -> Frame:
        if self._region is not None:
            grab_region: Callable[[Rect], Frame] = self._screen.grab_region  # type: ignore[attr-defined]
            return grab_region(self._region)
        return self._screen.grab(self._monitor)

    def _run(self) -> None:
        errors = 0
        next_tick = self._clock()
        try:
            while not self._stop.is_set():
                now = self._clock()
                if now < next_tick:
                    self._stop.wait(next_tick - now)
                    continue
                late = int((now - next_tick) / self._interval)
                if late:
                    self._missed += late
                    next_tick += late * self._interval
                next_tick += self._interval
                try:
                    frame = self._grab()
                except Exception as exc:  # noqa: BLE001 - any failure is reported to readers as CaptureError
                    errors += 1
                    log.warning("screen grab failed (%d in a row): %s", errors, exc)
                    if errors >= _MAX_CONSECUTIVE_ERRORS:
                        self._fail(exc)
                        return
                    continue
                errors = 0
                self._push(frame)
        finally:
            release = getattr(self._screen, "release_thread", None)
            if callable(release):
                release()

    def _fail(self, exc: BaseException) -> None:
        err = exc if isinstance(exc, CaptureError) else CaptureError(f"screen capture failed: {exc}")
        if err is not exc:
            err.__cause__ = exc
        with self._cond:
            self._error = err
            self._cond.notify_all()

    def _push(self, frame: Frame) -> None:
        with self._cond:
            self._seq += 1
            full = self._frames.maxlen is not None and len(self._frames) == self._frames.maxlen
            if full and self._frames[0].seq > self._read_seq:
                self._overwritten += 1
            self._frames.append(replace(frame, seq=self._seq))
            self._cond.notify_all()

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def latest(self) -> Frame | None:
        """The newest frame, or ``None`` before the first one."""
        with self._cond:
            self._check()
            if not self._frames:
                return None
            frame = self._frames[-1]
            self._read_seq = max(self._read_seq, frame.seq)
            return frame

    def frames_since(self, timestamp: float) -> list[Frame]:
        """Buffered frames captured after ``timestamp`` (monotonic), oldest first."""
        with self._cond:
            self._check()
            frames = [f for f in self._frames if f.timestamp > timestamp]
            if frames:
                self._read_seq = max(self._read_seq, frames[-1].seq)
            return frames

    def wait_frame(self, after_seq: int = 0, timeout: float = 5.0) -> Frame:
        """Block until a frame newer than ``after_seq`` exists and return the newest one."""
        frame = self.poll_frame(after_seq, timeout)
        if frame is None:
            raise CaptureError(f"no new frame within {timeout:.1f} s; the capture thread is stalled or stopped")
        return frame

    def poll_frame(self, after_seq: int, timeout: float) -> Frame | None:
        """Like :meth:`wait_frame`, but ``None`` when no newer frame came within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                self._check()
                if self._frames and self._frames[-1].seq > after_seq:
                    frame = self._frames[-1]
                    self._read_seq = max(self._read_seq, frame.seq)
                    return frame
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    return None
                self._cond.wait(remaining)

    def stats(self) -> CaptureStats:
        with self._cond:
            elapsed = max(self._clock() - self._started_at, 1e-9)
            return CaptureStats(self._seq, self._missed, self._overwritten, self._seq / elapsed)
