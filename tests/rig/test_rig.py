"""Tests of the desktop rig itself: real pixels, real XTest input, real monitors, real sound."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import wave
from pathlib import Path

import mss
import numpy as np
import pytest

from tests.rig.audio import SAMPLE_RATE, PulseAudioRig
from tests.rig.plugin import Launcher
from tests.rig.target_client import TargetApp
from tests.rig.xserver import Monitor, WindowManager, XorgDummy, XServer

SOLID_WIDGETS = ["ok_button", "cancel_button", "big_button", "text_field", "item_list", "dialog_button"]


def xdotool(*args: str) -> None:
    """Send input through XTest on the current DISPLAY."""
    subprocess.run(["xdotool", *args], check=True, timeout=30)


def click(x: int, y: int, button: int = 1) -> float:
    """Click at a device pixel; returns the monotonic time just before the click was sent."""
    sent = time.monotonic()
    xdotool("mousemove", "--sync", str(x), str(y), "click", str(button))
    return sent


def grab(rect: tuple[int, int, int, int]) -> np.ndarray:
    """Pixels of a rect of the virtual desktop as an (h, w, 3) BGR array."""
    x, y, w, h = rect
    with mss.MSS() as grabber:
        shot = grabber.grab({"left": x, "top": y, "width": w, "height": h})
    return np.frombuffer(shot.bgra, np.uint8).reshape(shot.height, shot.width, 4)[:, :, :3]


def bgr(color: str) -> np.ndarray:
    """'#rrggbb' as a BGR triple."""
    return np.array([int(color[5:7], 16), int(color[3:5], 16), int(color[1:3], 16)], np.uint8)


def colour_fraction(app: TargetApp, name: str) -> float:
    """How much of a widget's reported rect shows the widget's known colour."""
    pixels = grab(app.widget_rect(name))
    return float(np.all(pixels == bgr(app.ready["colors"][name]), axis=-1).mean())


def assert_click_lands(app: TargetApp, name: str) -> dict[str, float]:
    """Click a widget's centre with xdotool and check the app saw it there, within 1 px."""
    app.clear()
    x, y = app.widget_center(name)
    sent = click(x, y)
    press = app.wait_for({"type": "mouse_press", "widget": name}, timeout=15)
    app.wait_for({"type": "clicked", "widget": name}, timeout=15)
    assert abs(press["x"] - x) <= 1 and abs(press["y"] - y) <= 1, (press, (x, y))
    return {"dx": press["x"] - x, "dy": press["y"] - y, "latency_s": press["t"] - sent}


@pytest.mark.desktop
def test_xvfb_is_exported(x_display: XServer) -> None:
    assert os.environ["DISPLAY"] == x_display.display
    assert os.environ["XDG_SESSION_TYPE"] == "x11"
    assert "WAYLAND_DISPLAY" not in os.environ
    info = subprocess.run(["xdpyinfo"], capture_output=True, text=True, check=True, timeout=30).stdout
    assert f"dimensions:    {x_display.width}x{x_display.height} pixels" in info


@pytest.mark.desktop
def test_capture_finds_each_widget_colour(target_app: Launcher) -> None:
    app = target_app(x=120, y=80)
    assert app.ready["geometry_ok"], app.ready
    assert app.widget_rect("window") == (120, 80, 800, 600)
    app.save_png("/tmp/rig-target.png")
    fractions = {name: colour_fraction(app, name) for name in SOLID_WIDGETS}
    assert all(f > 0.6 for f in fractions.values()), fractions


@pytest.mark.desktop
def test_xdotool_click_is_reported_at_its_position(target_app: Launcher) -> None:
    app = target_app()
    result = assert_click_lands(app, "ok_button")
    release = app.wait_for({"type": "mouse_release", "widget": "ok_button", "button": "left"})
    assert release["modifiers"] == []
    print(f"click error {result['dx']:+.2f},{result['dy']:+.2f} px, latency {result['latency_s'] * 1000:.1f} ms")


@pytest.mark.desktop
def test_xdotool_type_arrives_in_text_field(target_app: Launcher) -> None:
    app = target_app()
    x, y = app.widget_center("text_field")
    click(x, y)
    app.wait_for({"type": "mouse_release", "widget": "text_field"}, timeout=15)
    text = "open <the> terminal: 42!"
    xdotool("type", "--delay", "12", "--", text)
    app.wait_for({"type": "text", "widget": "text_field", "text": text}, timeout=30)
    assert app.wait_for({"type": "key_press", "text": "<"})["widget"] == "text_field"


