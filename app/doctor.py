"""``omnidesk doctor``: one line per check, what is wrong and what to do, and an honest exit code.

A check is *needed* when the configured mode cannot work without it (display, input injection, the
model); the microphone, hotkeys, GPU and accessibility tree only add features, so they inform without
failing the run.
"""

from __future__ import annotations

import logging
import platform
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version

from omnidesk.agent.errors import OmnideskError
from omnidesk.agent.geometry import MonitorInfo
from omnidesk.agent.ports import AccessibilityStatus
from omnidesk.app.settings import AppPaths, Settings
from omnidesk.runtime import system_probe

__all__ = ["Check", "exit_code", "render", "run_checks"]

log = logging.getLogger(__name__)

_PACKAGES = {
    "pyautogui": "pyautogui",
    "mss": "mss",
    "PyQt6": "PyQt6",
    "llama-cpp-python": "llama_cpp",
    "sounddevice": "sounddevice",
    "opencv-python-headless": "cv2",
    "numpy": "numpy",
}


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    needed: bool = True


Probe = Callable[[], list[Check]]


def _python() -> list[Check]:
    ok = sys.version_info >= (3, 11)
    return [Check("python", ok, f"Python {platform.python_version()}", "" if ok else "install Python 3.11 or newer")]


def _packages() -> list[Check]:
    found, missing = [], []
    for dist in _PACKAGES:
        try:
            found.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            missing.append(dist)
    if missing:
        return [Check("packages", False, "missing: " + ", ".join(missing), "re-run installer/install.sh")]
    return [Check("packages", True, "; ".join(found))]


def _gpu() -> list[Check]:
    checks = []
    try:
        offload = system_probe.llama_gpu_offload()
    except ImportError as exc:
        return [
            Check(
                "llama.cpp",
                False,
                f"llama-cpp-python cannot be imported: {exc}",
                "re-run installer/install.sh",
            )
        ]
    gpus = system_probe.nvidia_gpus()
    if gpus:
        listing = ", ".join(
            f"{g.name} ({g.free_bytes / 2**30:.1f} of {g.total_bytes / 2**30:.1f} GiB free)" for g in gpus
        )
        checks.append(Check("gpu", True, listing, needed=False))
        if not offload:
            checks.append(
                Check(
                    "gpu offload",
                    False,
                    "llama-cpp-python was built without GPU support; the model runs on the CPU only",
                    "rebuild with `installer/install.sh --cuda`",
                    needed=False,
                )
            )
        else:
            checks.append(Check("gpu offload", True, "llama-cpp-python built with GPU offload", needed=False))
    else:
        detail = "no NVIDIA GPU found; the model runs on the CPU"
        if offload:
            detail += " (llama-cpp-python has GPU offload compiled in)"
        checks.append(Check("gpu", True, detail, needed=False))
    return checks


Monitors = Callable[[], list[MonitorInfo]]
"""Lists this desktop's monitors (the composition root's ``list_monitors``)."""


def _display(environ: Mapping[str, str], monitors: Monitors) -> list[Check]:
    from omnidesk.runtime.display import require_x11

    try:
        display = require_x11(environ)
    except OmnideskError as exc:
        return [
            Check("display", False, str(exc), "run Omnidesk in an X11 session"),
            Check("input", False, "no X11 display to send input to", "run Omnidesk in an X11 session"),
        ]
    checks = []
    try:
        extensions = system_probe.x11_extensions(display)
    except OmnideskError as exc:
        return [Check("display", False, str(exc), "check DISPLAY and that the X server runs")]
    checks.append(Check("display", True, f"X11 display {display}"))
    checks.extend(_monitors(monitors))
    if "XTEST" in extensions:
        checks.append(Check("input", True, "XTest extension available for mouse and keyboard"))
    else:
        checks.append(Check("input", False, "the X server lacks the XTest extension", "enable XTEST in the X server"))
    if "RECORD" in extensions:
        checks.append(Check("hotkeys", True, "global hotkeys via the X RECORD extension", needed=False))
    else:
        checks.append(
            Check(
                "hotkeys",
                False,
                "the X server lacks RECORD: no global hotkeys",
                "enable RECORD",
                needed=False,
            )
        )
    return checks


def _monitors(list_monitors: Monitors) -> list[Check]:
    try:
        monitors = list_monitors()
    except OmnideskError as exc:
        return [Check("screen", False, str(exc), "check the X server's RandR setup")]
    lines = [
        f"{m.index}: {m.name or '?'} {m.geometry.width}x{m.geometry.height}+{m.geometry.x}+{m.geometry.y}"
        f"{' primary' if m.primary else ''}"
        for m in monitors
    ]
    return [Check("screen", bool(monitors), "; ".join(lines) or "no monitors", "" if monitors else "check xrandr")]


def _microphone(settings: Settings) -> list[Check]:
    try:
        name = system_probe.default_input_device(settings.audio.device)
    except OmnideskError as exc:
        return [Check("microphone", False, str(exc), "voice commands are off; everything else works", needed=False)]
    return [Check("microphone", True, f"input device: {name}", needed=False)]


def _accessibility(status: Callable[[], AccessibilityStatus]) -> list[Check]:
    """The accessibility tree: an extra safety sense (focused password fields), so never needed."""
    found = status()
    return [Check("accessibility", found.available, found.detail, found.fix, needed=False)]


def run_checks(
    settings: Settings,
    paths: AppPaths,
    environ: Mapping[str, str],
    *,
    monitors: Monitors,
    model_checks: Callable[[Settings, AppPaths], list[Check]] | None = None,
    accessibility: Callable[[], AccessibilityStatus] | None = None,
) -> list[Check]:
    """Run every check; a probe that fails unexpectedly becomes a failed line, never a crash.

    ``monitors``, ``accessibility`` and ``model_checks`` come from the composition root and
    ``app/doctor_model.py``.
    """
    probes: list[tuple[str, Probe]] = [
        ("python", _python),
        ("packages", _packages),
        ("llama.cpp", _gpu),
        ("display", lambda: _display(environ, monitors)),
        ("microphone", lambda: _microphone(settings)),
    ]
    if accessibility is not None:
        probes.append(("accessibility", lambda: _accessibility(accessibility)))
    if model_checks is not None:
        probes.append(("model", lambda: model_checks(settings, paths)))
    checks: list[Check] = []
    for name, probe in probes:
        try:
            checks.extend(probe())
        except Exception as exc:
            log.exception("doctor probe %s failed", name)
            checks.append(Check(name, False, f"check failed unexpectedly: {exc!r}", "see the log file"))
    return checks


def exit_code(checks: list[Check]) -> int:
    return 0 if all(c.ok for c in checks if c.needed) else 1


def render(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        mark = "✓" if check.ok else "✗"
        optional = "" if check.ok or check.needed else " (optional)"
        line = f"{mark} {check.name:<12} {check.detail}{optional}"
        if check.fix and not check.ok:
            line += f"\n  → {check.fix}"
        lines.append(line)
    return "\n".join(lines)


def as_json(checks: list[Check]) -> list[dict[str, object]]:
    return [asdict(c) for c in checks]
