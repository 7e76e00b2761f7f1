"""The safety policy's decisions, the loop detector and user-activity detection."""

from __future__ import annotations

import pytest

from omnidesk.agent.actions import Click, Drag, Hotkey, Point, TypeText, Wait
from omnidesk.agent.config import SafetyConfig
from omnidesk.agent.errors import SafetyStop
from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import WindowInfo
from omnidesk.agent.safety import LoopDetector, SafetyPolicy, user_moved
from omnidesk.agent.secrets import fill_secrets, secret_names
from tests.fakes import FakeSecretStore, FakeWindowInspector


def D(x: float, y: float) -> Point:
    return Point(x=x, y=y, space="desktop")


WINDOWS = FakeWindowInspector(
    [
        WindowInfo(1, "Editor", "gedit", Rect(0, 0, 1920, 1080)),
        WindowInfo(2, "Passwords - KeePassXC", "keepassxc", Rect(100, 100, 400, 300)),
        WindowInfo(3, "Passport photo", "eog", Rect(1000, 100, 400, 300)),
    ]
)


def test_limits() -> None:
    policy = SafetyPolicy(SafetyConfig(max_steps=3, max_seconds=10))
    policy.check_limits(2, 9.9)
    with pytest.raises(SafetyStop) as info:
        policy.check_limits(3, 0)
    assert info.value.reason == "max_steps"
    with pytest.raises(SafetyStop) as info:
        policy.check_limits(0, 10)
    assert info.value.reason == "max_seconds"


def test_deny_listed_window_is_refused_by_any_point() -> None:
    policy = SafetyPolicy(SafetyConfig(), windows=WINDOWS)
    assert policy.review(Click(point=D(150, 150))).decision == "refuse"
    assert policy.review(Drag(start=D(10, 10), end=D(150, 150))).decision == "refuse"
    assert policy.review(Click(point=D(50, 50))).decision == "allow"
    assert policy.review(Click(point=D(1100, 150))).decision == "allow"  # "Passport" is not "pass"


def test_typing_into_a_deny_listed_window_is_refused() -> None:
    policy = SafetyPolicy(SafetyConfig(), windows=WINDOWS)
    assert policy.review(TypeText(text="hello"), focus=(150, 150)).decision == "refuse"
    assert policy.review(Hotkey(keys=("ctrl", "v")), focus=(150, 150)).decision == "refuse"
    assert policy.review(TypeText(text="hello"), focus=(50, 50)).decision == "allow"
    assert policy.review(Wait(), focus=(150, 150)).decision == "allow"


@pytest.mark.parametrize(
    ("action", "decision"),
    [
        (Hotkey(keys=("ctrl", "w")), "confirm"),
        (Hotkey(keys=("alt", "f4")), "confirm"),
        (Hotkey(keys=("delete",)), "confirm"),
        (Hotkey(keys=("ctrl", "c")), "allow"),
        (TypeText(text="rm -rf /"), "confirm"),
        (TypeText(text="Please SEND the invoice"), "confirm"),
        (TypeText(text="hello"), "allow"),
        (Wait(), "allow"),
    ],
)
def test_risky_actions_need_confirmation(action: object, decision: str) -> None:
    assert SafetyPolicy(SafetyConfig()).review(action).decision == decision  # type: ignore[arg-type]


def test_password_field_needs_confirmation() -> None:
    assert SafetyPolicy(SafetyConfig()).review(TypeText(text="x"), password_field=True).decision == "confirm"


def test_bad_settings_are_reported() -> None:
    with pytest.raises(SafetyStop, match="regular expression"):
        SafetyPolicy(SafetyConfig(confirm_patterns=["("]))
    with pytest.raises(SafetyStop, match="unknown key"):
        SafetyPolicy(SafetyConfig(confirm_hotkeys=["ctrl+warp"]))


def test_loop_detector_replans_then_stops() -> None:
    detector = LoopDetector(3)
    click = Click(point=D(100, 100))
    near = Click(point=D(104, 97))
    assert [detector.record(a, 0.0) for a in (click, near, click)] == ["ok", "ok", "replan"]
    assert detector.record(click, 0.0) == "stop"


def test_loop_detector_resets_when_the_screen_changes_or_the_action_differs() -> None:
    detector = LoopDetector(3)
    click = Click(point=D(100, 100))
    assert [detector.record(click, c) for c in (0.0, 0.0, 0.3, 0.0)] == ["ok", "ok", "ok", "ok"]
    assert detector.record(Click(point=D(400, 100)), 0.0) == "ok"
    assert detector.record(TypeText(text="a"), 0.0) == "ok"
    assert detector.record(TypeText(text="b"), 0.0) == "ok"


def test_user_moved() -> None:
    assert not user_moved(None, (5, 5))
    assert not user_moved((100, 100), (102, 101))
    assert user_moved((100, 100), (300, 100))


def test_secrets_fill_only_at_typing_time() -> None:
    store = FakeSecretStore({"mail": "hunter2"})
    text = "user {{secret:mail}} and {{ secret:mail }}"
    assert secret_names(text) == ["mail", "mail"]
    assert fill_secrets(text, store) == "user hunter2 and hunter2"
    with pytest.raises(SafetyStop, match="not stored"):
        fill_secrets("{{secret:bank}}", store)
