"""Issue 14 on the real desktop: openbox, real windows with real WM_CLASSes, XTest keys, real capture.

Each test is the regression test of one finding: it fails on the code before the fix (a model could type
where the person forbade it, leak a secret or run a command unasked) and passes now.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from omnidesk.agent.ports import CancelToken, ModelImage, ModelRequest, Step
from omnidesk.agent.secrets import SecretBinding
from omnidesk.app.compose import build_agent_session, build_png_encoder
from omnidesk.app.recorded_run import RecordedRun
from omnidesk.app.settings import Settings
from tests.app.cli_helpers import isolated_env, run_cli
from tests.fakes import FakeModel, FakeSecretStore, ScriptedConfirmer, request_images
from tests.file_keyring import keyring_env, write_keyring
from tests.rig import wait_until
from tests.rig.plugin import Launcher
from tests.rig.target_client import TargetApp

pytestmark = [pytest.mark.desktop]

DONE = "Finished.\n## Action:\ndone\n## Code:\n```python\ncomputer.terminate(status='success', answer='ok')\n```"


def code(call: str) -> str:
    return f"I act.\n## Action:\nact\n## Code:\n```python\n{call}\n```"


def active_window() -> tuple[int | None, str]:
    """The window manager's active window as xdotool and xprop see it: (its pid, its WM_CLASS line)."""
    found = subprocess.run(["xdotool", "getactivewindow"], capture_output=True, text=True, timeout=10, check=False)
    if found.returncode != 0 or not found.stdout.strip():
        return None, ""
    props = subprocess.run(
        ["xprop", "-id", found.stdout.strip(), "_NET_WM_PID", "WM_CLASS"],
        capture_output=True, text=True, timeout=10, check=False,
    )  # fmt: skip
    pid = next(
        (int(line.split("=")[1]) for line in props.stdout.splitlines() if "_NET_WM_PID" in line and "=" in line), None
    )
    wm_class = next((line for line in props.stdout.splitlines() if line.startswith("WM_CLASS")), "")
    return pid, wm_class


def wait_focused(pid: int | None = None, wm_class: str | None = None) -> None:
    def focused() -> bool:
        active_pid, active_class = active_window()
        return (pid is None or active_pid == pid) and (wm_class is None or f'"{wm_class}"' in active_class)

    wait_until(focused, 20, f"the window (pid {pid}, class {wm_class}) to be active")


def pointer_to(x: int, y: int) -> None:
    subprocess.run(["xdotool", "mousemove", "--sync", str(x), str(y)], check=True, timeout=10)


def barrier(app: TargetApp, mark: str = "z") -> list[str]:
    """Type ``mark`` into the focused app with xdotool and return the text it had before it arrived: X
    delivers events in order, so whatever Omnidesk typed earlier is in by then."""
    subprocess.run(["xdotool", "type", mark], check=True, timeout=10)
    event = app.wait_for({"type": "text", "text": lambda t: t.endswith(mark)}, timeout=15)
    return [str(event["text"])[: -len(mark)]]


def run(model: FakeModel, confirmer: ScriptedConfirmer, **kwargs: object) -> list[Step]:
    with build_agent_session(Settings(), model=model, confirmer=confirmer, **kwargs) as session:  # type: ignore[arg-type]
        return list(session.agent.run("a task", CancelToken()))


# --- finding 2: the keyboard deny-list checks the window with keyboard focus -------------------------------


def test_a_focused_keepassxc_gets_no_keys_with_the_pointer_over_another_window(
    x_display: object, window_manager: object, target_app: Launcher
) -> None:
    notes = target_app(x=1000, y=100, width=600, height=400, title="Notes")
    vault = target_app(x=100, y=100, width=600, height=400, title="Vault", wm_class=("keepassxc", "KeePassXC"))
    wait_focused(pid=vault.process.pid)
    pointer_to(*notes.widget_center("text_field"))  # the pointer rests on an allowed window
    vault.clear()
    model = FakeModel([code("pyautogui.write('hunter2')"), code("pyautogui.hotkey('ctrl', 'a')"), DONE])
    steps = run(model, ScriptedConfirmer())
    assert [s.status for s in steps] == ["refused", "refused", "finished"], [(s.status, s.error) for s in steps]
    assert "'Vault' (class keepassxc/KeePassXC)" in steps[0].error and "keyboard focus" in steps[0].error
    assert barrier(vault) == [""]  # nothing reached the vault before the barrier


