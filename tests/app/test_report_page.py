"""What the report page shows: the letterbox cropped to the monitor's shape, the action point enlarged with
a marker where the action points, readable action text and the run's totals."""

from __future__ import annotations

import re
from pathlib import Path

from omnidesk.app.commands.report import render_report
from tests.app.test_report_command import make_bundle


def test_report_shows_the_monitor_the_point_and_the_totals(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    make_bundle(bundle)  # a 1920×1080 monitor; the model clicks (0.5, 0.5), then fails to parse, then done
    page = render_report(bundle)
    assert page.count('style="aspect-ratio: 1920 / 1080"') == 3  # every overview, bars cropped by CSS
    assert "monitor 1 (1920×1080)" in page
    assert "click(point=(0.5, 0.5), button=&#39;left&#39;, count=1) [fraction]" in page
    assert "→ desktop (960, 540)" in page
    markers = re.findall(r'<i style="left: ([\d.]+)%;\s+top: ([\d.]+)%">', page)
    assert len(markers) == 1  # one step pointed somewhere; its patch is centred on the point
    left, top = (float(v) for v in markers[0])
    assert 45 <= left <= 55 and 45 <= top <= 55
    assert re.search(r"3 steps in [\d.]+ s", page)
    assert "<b>Outcome</b>: finished: done: 42" in page