@pytest.mark.desktop
def test_menu_list_and_dialog_report_what_was_chosen(target_app: Launcher) -> None:
    app = target_app()
    mx, my, _, mh = app.widget_rect("menu_bar")
    click(mx + 15, my + mh // 2)
    shown = app.wait_for({"type": "menu_shown", "menu": "File"}, timeout=15)
    assert list(shown["items"]) == ["Open", "Save", "Quit"]
    ox, oy, ow, oh = shown["items"]["Save"]
    click(ox + ow // 2, oy + oh // 2)
    app.wait_for({"type": "menu", "menu": "File", "text": "Save"}, timeout=15)

    click(*app.widget_center("Charlie"))
    app.wait_for({"type": "select", "widget": "item_list", "text": "Charlie"}, timeout=15)

    click(*app.widget_center("dialog_button"))
    app.wait_for({"type": "dialog_shown"}, timeout=15)
    assert colour_fraction(app, "dialog_ok") > 0.6
    assert_click_lands(app, "dialog_ok")
    app.wait_for({"type": "dialog_closed", "result": 1}, timeout=15)


@pytest.mark.desktop
def test_move_command_moves_the_real_window(target_app: Launcher) -> None:
    app = target_app()
    reply = app.move(700, 300)
    assert reply["x_origin"] == [700, 300] and reply["geometry_ok"], reply
    assert app.widget_rect("window")[:2] == (700, 300)
    assert_click_lands(app, "cancel_button")


@pytest.mark.desktop
@pytest.mark.parametrize("scale", [1.5, 2.0])
def test_scaled_app_reports_device_pixels(target_app: Launcher, scale: float) -> None:
    app = target_app(x=200, y=150, width=1200, height=800, scale=scale)
    assert app.ready["dpr"] == scale
    assert app.ready["geometry_ok"], app.ready
    assert app.widget_rect("window") == (200, 150, 1200, 800)
    for name in ("ok_button", "big_button"):
        assert_click_lands(app, name)
        assert colour_fraction(app, name) > 0.6


@pytest.mark.desktop
def test_dual_monitors_are_seen_by_mss_and_the_app(dual_monitor_display: XorgDummy, target_app: Launcher) -> None:
    assert os.environ["DISPLAY"] == dual_monitor_display.display
    with mss.MSS() as grabber:
        monitors = grabber.monitors
    assert [(m["left"], m["top"], m["width"], m["height"]) for m in monitors] == [
        (0, 0, 3200, 1080),
        (0, 0, 1920, 1080),
        (1920, 0, 1280, 1024),
    ]
    assert dual_monitor_display.monitors == [
        Monitor("DUMMY0", 0, 0, 1920, 1080),
        Monitor("DUMMY1", 1920, 0, 1280, 1024),
    ]
    app = target_app(x=100, y=100, width=900, height=700, screen="DUMMY1")
    assert app.widget_rect("window") == (2020, 100, 900, 700)
    assert colour_fraction(app, "big_button") > 0.6
    assert_click_lands(app, "ok_button")


@pytest.mark.desktop
def test_hidpi_layout_with_scaled_app(dual_monitor_display: XorgDummy, target_app: Launcher) -> None:
    layout = dual_monitor_display.set_layout([("DUMMY0", 3840, 2160, 0, 0), ("DUMMY1", 1920, 1080, 3840, 0)])
    assert layout == dual_monitor_display.query_monitors()
    with mss.MSS() as grabber:
        assert grabber.monitors[0]["width"] == 5760
        assert [m["output"] for m in grabber.monitors[1:]] == ["DUMMY0", "DUMMY1"]
    app = target_app(x=1000, y=600, width=1600, height=1200, scale=2.0, screen="DUMMY0")
    assert app.ready["geometry_ok"], app.ready
    assert assert_click_lands(app, "ok_button")
    other = target_app(x=50, y=50, screen="DUMMY1")
    assert other.widget_rect("window")[:2] == (3890, 50)
    assert_click_lands(other, "cancel_button")


@pytest.mark.desktop
def test_window_manager_manages_the_app(window_manager: WindowManager, target_app: Launcher) -> None:
    assert window_manager.display == os.environ["DISPLAY"]
    app = target_app(title="Managed Target")
    app.refresh()
    assert app.geometry["geometry_ok"], app.geometry
    assert_click_lands(app, "big_button")
    active = subprocess.run(
        ["xdotool", "getactivewindow", "getwindowname"], capture_output=True, text=True, timeout=30, check=True
    )
    assert active.stdout.strip() == "Managed Target", active


def read_wav(path: Path) -> np.ndarray:
    """A 16-bit mono WAV as float32 in [-1, 1]."""
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (SAMPLE_RATE, 1, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), np.int16).astype(np.float32) / 32768


@pytest.mark.audio
def test_speech_played_into_mic_feed_is_recorded(pulse_audio: PulseAudioRig) -> None:
    import sounddevice

    speech = pulse_audio.speak("open the terminal")
    source = read_wav(speech)
    chunks: list[np.ndarray] = []
    started: list[int] = []  # samples recorded when paplay was started
    enough = threading.Event()
    wanted = len(source) + SAMPLE_RATE  # the speech plus a second of slack for latency

    listening = threading.Event()

    def callback(data: np.ndarray, frames: int, when: object, status: object) -> None:
        chunks.append(data[:, 0].copy())
        recorded_so_far = sum(map(len, chunks))
        if recorded_so_far >= SAMPLE_RATE // 5:
            listening.set()
        if started and recorded_so_far >= started[0] + wanted:
            enough.set()

    with sounddevice.InputStream(samplerate=SAMPLE_RATE, channels=1, dtype="float32", callback=callback):
        # Play only once the stream delivers audio: speech that starts before the first recorded block
        # has its head cut off, and the alignment below would then latch onto the wrong lag.
        assert listening.wait(30), "the input stream delivered no audio"
        playback = pulse_audio.play_async(speech)
        started.append(sum(map(len, chunks)))
        playback.wait()
        assert enough.wait(30), "the input stream stopped delivering audio"
    recorded = np.concatenate(chunks)
    lags = np.correlate(recorded, source, mode="valid")
    lag = int(np.argmax(np.abs(lags)))
    correlation = float(np.corrcoef(recorded[lag : lag + len(source)], source)[0, 1])
    onset_ms = (lag - started[0]) * 1000 / SAMPLE_RATE
    print(f"correlation {correlation:.4f}, speech starts {onset_ms:.0f} ms after paplay was started")
    assert correlation > 0.9
