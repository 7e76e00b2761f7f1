"""install.sh --desktop and uninstall.sh, run for real against a temporary HOME and a copy of the installer.

The copy's .venv is a stand-in (its ``python`` records what install.sh asks of pip; its ``omnidesk``
prints a version), so these tests exercise the scripts' own work — the menu entry, the icon, removing the
venv, keeping or purging settings — without touching the real venv or the real home folder. That the
real install works is what CI's ``installer/install.sh --dev`` run proves.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REAL_ENTRY = Path.home() / ".local" / "share" / "applications" / "omnidesk.desktop"


@dataclass(frozen=True)
class Scratch:
    """A copy of the installer in a folder whose name has a space, its stand-in venv, and a private HOME."""

    root: Path
    venv: Path
    home: Path
    calls: Path
    env: dict[str, str]

    @property
    def entry(self) -> Path:
        return self.home / ".local" / "share" / "applications" / "omnidesk.desktop"

    @property
    def icons(self) -> list[Path]:
        hicolor = self.home / ".local" / "share" / "icons" / "hicolor"
        return [hicolor / "scalable" / "apps" / "omnidesk.svg", hicolor / "256x256" / "apps" / "omnidesk.png"]

    def run(self, script: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(self.root / "installer" / script), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def scratch(tmp_path: Path) -> Scratch:
    root = tmp_path / "omnidesk src"
    shutil.copytree(ROOT / "installer", root / "installer", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "assets" / "icons", root / "assets" / "icons")
    venv, calls = root / ".venv", tmp_path / "calls.log"
    (venv / "lib").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    _executable(venv / "bin" / "python", f'#!/bin/sh\necho "python $*" >> "{calls}"\n')
    _executable(venv / "bin" / "omnidesk", '#!/bin/sh\necho "omnidesk 0.1.0"\n')
    # Installing system packages from a test would be wrong: fail loudly if install.sh tries.
    stubs = tmp_path / "stubs"
    for name in ("apt-get", "sudo"):
        _executable(stubs / name, f'#!/bin/sh\necho "{name} must not run in this test: $*" >&2\nexit 97\n')
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OMNIDESK_", "XDG_"))}
    # A private runtime dir too: the default (/tmp/omnidesk-UID) may belong to a real Omnidesk.
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(tmp_path / "run"), PATH=f"{stubs}:{os.environ['PATH']}")
    env.pop("DISPLAY", None)
    return Scratch(root, venv, home, calls, env)


def _entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def _validate(path: Path) -> None:
    result = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_the_desktop_entry_validates_and_matches_the_qt_app() -> None:
    _validate(ROOT / "installer" / "omnidesk.desktop")
    entry = _entry(ROOT / "installer" / "omnidesk.desktop")
    assert entry["Exec"] == "omnidesk" and entry["Icon"] == "omnidesk" and entry["Terminal"] == "false"
    assert "Utility;" in entry["Categories"]
    # X11 WM class of the Qt app: QApplication.setDesktopFileName("omnidesk") in app/gui/app.py.
    assert entry["StartupWMClass"] == "omnidesk"
    assert 'setDesktopFileName("omnidesk")' in (ROOT / "app" / "gui" / "app.py").read_text()


def test_install_desktop_adds_the_entry_and_uninstall_removes_it(scratch: Scratch) -> None:
    real_entry_before = REAL_ENTRY.stat().st_mtime_ns if REAL_ENTRY.exists() else None
    installed = scratch.run("install.sh", "--cpu", "--desktop", "--no-doctor")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "python -m pip install" in scratch.calls.read_text()  # install.sh did its install steps first
    _validate(scratch.entry)
    entry = _entry(scratch.entry)
    command = scratch.venv / "bin" / "omnidesk"
    assert entry["Exec"] == f'"{command}"'  # quoted: the path has a space
    assert entry["TryExec"] == str(command)
    assert entry["Icon"] == "omnidesk" and entry["StartupWMClass"] == "omnidesk"
    svg, png = scratch.icons
    assert svg.read_bytes() == (ROOT / "assets" / "icons" / "omnidesk.svg").read_bytes()
    assert png.read_bytes() == (ROOT / "assets" / "icons" / "omnidesk.png").read_bytes()
    launched = subprocess.run([entry["TryExec"], "--version"], capture_output=True, text=True, check=True)
    assert launched.stdout.strip() == "omnidesk 0.1.0"  # the entry starts the venv's omnidesk

    again = scratch.run("install.sh", "--cpu", "--desktop", "--no-doctor")
    assert again.returncode == 0, again.stderr
    assert _entry(scratch.entry)["Exec"] == f'"{command}"'

    settings = scratch.home / ".config" / "omnidesk" / "settings.toml"
    model = scratch.home / ".local" / "share" / "omnidesk" / "models" / "tiny.gguf"
    lock = Path(scratch.env["XDG_RUNTIME_DIR"]) / "omnidesk" / "instance.lock"
    for path in (settings, model, lock):
        path.parent.mkdir(parents=True)
        path.write_text("kept")

    removed = scratch.run("uninstall.sh")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not scratch.entry.exists() and not any(icon.exists() for icon in scratch.icons)
    assert not scratch.venv.exists()
    assert settings.read_text() == "kept" and model.read_text() == "kept" and lock.exists()
    assert str(settings.parent) in removed.stdout  # it says what it kept

    twice = scratch.run("uninstall.sh")
    assert twice.returncode == 0, twice.stderr
    assert "No desktop entry or icon to remove" in twice.stdout and "No virtual environment" in twice.stdout

    purged = scratch.run("uninstall.sh", "--purge")
    assert purged.returncode == 0, purged.stderr
    assert not settings.parent.exists() and not model.parents[1].exists() and not lock.parent.exists()
    assert f"Deleting settings: {settings.parent}" in purged.stdout
    assert f"Deleting data (models, recordings, runs, automations, logs): {model.parents[1]}" in purged.stdout
    assert f"Deleting runtime files: {lock.parent}" in purged.stdout
    assert (scratch.home / ".config").is_dir()  # only Omnidesk's own folders go

    assert (REAL_ENTRY.stat().st_mtime_ns if REAL_ENTRY.exists() else None) == real_entry_before


def test_uninstall_refuses_to_delete_a_folder_that_is_not_a_venv(scratch: Scratch, tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    result = scratch.run("uninstall.sh", "--venv", str(precious))
    assert result.returncode == 1
    assert "not a virtual environment" in result.stderr
    assert (precious / "thesis.txt").read_text() == "do not delete"


def test_purge_refuses_to_delete_the_home_folder(scratch: Scratch) -> None:
    (scratch.home / "notes.txt").write_text("mine")
    env = dict(scratch.env, OMNIDESK_DATA_DIR=str(scratch.home))
    result = subprocess.run(
        ["bash", str(scratch.root / "installer" / "uninstall.sh"), "--purge"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "refusing to delete" in result.stderr
    assert (scratch.home / "notes.txt").read_text() == "mine"
