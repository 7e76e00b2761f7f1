"""One-shot questions to this desktop: which monitors it has, whether its accessibility tree answers.

``omnidesk doctor`` and the MCP server ask them; each opens what it needs through the composition root
(:mod:`omnidesk.app.compose`, which re-exports both and is imported here only when a question is asked)
and closes it before answering.
"""

from __future__ import annotations

import os

from omnidesk.agent.errors import OmnideskError
from omnidesk.agent.ports import AccessibilityStatus, MonitorInfo
from omnidesk.app.settings import Settings

__all__ = ["accessibility_status", "list_monitors"]


def list_monitors(settings: Settings) -> list[MonitorInfo]:
    """This desktop's monitors: names, geometry, the scale from settings, the primary flagged."""
    from omnidesk.app.compose import build_screen

    screen = build_screen(settings)
    try:
        return screen.monitors()
    finally:
        screen.close()


def accessibility_status(settings: Settings) -> AccessibilityStatus:
    """Whether this desktop's accessibility tree answers (``omnidesk doctor``), and what to do if not."""
    from omnidesk.app.compose import choose_platform

    try:
        platform = choose_platform(os.environ)
    except OmnideskError as exc:
        return AccessibilityStatus(False, str(exc), "run Omnidesk in an X11 session")
    port = platform.accessibility(settings)
    try:
        return port.status()
    finally:
        port.close()
