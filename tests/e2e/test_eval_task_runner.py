"""Bad input for the task runner, on the rig: a missing application, a set-up that fails and a model that
never answers each leave their task errored with the reason — counted apart from failures — and the run
goes on to the next task. The agent is composed as ``omnidesk run`` composes it (real capture, input, the
remote client); the model is a server that takes the request and never answers. An application that
dies during its task leaves the task errored too: its result cannot be read.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from omnidesk.agent.eval_catalog import task_by_id
from omnidesk.agent.eval_tasks import FileText, TaskSpec
from omnidesk.agent.ports import CancelToken
from omnidesk.app.compose import build_agent_session, build_model_client, build_png_encoder
from omnidesk.app.evaluation.tasks import TaskRunner
from omnidesk.app.settings import AppPaths, Settings
from omnidesk.runtime.accessibility import AtspiAccessibility
from omnidesk.runtime.desktop_apps import APPLICATIONS, Application, DesktopApps
from tests.models.scripted_nemotron import Answer, Seen, scripted_nemotron
from tests.rig.a11y import A11yBus
from tests.rig.xserver import WindowManager, XServer

pytestmark = [pytest.mark.desktop, pytest.mark.slow]


@contextmanager
def never_answering_server() -> Iterator[str]:
    """An HTTP address that accepts every connection, reads the request and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def task(task_id: str, app: str) -> TaskSpec:
    return TaskSpec(task_id, app, "Save the file.", (FileText("a.txt", "x"),), max_steps=3, max_seconds=60.0)


def test_errored_tasks_say_why_and_the_run_goes_on(
    a11y_bus: A11yBus,
    x_display: XServer,
    module_window_manager: WindowManager,
    accessibility: AtspiAccessibility,
    tmp_path: Path,
) -> None:
    environ = {**a11y_bus.app_env(x_display.display), "PATH": os.environ["PATH"]}
    applications = {
        **APPLICATIONS,
        "gone": Application("gone", ("omnidesk-no-such-editor",), "no-such-editor", "gtk3", "missing"),
        "quits": Application("quits", ("sh", "-c", "echo cannot open the display >&2; exit 3"), "sh", "gtk3", "fails"),
    }
    apps = DesktopApps(environ, accessibility, applications=applications, ready_timeout=20.0)
    specs = [task("missing-app", "gone"), task("setup-fails", "quits"), task_by_id("galculator-multiply")]
    paths = AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")
    with never_answering_server() as url:
        settings = Settings()
        settings.model.remote_url = url
        settings.model.remote_timeout = 2.0
        model = build_model_client(settings, paths)
        runner = TaskRunner(
            settings,
            model=model,
            apps=apps,
            build_session=build_agent_session,
            encoder=build_png_encoder(),
            out_dir=tmp_path / "out",
        )
        try:
            outcomes = list(runner.run(specs, CancelToken()))
        finally:
            model.close()

    assert [(o.task, o.verdict) for o in outcomes] == [
        ("missing-app", "errored"),
        ("setup-fails", "errored"),
        ("galculator-multiply", "errored"),
    ]
    missing, fails, silent = outcomes
    assert "omnidesk-no-such-editor is not installed: install the package no-such-editor" in missing.reason
    assert "quits exited with status 3" in fails.reason and "cannot open the display" in fails.reason
    assert silent.reason.startswith("the model did not answer: ") and "did not answer within 2 s" in silent.reason
    assert silent.steps == 1 and silent.checks == ()
    # the run was recorded as omnidesk run records one, and the task's home folder is gone
    run = json.loads((tmp_path / "out" / "runs" / "galculator-multiply" / "run.json").read_text())
    assert run["meta"]["via"] == "eval" and run["meta"]["task"] == "galculator-multiply"
    assert not list(Path(tempfile.gettempdir()).glob("omnidesk-task-galculator-multiply-*"))


def test_an_application_that_dies_during_the_task_leaves_it_errored(
    a11y_bus: A11yBus,
    x_display: XServer,
    module_window_manager: WindowManager,
    accessibility: AtspiAccessibility,
    tmp_path: Path,
) -> None:
    def crash_the_calculator(seen: Seen) -> Answer:
        app = next(a for a in accessibility.applications() if a.name == "galculator")
        assert app.pid is not None
        os.kill(app.pid, signal.SIGKILL)  # the application crashes while the model thinks
        return Answer("Done.", "Report success.", 'computer.terminate(status="success", answer="done")')

    environ = {**a11y_bus.app_env(x_display.display), "PATH": os.environ["PATH"]}
    paths = AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")
    with scripted_nemotron(crash_the_calculator, [(1920, 1080)]) as server:
        settings = Settings()
        settings.model.remote_url = server.url
        model = build_model_client(settings, paths)
        runner = TaskRunner(
            settings,
            model=model,
            apps=DesktopApps(environ, accessibility),
            build_session=build_agent_session,
            encoder=build_png_encoder(),
            out_dir=tmp_path / "out",
        )
        try:
            (outcome,) = runner.run([task_by_id("galculator-add")], CancelToken())
        finally:
            model.close()
    assert server.refusals == []
    assert outcome.verdict == "errored" and outcome.reason.startswith("the result could not be read: "), outcome
    assert outcome.steps == 1 and outcome.checks == ()
