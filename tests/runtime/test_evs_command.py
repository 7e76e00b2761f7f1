"""`omnidesk evs` on a video file and on the live rig screen."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from omnidesk.app.cli import cli
from tests.rig.target_client import TargetApp
from tests.runtime.test_evs_scripted import BUSY_SCRIPT, ScriptedSession


def _env(tmp_path: Path) -> dict[str, str]:
    return {"OMNIDESK_CONFIG_DIR": str(tmp_path / "config"), "OMNIDESK_DATA_DIR": str(tmp_path / "data")}


def _green(png: Path) -> int:
    image = cv2.imread(str(png))
    return int(((image[:, :, 1] > 180) & (image[:, :, 0] < 90) & (image[:, :, 2] < 90)).sum())


def test_evs_on_a_video_file(tmp_path: Path) -> None:
    video = tmp_path / "session.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=4, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        for shot in ScriptedSession(BUSY_SCRIPT, fps=4, duration=5).frames():
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(shot.pixels[:, :, :3]), format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    png = tmp_path / "strip.png"
    result = CliRunner().invoke(cli, ["evs", str(video), "--png", str(png)], env=_env(tmp_path))
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if " kept " in line and " s " in line]
    assert len(lines) == 20
    assert "keyframe (start)" in lines[0] and "kept 100.0%" in lines[0]
    # The menu opens at 3.0 s: that frame keeps a small share, the still ones before it none.
    menu_line = next(line for line in lines if "    3.00 s" in line)
    kept = float(menu_line.split("kept")[1].split("%")[0])
    assert 0.1 < kept < 10.0
    assert "20 frames" in result.output and png.exists()
    assert _green(png) > 100  # kept boxes outlined


def test_evs_needs_exactly_one_source(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["evs"], env=_env(tmp_path))
    assert result.exit_code != 0 and "--live" in result.output


@pytest.mark.desktop
def test_evs_live_on_the_rig(x_display: object, target_app: Callable[..., TargetApp], tmp_path: Path) -> None:
    app = target_app(x=200, y=150, width=700, height=500)
    png = tmp_path / "live.png"

    def change() -> None:
        for k in range(6):
            app.send({"cmd": "set_text", "text": f"live change {k}"})
            threading.Event().wait(0.3)

    threading.Timer(0.8, change).start()
    result = CliRunner().invoke(
        cli, ["evs", "--live", "--seconds", "3", "--fps", "4", "--png", str(png)], env=_env(tmp_path)
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if " kept " in line and " s " in line]
    assert len(lines) >= 10 and "keyframe (start)" in lines[0]
    assert any("crop(s)" in line and " 0 crop(s)" not in line for line in lines[1:])
    assert png.exists() and _green(png) > 50
