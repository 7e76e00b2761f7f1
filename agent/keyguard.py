"""The last check between a keyboard action's review and its keys (used by the agent loop and replay).

A confirmation can take a while, and the person's answer itself moves focus (the confirmation bar is a
window): the keys may only go to the window they were reviewed against. After a confirmation the guard
waits a moment for the focus to come back (the bar hides again), then refuses. Before a secret is typed it
tells the :class:`~omnidesk.agent.ports.SecretRedactor` where the secret will show, so no frame captured
from then on — sent to the model, saved in the trajectory, or served as a screenshot — shows it.

Where a secret shows: the focused field's rectangle when an accessibility signal knows it; otherwise a
band across the focused window, :data:`BAND_HALF_HEIGHT` pixels above and below the pointer (Omnidesk
clicks into a field before typing, and the typed text starts at the caret in that field); with the
pointer outside the window, the whole window. The band stays blacked out while the capture session lives
— a secret typed into a URL bar stays there after the page changes — and costs the model one strip of
that window, not the whole window it still has to work in.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from omnidesk.agent.actions import Action, TypeText
from omnidesk.agent.errors import OmnideskError
from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import Clock, FieldInspector, SecretRedactor, WindowInfo
from omnidesk.agent.safety import SafetyPolicy, Verdict
from omnidesk.agent.secrets import secret_names

__all__ = ["BAND_HALF_HEIGHT", "KeyGuard", "SecretRedactions", "secret_area"]

logger = logging.getLogger(__name__)

BAND_HALF_HEIGHT = 48
FOCUS_RETURN_SECONDS = 1.5


def secret_area(window: WindowInfo, pointer: tuple[int, int], field: Rect | None = None) -> Rect:
    """Where a secret typed into ``window`` will show (see the module doc), in desktop pixels."""
    bounds = window.geometry
    if field is not None:
        grown = Rect(field.x - 4, field.y - 4, field.width + 8, field.height + 8).intersect(bounds)
        if grown is not None:
            return grown
    x, y = pointer
    if bounds.contains(x, y):
        band = Rect(bounds.x, y - BAND_HALF_HEIGHT, bounds.width, 2 * BAND_HALF_HEIGHT).intersect(bounds)
        if band is not None:
            return band
    return bounds


class SecretRedactions:
    """Where secrets were typed: the :class:`SecretRedactor` port, shared by every :class:`WindowMask` of a
    process (so an MCP screenshot taken during a run is blacked out like the run's own frames).

    An area is kept relative to its window, so it moves with it, and kept until this object is dropped —
    not only while the window is visible: a minimised window shows its field again when restored.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._areas: dict[int, list[Rect]] = {}

    def redact(self, window: WindowInfo, area: Rect) -> None:
        """The :class:`SecretRedactor` port: black out ``area`` (desktop pixels) of ``window`` from now on."""
        origin = window.geometry
        relative = Rect(area.x - origin.x, area.y - origin.y, area.width, area.height)
        with self._lock:
            self._areas.setdefault(window.window_id, []).append(relative)
        logger.info(
            "blacking out %d×%d px of window 0x%x where a secret was typed", area.width, area.height, window.window_id
        )

    def areas(self, windows: Iterable[WindowInfo]) -> dict[int, list[Rect]]:
        """The redacted areas of ``windows`` at their current positions (desktop pixels)."""
        with self._lock:
            if not self._areas:
                return {}
            return {
                w.window_id: [Rect(w.geometry.x + r.x, w.geometry.y + r.y, r.width, r.height) for r in areas]
                for w in windows
                if (areas := self._areas.get(w.window_id))
            }

    def __len__(self) -> int:
        with self._lock:
            return sum(len(areas) for areas in self._areas.values())


class KeyGuard:
    """Checks :meth:`SafetyPolicy.moved_focus` right before keys are sent and blacks out secret areas."""

    def __init__(
        self,
        policy: SafetyPolicy,
        *,
        clock: Clock,
        pointer: Callable[[], tuple[int, int]],
        redactor: SecretRedactor | None = None,
        fields: FieldInspector | None = None,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._pointer = pointer
        self._redactor = redactor
        self._fields = fields

    def refusal(self, action: Action, verdict: Verdict, *, asked: bool) -> str | None:
        """Why ``action``'s keys must not be sent now, or ``None`` (then a secret's area is blacked out).

        ``asked``: the person was asked in between (the focus gets a moment to come back).
        """
        if verdict.window is None:
            return None
        deadline = self._clock.monotonic() + (FOCUS_RETURN_SECONDS if asked else 0.0)
        while (moved := self._policy.moved_focus(verdict)) is not None:
            if self._clock.monotonic() >= deadline:
                return moved
            self._clock.sleep(0.05)
        if isinstance(action, TypeText) and secret_names(action.text) and self._redactor is not None:
            self._redactor.redact(verdict.window, secret_area(verdict.window, self._pointer(), self._field()))
        return None

    def _field(self) -> Rect | None:
        if self._fields is None:
            return None
        try:
            return self._fields.focused_field_area()
        except OmnideskError:
            logger.info("the focused-field signal failed; blacking out a band of the window", exc_info=True)
            return None
