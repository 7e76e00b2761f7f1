"""Render the README screenshot of teach mode's review step on a private Xvfb.

    .venv/bin/python -m tests.app.gui.make_teach_screenshot [OUT_DIR] [--window]   (default docs/screenshots)

The demonstration is the settings window of ``make_screenshots`` (drawn by Qt): a click on the dark-mode
switch, a typed name, Ctrl+S and a click on Apply. Targets and thumbnails are cut from that picture by the
same functions teach mode uses on a recording's frames.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from PyQt6.QtWidgets import QApplication

from omnidesk.agent.actions import Click, Hotkey, Point, TypeText
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import WindowInfo
from omnidesk.app.teaching.draft import DraftStep, TargetCut, TeachDraft
from omnidesk.runtime.png import CvPngEncoder
from omnidesk.runtime.teach_targets import cut_target, thumbnail_around, thumbnail_of
from tests.app.gui.make_screenshots import _fake_desktop
from tests.rig.xserver import start_xvfb

WINDOW = WindowInfo(5, "Settings — Appearance", ("settings", "Settings"), Rect(560, 170, 800, 640), pid=7)


def _draft() -> TeachDraft:
    screen = _fake_desktop()
    encoder = CvPngEncoder()

    def click(x: int, y: int, at: float) -> DraftStep:
        cut = cut_target(screen, x, y)
        target = TargetCut(encoder.encode_png(cut.patch), cut.anchor, 1920, cut.problem)
        thumb = encoder.encode_png(thumbnail_around(screen, x, y))
        return DraftStep(Click(point=Point(x=x, y=y, space="desktop")), at, WINDOW, [target], thumb, cut.problem)

    box = encoder.encode_png(thumbnail_of(screen, WINDOW.geometry))
    steps = [
        click(1250, 520, 2.4),
        click(1160, 284, 4.1),
        DraftStep(TypeText(text="Ocean blue"), 5.0, WINDOW, [], box),
        DraftStep(Hotkey(keys=("ctrl", "s")), 7.2, WINDOW, [], box),
        click(1240, 762, 8.0),
    ]
    steps[2].secret = ""
    return TeachDraft(
        "Dark mode on",
        Path("recordings/teach-dark-mode-on"),
        MonitorInfo(1, "DP-1", Rect(0, 0, 1920, 1080), primary=True),
        steps,
        description="Turn on dark mode in Settings → Appearance, name the theme “Ocean blue”, save and apply.",
        model_steps=[
            "Turn on the Dark mode switch.",
            "Click the theme name field and type “Ocean blue”.",
            "Press Ctrl+S to save, then click Apply.",
        ],
        notes=["3 input events in deny-listed windows were not recorded"],
    )


def main(out: Path, *, window: bool = False) -> None:
    """Render teach-review.png (and with ``window``, teach-window.png: the whole window with the review)."""

    from omnidesk.app.gui.style import apply_style
    from omnidesk.app.gui.teach_review import TeachReview

    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(["omnidesk", "-platform", "xcb"])
    apply_style(app)
    review = TeachReview()
    review.resize(960, 820)
    review.show_draft(_draft())
    review.steps.setCurrentRow(2)
    review.show()
    for _ in range(5):
        app.processEvents()
    review.grab().save(str(out / "teach-review.png"))
    print("wrote", out / "teach-review.png")
    review.close()
    if window:
        _window_with_review(app, out)


def _window_with_review(app: QApplication, out: Path) -> None:
    """The whole screen: the window on its Automations tab (Show me disabled while reviewing) and the
    review dialog the flow opens over it."""
    from omnidesk.app.gui.main_window import MainWindow
    from omnidesk.app.settings import AppPaths, Settings

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        paths = AppPaths(data / "config", data / "data", data / "run")
        window = MainWindow(Settings(), lambda request, cancel: iter(()), paths=paths)
        window.setGeometry(0, 0, 1600, 1000)
        window.side_tabs.setCurrentWidget(window.automations)
        window.show()
        assert window.teach is not None
        window.teach.review(_draft())
        for _ in range(10):
            app.processEvents()
        screen = app.primaryScreen()
        assert screen is not None
        screen.grabWindow(0, 0, 0, 1600, 1000).save(str(out / "teach-window.png"))
        print("wrote", out / "teach-window.png")
        window.teach.abort()
        window.close()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--window"]
    target = Path(args[0]) if args else Path("docs/screenshots")
    with tempfile.TemporaryDirectory() as tmp:
        server = start_xvfb(Path(tmp))
        os.environ["DISPLAY"] = server.display
        try:
            main(target, window="--window" in sys.argv[1:])
        finally:
            server.stop()
