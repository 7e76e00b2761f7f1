"""The launcher entry and icon that the installer puts in the desktop's menus."""

from __future__ import annotations

import configparser
import tomllib
from pathlib import Path

from PyQt6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[3]


def test_desktop_entry_launches_the_console_script_with_our_icon() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(ROOT / "installer" / "omnidesk.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    assert entry["Exec"] in scripts
    assert entry["Categories"].endswith(";")
    png = ROOT / "assets" / "icons" / f"{entry['Icon']}.png"
    image = QImage(str(png))
    assert (image.width(), image.height()) == (256, 256)
    assert image.hasAlphaChannel() and image.pixelColor(0, 0).alpha() == 0  # rounded corner: transparent
    assert (ROOT / "assets" / "icons" / f"{entry['Icon']}.svg").is_file()
