"""Pure geometry shared by every port: rectangles, monitors and the image→monitor transform.

Coordinates are integers (or floats for sub-pixel model points) in *device pixels*. A monitor's
``geometry`` is its place in the X virtual desktop; an :class:`ImageTransform` maps a pixel of an image
the model saw back to pixels of that monitor. :func:`resolve_monitor` says which monitor a setting names.
"""

from __future__ import annotations

from dataclasses import dataclass

from omnidesk.agent.errors import CaptureError, ConfigError, CoordinateError

__all__ = ["ImageTransform", "MonitorInfo", "Rect", "resolve_monitor"]


@dataclass(frozen=True, slots=True)
class Rect:
    """An axis-aligned rectangle; ``right``/``bottom`` are exclusive."""

    x: int
    y: int
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width < 0 or self.height < 0:
            raise ValueError(f"Rect needs a non-negative size, got {self.width}x{self.height}")

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    @property
    def area(self) -> int:
        return self.width * self.height

    def contains(self, x: float, y: float) -> bool:
        """Whether the point lies inside (left/top inclusive, right/bottom exclusive)."""
        return self.x <= x < self.right and self.y <= y < self.bottom

    def intersect(self, other: Rect) -> Rect | None:
        """The overlap of two rectangles, or ``None`` when they do not overlap."""
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.right, other.right), min(self.bottom, other.bottom)
        if x1 <= x0 or y1 <= y0:
            return None
        return Rect(x0, y0, x1 - x0, y1 - y0)

    def translated(self, dx: int, dy: int) -> Rect:
        return Rect(self.x + dx, self.y + dy, self.width, self.height)


@dataclass(frozen=True, slots=True)
class MonitorInfo:
    """One monitor as the whole of Omnidesk numbers it.

    ``index`` is the mss index: 1..n are single monitors, 0 is the whole virtual desktop. Settings store
    ``name`` (the RandR output, e.g. ``"HDMI-1"``), never the index, because indices move when monitors
    are plugged in. ``scale`` is device pixels per logical pixel of the desktop on that monitor (1.0,
    1.5, 2.0); X11 has no per-monitor scale, so it comes from settings.
    """

    index: int
    name: str
    geometry: Rect
    scale: float = 1.0
    primary: bool = False

    @property
    def is_virtual_desktop(self) -> bool:
        return self.index == 0

    def monitor_to_desktop(self, x: float, y: float) -> tuple[int, int]:
        """Map a point in this monitor's pixels to virtual-desktop pixels, rejecting points outside."""
        if not (0 <= x < self.geometry.width and 0 <= y < self.geometry.height):
            raise CoordinateError(
                f"point ({x:.1f}, {y:.1f}) is outside monitor {self.index} ({self.name or 'unnamed'}, "
                f"{self.geometry.width}x{self.geometry.height}); the model pointed off-screen"
            )
        return self.geometry.x + int(x), self.geometry.y + int(y)


@dataclass(frozen=True, slots=True)
class ImageTransform:
    """The affine map from pixels of an image the model saw back to pixels of a monitor.

    ``monitor_x = offset_x + image_x * scale_x`` (likewise y). ``image_width``/``image_height`` are the
    size of the image handed to the model; ``content`` is the part of it that holds screen pixels (the
    rest is letterbox padding, where no click may land).
    """

    monitor: MonitorInfo
    image_width: int
    image_height: int
    content: Rect
    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float

    def __post_init__(self) -> None:
        if self.scale_x <= 0 or self.scale_y <= 0:
            raise ValueError("ImageTransform scales must be positive")

    def image_to_monitor(self, x: float, y: float) -> tuple[float, float]:
        """Map an image pixel to monitor pixels; points in the padding or outside are an error."""
        if not self.content.contains(x, y):
            raise CoordinateError(
                f"point ({x:.1f}, {y:.1f}) is outside the screen content of the {self.image_width}x"
                f"{self.image_height} image (content {self.content}); it is in the letterbox or off-image"
            )
        return self.offset_x + x * self.scale_x, self.offset_y + y * self.scale_y

    def monitor_to_image(self, x: float, y: float) -> tuple[float, float]:
        """Map monitor pixels into this image (the inverse of :meth:`image_to_monitor`, unchecked)."""
        return (x - self.offset_x) / self.scale_x, (y - self.offset_y) / self.scale_y

    def image_to_desktop(self, x: float, y: float) -> tuple[int, int]:
        """Map an image pixel all the way to virtual-desktop pixels (checked like the two steps)."""
        mx, my = self.image_to_monitor(x, y)
        return self.monitor.monitor_to_desktop(mx, my)

    def desktop_to_image(self, x: float, y: float) -> tuple[float, float]:
        """Map a virtual-desktop pixel into this image (unchecked)."""
        return self.monitor_to_image(x - self.monitor.geometry.x, y - self.monitor.geometry.y)

    @property
    def monitor_box(self) -> Rect:
        """The region of the monitor (monitor pixels) that the image's content shows."""
        x0 = self.offset_x + self.content.x * self.scale_x
        y0 = self.offset_y + self.content.y * self.scale_y
        return Rect(
            round(x0),
            round(y0),
            round(self.content.width * self.scale_x),
            round(self.content.height * self.scale_y),
        )


def resolve_monitor(monitors: list[MonitorInfo], selector: int | str | None, *, allow_desktop: bool = False) -> int:
    """The monitor index for a selector: an index (``--monitor N``), an output name, or the primary.

    Indices are the :class:`~omnidesk.agent.ports.Screen` port's: 1..n single monitors, 0 the whole desktop.

    ``0`` (the whole virtual desktop) is accepted only with ``allow_desktop`` (recording, not the agent,
    whose coordinates refer to one monitor).
    """
    if not monitors:
        raise CaptureError("the X server reports no monitors; is a screen attached?")
    if selector is None or selector == "":
        return next((m.index for m in monitors if m.primary), monitors[0].index)
    if isinstance(selector, str):
        if selector.isdigit():
            return resolve_monitor(monitors, int(selector), allow_desktop=allow_desktop)
        for m in monitors:
            if m.name == selector:
                return m.index
        names = ", ".join(m.name for m in monitors)
        raise ConfigError(f"no monitor named {selector!r}; this desktop has {names}. Set capture.monitor to one")
    if selector == 0 and allow_desktop:
        return 0
    if not 1 <= selector <= len(monitors):
        lowest = 0 if allow_desktop else 1
        raise ConfigError(f"no monitor {selector}; choose {lowest}..{len(monitors)} (0 = whole desktop)")
    return selector
