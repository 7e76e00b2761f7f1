"""Only the composition root builds adapters: no other module of app/ constructs a runtime class or the
hotkey listener (the rule that keeps tests free of patching and makes a Wayland backend one adapter set)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import omnidesk.app
from omnidesk.app.compose import X11Platform, choose_platform

APP = Path(omnidesk.app.__file__).parent
ROOT = "compose.py"

# Every adapter: the runtime classes that touch a device, the display, the keyring, a model, the clock or
# the disk on the agent's behalf, and the app's hotkey listener.
ADAPTERS = frozenset(
    {
        "ApiKeyStore",
        "AtspiAccessibility",
        "CaptureStream",
        "CvPngEncoder",
        "DesktopApps",
        "EvsSampler",
        "GlobalHotkeys",
        "KeyringSecretStore",
        "MssScreen",
        "OmniSession",
        "PyAutoGuiInput",
        "RemoteModelClient",
        "ShotFiles",
        "SoundDeviceMicrophone",
        "SystemClock",
        "TemplateLocator",
        "WindowMask",
        "WindowWatcher",
        "X11WindowInspector",
        "XInputRecorder",
        "XUserActivity",
    }
)


def constructions(source: str) -> list[tuple[int, str]]:
    """``(line, class)`` of every ``Adapter(...)`` or ``Adapter.factory(...)`` call in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            func = func.value  # OmniSession.open(...) builds one too
        if isinstance(func, ast.Name) and func.id in ADAPTERS:
            found.append((node.lineno, func.id))
    return found


def test_no_module_but_the_root_builds_an_adapter() -> None:
    offenders = [
        f"{path.relative_to(APP)}:{line} builds {name}"
        for path in sorted(APP.rglob("*.py"))
        if path.relative_to(APP).as_posix() != ROOT
        for line, name in constructions(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "build adapters in app/compose.py and pass them in:\n" + "\n".join(offenders)


def test_the_root_does_build_them() -> None:
    """The check sees constructions (it would catch one elsewhere): the root builds every adapter listed."""
    built = {name for _, name in constructions((APP / ROOT).read_text(encoding="utf-8"))}
    assert built == ADAPTERS
    assert constructions("x = MssScreen(scale, mask=m)\ny = OmniSession.open(p)\nz = Other()") == [
        (1, "MssScreen"),
        (2, "OmniSession"),
    ]


def _public(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls) if not name.startswith("_")}


def test_every_runtime_adapter_is_listed() -> None:
    """A runtime class that implements a port is on the list, so a new adapter cannot slip past the check."""
    import omnidesk.runtime
    from omnidesk.agent import ports
    from omnidesk.agent.safety import UserActivity
    from omnidesk.agent.secrets import SecretStore
    from omnidesk.agent.trajectory import PngEncoder

    protocols = [
        ports.AccessibilityPort,
        ports.Screen,
        ports.FrameSampler,
        ports.InputDevice,
        ports.WindowInspector,
        ports.Clock,
        ports.Microphone,
        ports.ModelClient,
        ports.TargetLocator,
        UserActivity,
        PngEncoder,
    ]
    wanted = [_public(protocol) - _public(object) for protocol in protocols]
    wanted.append(_public(SecretStore) | {"set"})  # a bare ``get`` is every cache's: a store also sets
    implementers = set()
    for info in pkgutil.walk_packages(omnidesk.runtime.__path__, "omnidesk.runtime."):
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or name.startswith("_") or getattr(cls, "_is_protocol", False):
                continue
            if any(methods <= _public(cls) for methods in wanted):
                implementers.add(name)
    assert implementers - ADAPTERS == set(), "these implement a port: add them to ADAPTERS"
    assert {"MssScreen", "PyAutoGuiInput", "OmniSession", "TemplateLocator", "AtspiAccessibility"} <= implementers


def test_a_wayland_session_gets_a_typed_error_that_says_what_to_do() -> None:
    from omnidesk.agent.errors import WaylandSessionError

    with pytest.raises(WaylandSessionError, match="X11 session"):
        choose_platform({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"})
    assert isinstance(choose_platform({"DISPLAY": ":0"}), X11Platform)
