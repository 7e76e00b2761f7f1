"""Render the README screenshot of teach mode's review step on a private Xvfb.

    .venv/bin/python -m tests.app.gui.make_teach_screenshot [OUT_DIR]   (default docs/screenshots)

The demonstration is the settings window of ``make_screenshots`` (drawn by Qt): a click on the dark-mode
switch, a typed name, Ctrl+S and a click on Apply. Targets and thumbnails are cut from that picture by the
same functions teach mode uses on a recording's frames.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

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
        notes=["3 input events in deny-listed windows were not recorded"],
    )


def main(out: Path) -> None:
    from PyQt6.QtWidgets import QApplication

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


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots")
    with tempfile.TemporaryDirectory() as tmp:
        server = start_xvfb(Path(tmp))
        os.environ["DISPLAY"] = server.display
        try:
            main(target)
        finally:
            server.stop()
