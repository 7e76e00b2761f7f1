"""GeneratorWorker and QtConfirmer on a real QThread (Qt on the rig's Xvfb)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from omnidesk.agent.actions import Hotkey
from omnidesk.agent.ports import CancelToken, ConfirmationRequest
from omnidesk.app.gui.confirmer import QtConfirmer
from omnidesk.app.gui.worker import GeneratorWorker, start_worker

pytestmark = pytest.mark.desktop


def _collect(worker: GeneratorWorker) -> tuple[list[object], list[object]]:
    items: list[object] = []
    errors: list[object] = []
    worker.yielded.connect(items.append)
    worker.errored.connect(errors.append)
    return items, errors


def test_worker_yields_in_order_on_its_own_thread(qtbot) -> None:
    threads: list[str] = []

    def gen(cancel: CancelToken) -> Iterator[int]:
        threads.append(threading.current_thread().name)
        yield from range(5)

    worker = GeneratorWorker(gen)
    items, errors = _collect(worker)
    with qtbot.waitSignal(worker.finished, timeout=5000):
        thread = start_worker(worker, lambda: None)
    assert thread.wait(5000)
    assert items == [0, 1, 2, 3, 4]
    assert errors == []
    assert threads and threads[0] != threading.main_thread().name


def test_on_finished_is_never_missed_even_when_the_generator_ends_at_once(qtbot) -> None:
    """Regression: the callback was connected after start(), and an empty run could end unseen."""
    done: list[int] = []
    workers = []
    for i in range(30):
        worker = GeneratorWorker(lambda cancel: iter(()))
        thread = start_worker(worker, lambda i=i: done.append(i))
        workers.append((worker, thread))
    qtbot.waitUntil(lambda: len(done) == 30, timeout=5000)
    for _worker, thread in workers:
        assert thread.wait(5000)
    assert sorted(done) == list(range(30))


def test_worker_reports_errors_then_finishes(qtbot) -> None:
    def gen(cancel: CancelToken) -> Iterator[int]:
        yield 1
        raise ValueError("boom")

    worker = GeneratorWorker(gen)
    items, errors = _collect(worker)
    with qtbot.waitSignals([worker.errored, worker.finished], order="strict", timeout=5000):
        thread = start_worker(worker, lambda: None)
    thread.wait(5000)
    assert items == [1]
    assert len(errors) == 1 and isinstance(errors[0], ValueError)


def test_abort_stops_between_yields_and_reaches_into_a_blocking_call(qtbot) -> None:
    closed = threading.Event()
    blocking = threading.Event()

    def gen(cancel: CancelToken) -> Iterator[int]:
        try:
            yield 1
            blocking.set()
            cancel.wait(60)  # a "generation" that checks the stop flag
            yield 2
            yield 3
        finally:
            closed.set()

    worker = GeneratorWorker(gen)
    items, _ = _collect(worker)
    thread = start_worker(worker, lambda: None)
    qtbot.waitUntil(blocking.is_set, timeout=5000)
    with qtbot.waitSignal(worker.finished, timeout=2000):
        worker.abort()
    thread.wait(5000)
    assert items == [1, 2]  # the item in flight is delivered, nothing after it
    assert closed.is_set()  # the generator's finally ran


def test_pause_holds_between_yields_and_resume_goes_on(qtbot) -> None:
    produced: list[int] = []

    def gen(cancel: CancelToken) -> Iterator[int]:
        for i in range(3):
            produced.append(i)
            yield i

    worker = GeneratorWorker(gen)
    items, _ = _collect(worker)
    worker.pause()
    with qtbot.waitSignal(worker.paused, timeout=5000):
        thread = start_worker(worker, lambda: None)
    assert produced == [0]  # held after the first yield
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.resume()
    thread.wait(5000)
    assert items == [0, 1, 2]


def test_abort_wakes_a_paused_worker(qtbot) -> None:
    def gen(cancel: CancelToken) -> Iterator[int]:
        yield from range(10)

    worker = GeneratorWorker(gen)
    items, _ = _collect(worker)
    worker.pause()
    with qtbot.waitSignal(worker.paused, timeout=5000):
        thread = start_worker(worker, lambda: None)
    with qtbot.waitSignal(worker.finished, timeout=2000):
        worker.abort()
    thread.wait(5000)
    assert items == [0]


def _request() -> ConfirmationRequest:
    return ConfirmationRequest(Hotkey(keys=("ctrl", "w")), "closes a window", "Close the tab?")


def test_confirmer_blocks_the_worker_until_the_gui_answers(qtbot) -> None:
    confirmer = QtConfirmer()
    answers: list[bool] = []
    seen: list[object] = []
    confirmer.confirmation_requested.connect(seen.append)
    thread = threading.Thread(target=lambda: answers.append(confirmer.confirm(_request())))
    with qtbot.waitSignal(confirmer.confirmation_requested, timeout=5000):
        thread.start()
    assert confirmer.pending and answers == []
    with qtbot.waitSignal(confirmer.settled, timeout=5000):
        confirmer.reply_confirmation(True)
    thread.join(5)
    assert answers == [True]
    assert isinstance(seen[0], ConfirmationRequest)


def test_confirmer_question_and_cancel_withdraws(qtbot) -> None:
    confirmer = QtConfirmer()
    cancel = CancelToken()
    confirmer.bind(cancel)
    answers: list[object] = []
    thread = threading.Thread(target=lambda: answers.append(confirmer.ask("Which file?")))
    with qtbot.waitSignal(confirmer.question_asked, timeout=5000) as blocker:
        thread.start()
    assert blocker.args == ["Which file?"]
    with qtbot.waitSignal(confirmer.settled, timeout=5000):
        cancel.cancel()
    thread.join(5)
    assert answers == [None]
    # once the run is cancelled, further questions are answered at once with "no"
    late: list[bool] = []
    thread = threading.Thread(target=lambda: late.append(confirmer.confirm(_request())))
    thread.start()
    thread.join(5)
    assert late == [False]


def test_confirmer_refuses_the_gui_thread(qtbot) -> None:
    with pytest.raises(RuntimeError, match="worker thread"):
        QtConfirmer().confirm(_request())