# --- finding 8: keys for a terminal, line breaks and destructive commands need the person's yes -----------


@pytest.fixture
def xterm(x_display: object, window_manager: object, tmp_path: Path) -> Iterator[Path]:
    """An xterm whose shell only records what it is given (``cat``), focused; yields the record file."""
    if shutil.which("xterm") is None:
        pytest.fail("xterm is missing: run installer/install.sh --dev")
    record = tmp_path / "typed.txt"
    process = subprocess.Popen(
        ["xterm", "-geometry", "80x20+200+150", "-e", "sh", "-c", f"stty -echo; exec cat > {record}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_focused(wm_class="XTerm")
        wait_until(record.exists, 20, "the xterm's shell to start")
        yield record
    finally:
        process.terminate()
        process.wait(10)


def test_typing_into_a_terminal_needs_a_yes(xterm: Path) -> None:
    model = FakeModel([code("pyautogui.write('touch /tmp/pwned\\n')"), code("pyautogui.write('ok\\n')"), DONE])
    confirmer = ScriptedConfirmer(confirms=[False, True])
    steps = run(model, confirmer)
    assert [s.status for s in steps] == ["refused", "acted", "finished"], [(s.status, s.error) for s in steps]
    assert [r.rules for r in confirmer.requests] == [("line_break", "terminal"), ("line_break", "terminal")]
    assert "XTerm" in confirmer.requests[0].reason
    wait_until(lambda: xterm.read_text() == "ok\n", 15, "the confirmed line to reach the terminal")


# --- finding 1 and 13: secrets bound to windows, confirmed, blacked out; answers about secrets kept so ------


def centre_in(image: ModelImage, rect: tuple[int, int, int, int]) -> tuple[float, float]:
    """Where the centre of a desktop rectangle is in a model image (monitor 1 starts at 0, 0)."""
    x, y, w, h = rect
    return image.transform.monitor_to_image(x + w / 2, y + h / 2)


def yellow_at(image: ModelImage, rect: tuple[int, int, int, int]) -> np.ndarray:
    """The image's pixel at the centre of a desktop rectangle."""
    ix, iy = centre_in(image, rect)
    return np.asarray(image.pixels[int(iy), int(ix)])


def test_a_secret_is_typed_only_where_bound_after_a_yes_and_never_seen_again(
    x_display: object, window_manager: object, target_app: Launcher, tmp_path: Path
) -> None:
    app = target_app(x=200, y=150, width=800, height=500, title="Sign in to GitHub", wm_class=("Navigator", "firefox"))
    wait_focused(pid=app.process.pid)
    field = app.widget_rect("text_field")
    store = FakeSecretStore(
        {"github": "hunter2", "bank": "b4nk-s3cret"},
        {"github": SecretBinding(window_class=("firefox",), alone=True), "bank": SecretBinding(window_class=("bank",))},
    )
    seen: list[ModelRequest] = []

    def click_field(request: ModelRequest) -> str:
        transform = request_images(request)[-1].transform
        ix, iy = transform.monitor_to_image(field[0] + field[2] / 2, field[1] + field[3] / 2)
        return code(f"pyautogui.click(x={ix / transform.image_width:.4f}, y={iy / transform.image_height:.4f})")

    def script(request: ModelRequest) -> str:
        seen.append(request)
        if len(seen) == 1:
            return click_field(request)
        return [
            "",
            code("pyautogui.write('{{secret:bank}}')"),  # bound to another application: refused
            code("pyautogui.write('{{secret:github}}')"),  # bound here: asked, then typed
            code("computer.ask_user(question='What is the PIN for this account?')"),
            code("pyautogui.write('{{secret:answer-1}}')"),
            DONE,
        ][len(seen) - 1]

    confirmer = ScriptedConfirmer(confirms=[True, True], answers=["4711"])
    model = FakeModel(script)
    with build_agent_session(Settings(), model=model, confirmer=confirmer, secrets=store) as session:
        recorded = RecordedRun.create(
            session, "sign in", runs_dir=tmp_path / "runs", encoder=build_png_encoder(), dry_run=False, via="cli"
        )
        steps = list(recorded.steps(CancelToken()))
    assert [s.status for s in steps] == ["acted", "refused", "acted", "acted", "acted", "finished"], [
        (s.status, s.error) for s in steps
    ]
    assert "may only be typed into windows of class bank" in steps[1].error
    assert [r.rules for r in confirmer.requests] == [("secret_fill",), ("secret_fill",)]
    assert "'github'" in confirmer.requests[0].question and "Sign in to GitHub" in confirmer.requests[0].question
    app.wait_for({"type": "text", "text": "hunter24711"}, timeout=15)

    # The field was visible (yellow) before the fill; after it, every image of the observation sent to the
    # model (the overview and any changed crop) and the step's saved PNG show it black.
    assert steps[0].observation is not None and steps[3].observation is not None
    assert yellow_at(steps[0].observation.images[0], field).tolist() == [255, 255, 0]
    after = steps[3].observation.images
    assert all(any(image is sent for sent in request_images(seen[3])) for image in after)
    shown = [image for image in after if image.transform.content.contains(*centre_in(image, field))]
    assert after[0] in shown and [yellow_at(image, field).tolist() for image in shown] == [[0, 0, 0]] * len(shown)
    bundle = recorded.folder
    saved = cv2.imread(str(bundle / "step-0003.png"))[:, :, ::-1]
    ix, iy = after[0].transform.monitor_to_image(field[0] + field[2] / 2, field[1] + field[3] / 2)
    assert saved[int(iy), int(ix)].tolist() == [0, 0, 0]
    everything = "".join(p.read_text(errors="replace") for p in bundle.iterdir() if p.suffix in {".json", ".jsonl"})
    sent = "".join(repr(r) for r in seen)
    for value in ("hunter2", "b4nk-s3cret", "4711"):
        assert value not in everything and value not in sent and value not in repr(steps)
    assert json.loads((bundle / "steps.jsonl").read_text().splitlines()[3])["result"].endswith("{{secret:answer-1}}")


# --- finding 5: `omnidesk replay` takes the lock, checks the focused window and confirms secret fills ------


def typing_bundle(folder: Path, *texts: str) -> Path:
    """A recorded run whose steps type ``texts`` (keyboard steps need no target patches)."""
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"task": "type"}), encoding="utf-8")
    lines = [
        json.dumps({"index": i, "status": "acted", "action": {"kind": "type", "text": t}}) for i, t in enumerate(texts)
    ]
    (folder / "steps.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_replay_waits_for_no_other_omnidesk(x_display: object, tmp_path: Path) -> None:
    from omnidesk.app.instance import InstanceLock

    bundle = typing_bundle(tmp_path / "bundle", "hello")
    with InstanceLock(tmp_path / "run"):  # the runtime dir of isolated_env: as if the GUI were running
        result = run_cli(["replay", str(bundle)], isolated_env(tmp_path))
    assert result.returncode != 0 and "already running" in result.stderr, result.stderr


def test_replay_sends_no_keys_to_a_focused_denied_window_and_no_unconfirmed_secret(
    x_display: object, window_manager: object, target_app: Launcher, tmp_path: Path
) -> None:
    notes = target_app(x=1000, y=100, width=600, height=400, title="Notes", wm_class=("notes", "Notes"))
    vault = target_app(x=100, y=100, width=600, height=400, title="Vault", wm_class=("keepassxc", "KeePassXC"))
    wait_focused(pid=vault.process.pid)
    pointer_to(*notes.widget_center("text_field"))
    env = isolated_env(tmp_path, **keyring_env(tmp_path / "keyring.json"))
    denied = run_cli(["replay", str(typing_bundle(tmp_path / "denied", "hello"))], env)
    assert denied.returncode == 1 and "keyboard focus" in denied.stderr and "KeePassXC" in denied.stderr, denied.stderr
    assert barrier(vault) == [""]

    subprocess.run(["xdotool", "windowactivate", "--sync", str(active_id_of(notes))], check=True, timeout=10)
    wait_focused(pid=notes.process.pid)
    binding = SecretBinding(window_class=("notes",), alone=True)
    write_keyring(
        tmp_path / "keyring.json", {("omnidesk", "pin"): "4711", ("omnidesk-binding", "pin"): binding.to_json()}
    )
    secret = run_cli(["replay", str(typing_bundle(tmp_path / "secret", "{{secret:pin}}"))], env)
    assert secret.returncode == 1 and "not confirmed" in secret.stderr and "'pin'" in secret.stderr, secret.stderr
    assert "4711" not in secret.stdout + secret.stderr
    assert barrier(notes) == [""]


def active_id_of(app: TargetApp) -> int:
    """The X id of an app's top-level window (by its pid, through xdotool)."""
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--pid", str(app.process.pid)],
        capture_output=True, text=True, timeout=10, check=True,
    )  # fmt: skip
    return int(found.stdout.split()[-1])
