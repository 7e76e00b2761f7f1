"""The built wheel installs under the omnidesk namespace and works from outside the source tree."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("omnidesk-*.whl")
    return built


def test_wheel_has_only_the_omnidesk_namespace(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"omnidesk"}
    for required in (
        "omnidesk/app/cli.py",
        "omnidesk/agent/ports.py",
        "omnidesk/runtime/config.py",
        "omnidesk/agent/py.typed",
        "omnidesk/runtime/py.typed",
        "omnidesk/assets/grammars/action.schema.json",
    ):
        assert required in names, required
    sources = {
        f"omnidesk/{path.relative_to(ROOT).as_posix()}"
        for folder in ("app", "agent", "runtime", "assets")
        for path in (ROOT / folder).rglob("*")
        if path.is_file()
        and path.suffix in (".py", ".json", ".toml", ".md", ".jinja", ".svg", ".png")
        and "__pycache__" not in path.parts
    }
    missing = sorted(sources - set(names))
    assert not missing, f"source files missing from the wheel: {missing}"
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "omnidesk = omnidesk.app.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_imports_from_outside_the_tree(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert not any((site / bare).exists() for bare in ("app", "agent", "runtime", "assets"))
    probe = (
        "import omnidesk.agent.ports as p, omnidesk.app.cli as c, importlib.resources as r;"
        "print(p.__file__); print(c.main(['--version']));"
        "print(r.files('omnidesk.assets').joinpath('grammars/action.schema.json').is_file())"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith(str(site)), lines
    assert lines[1].startswith("omnidesk ")
    assert lines[-1] == "True"
