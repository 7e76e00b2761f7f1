"""Window listing (EWMH and bare X) and the deny-list mask's stacking rules."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from omnidesk.agent.errors import CaptureError
from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import WindowInfo
from omnidesk.runtime.windows import WindowMask, X11WindowInspector, visible_deny_mask
from tests.fakes import FakeWindowInspector
from tests.rig.target_client import TargetApp

Launcher = Callable[..., TargetApp]
AREA = Rect(0, 0, 100, 80)


def _win(wid: int, title: str, rect: Rect, pid: int | None = None) -> WindowInfo:
    return WindowInfo(window_id=wid, title=title, wm_class=("app", "App"), geometry=rect, pid=pid)


def test_a_window_above_a_denied_one_keeps_its_pixels() -> None:
    below = _win(1, "KeePassXC", Rect(10, 10, 50, 50))
    above = _win(2, "Editor", Rect(30, 30, 50, 50))
    mask = visible_deny_mask([below, above], AREA, [True, False])
    assert mask is not None
    assert mask[10:30, 10:60].all() and mask[30:60, 10:30].all()
    assert not mask[30:60, 30:60].any()  # covered by the editor
    assert mask.sum() == 50 * 50 - 30 * 30


def test_a_denied_window_above_others_is_masked_whole_and_clipped_to_the_area() -> None:
    mask = visible_deny_mask(
        [_win(1, "Editor", Rect(0, 0, 100, 80)), _win(2, "pass", Rect(90, 70, 40, 40))], AREA, [False, True]
    )
    assert mask is not None and mask.sum() == 10 * 10 and mask[70:, 90:].all()


def test_no_visible_denied_window_means_no_mask() -> None:
    assert visible_deny_mask([_win(1, "KeePass", Rect(200, 200, 10, 10))], AREA, [True]) is None
    assert visible_deny_mask([_win(1, "Editor", Rect(0, 0, 10, 10))], AREA, [False]) is None


def test_mask_matches_titles_classes_and_own_pids() -> None:
    windows = [
        _win(1, "Passwords - KeePassXC", Rect(0, 0, 10, 10)),
        WindowInfo(2, "Vault", ("bitwarden", "Bitwarden"), Rect(20, 0, 10, 10)),
        _win(3, "Omnidesk", Rect(40, 0, 10, 10), pid=4242),
        _win(4, "Editor", Rect(60, 0, 10, 10), pid=7),
    ]
    mask = WindowMask(FakeWindowInspector(windows), ["keepassxc", "Bitwarden"], own_pids={4242})
    pixels = np.full((80, 100, 4), 200, np.uint8)
    assert mask.apply(pixels, AREA) == 300
    assert (pixels[:10, :50:20, :3] == 0).all() and (pixels[:10, 60:70, :3] == 200).all()
    assert (pixels[:, :, 3] == 200).all()  # alpha untouched


class BrokenInspector:
    def windows(self) -> list[WindowInfo]:
        raise CaptureError("lost the X connection")

    def window_at(self, x: int, y: int) -> WindowInfo | None:
        return None


def test_secret_areas_follow_their_window_and_keep_windows_above() -> None:
    from omnidesk.agent.keyguard import SecretRedactions

    field_window = _win(1, "Login", Rect(10, 10, 60, 40))
    above = _win(2, "Chat", Rect(50, 0, 50, 80))
    redactions = SecretRedactions()
    redactions.redact(field_window, Rect(10, 20, 60, 10))  # a band across the window, 10 px below its top
    inspector = FakeWindowInspector([field_window, above])
    mask = WindowMask(inspector, [], redactions=redactions)
    pixels = np.full((80, 100, 4), 200, np.uint8)
    assert mask.apply(pixels, AREA) == 40 * 10  # the part under the chat window is the chat's
    assert (pixels[20:30, 10:50, :3] == 0).all() and (pixels[20:30, 50:, :3] == 200).all()
    moved = _win(1, "Login", Rect(0, 50, 60, 40))
    assert WindowMask(FakeWindowInspector([moved]), [], redactions=redactions).apply(pixels, AREA) == 60 * 10
    assert (pixels[60:70, 0:50, :3] == 0).all()
    assert len(redactions) == 1


def test_mask_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    pixels = np.full((8, 8, 4), 200, np.uint8)
    with caplog.at_level("CRITICAL"):
        WindowMask(BrokenInspector(), ["x"]).apply(pixels, Rect(0, 0, 8, 8))
    assert (pixels[:, :, :3] == 0).all()


@pytest.mark.desktop
def test_inspector_with_a_window_manager(x_display: object, window_manager: object, target_app: Launcher) -> None:
    app = target_app(x=200, y=150, width=500, height=300, title="Inspector Ünïcode")
    other = target_app(x=400, y=250, width=500, height=300, title="On Top")
    inspector = X11WindowInspector()
    try:
        windows = inspector.windows()
        found = {w.title: w for w in windows}
        assert list(found)[-1] == "On Top"  # topmost last
        info = found["Inspector Ünïcode"]
        assert info.pid == app.process.pid
        assert len(info.wm_class) == 2 and any("target_app" in p or "python" in p.lower() for p in info.wm_class)
        x, y, w, h = app.widget_rect("window")
        # The frame (title bar, borders) is part of the window's outer geometry.
        assert info.geometry.x <= x and info.geometry.y < y
        assert info.geometry.right >= x + w and info.geometry.bottom >= y + h
        ox, oy = other.widget_center("window")
        top = inspector.window_at(ox, oy)
        assert top is not None and top.title == "On Top"
        assert inspector.window_at(x + 5, y + 5).title == "Inspector Ünïcode"  # type: ignore[union-attr]
    finally:
        inspector.close()


@pytest.mark.desktop
def test_inspector_without_a_window_manager(x_display: object, target_app: Launcher) -> None:
    app = target_app(x=250, y=200, width=400, height=300, title="Bare X")
    inspector = X11WindowInspector()
    try:
        info = next(w for w in inspector.windows() if w.title == "Bare X")
    finally:
        inspector.close()
    assert info.geometry == Rect(*app.widget_rect("window"))
    assert info.pid == app.process.pid
