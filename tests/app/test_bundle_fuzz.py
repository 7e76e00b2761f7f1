"""Fuzzing bundle readers: a real bundle, mutated, through loading, replay and the report.

A bundle may come from anywhere. Whatever its ``run.json``, ``steps.jsonl``, the file names it gives and
its PNGs hold — random JSON in any field, garbage lines, names that climb out or point at links, cut or
flipped pictures — :func:`load_bundle`, :func:`load_replay` (and the template matcher reading its patches)
and :func:`render_report` end in a :class:`RecordingError` (the matcher may also say the target is not on
the screen, an :class:`ActionError`) or succeed; nothing else escapes. Derandomised, a few hundred
examples (seconds).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from omnidesk.agent.errors import ActionError, RecordingError
from omnidesk.agent.replay import load_replay
from omnidesk.agent.trajectory import load_bundle
from omnidesk.app.commands.report import render_report
from omnidesk.runtime.template_locator import TemplateLocator
from tests.app.test_report_command import make_bundle
from tests.fakes import make_frame

_SETTINGS = settings(
    max_examples=200, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
names = st.sampled_from(
    [
        "../outside.png",
        "/etc/hostname",
        "sub/../../outside.png",
        "link-out.png",
        "link-in.png",
        "",
        ".",
        "folder",
        "nul\0.png",
        "step-0000.png",
        "step-0000-p0.png",
        "x" * 300,
    ]
)


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz") / "bundle"
    make_bundle(folder)  # three steps: a click with its patch, a model error, done
    (folder.parent / "outside.png").write_bytes((folder / "step-0000.png").read_bytes())
    return folder


def _copy(original: Path, into: Path) -> Path:
    bundle = into / "bundle"
    shutil.copytree(original, bundle, symlinks=True)
    (into / "outside.png").write_bytes(b"\x89PNG\r\n\x1a\nSECRET")
    (bundle / "link-out.png").symlink_to(into / "outside.png")
    (bundle / "link-in.png").symlink_to(bundle / "step-0000.png")
    (bundle / "folder").mkdir()
    return bundle


def _mutate_json(value: Any, path: list[Any], new: Any) -> Any:
    """``value`` with the item at ``path`` (keys or indexes, as far as they lead) replaced by ``new``."""
    if not path:
        return new
    key, rest = path[0], path[1:]
    if isinstance(value, dict) and key in value:
        return {**value, key: _mutate_json(value[key], rest, new)}
    if isinstance(value, list) and isinstance(key, int) and value:
        index = key % len(value)
        return [*value[:index], _mutate_json(value[index], rest, new), *value[index + 1 :]]
    if isinstance(value, dict):
        return {**value, key: new}
    return new


steps_keys = st.sampled_from(
    [
        "index",
        "status",
        "action",
        "actions",
        "performed",
        "png",
        "patches",
        "observation",
        "timings",
        "target",
        "raw_output",
        "prompt_tokens",
        "result",
        "started_at",
    ]
)
inner_keys = st.sampled_from(
    [
        0,
        1,
        "file",
        "anchor",
        "image_size",
        "monitor",
        "images",
        "geometry",
        "kind",
        "point",
        "x",
        "y",
        "width",
        "keyframe",
        "changed_fraction",
    ]
)
paths = st.tuples(steps_keys, st.lists(inner_keys, max_size=3)).map(lambda t: [t[0], *t[1]])
summary_paths = st.lists(
    st.sampled_from(
        ["task", "status", "steps", "tokens", "meta", "last_step", "prompt", "result", "error", "statuses"]
    ),
    min_size=0,
    max_size=2,
)


@st.composite
def mutations(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """A few edits to the bundle: ``(what, how)`` pairs applied by :func:`_apply`."""
    edits: list[tuple[str, Any]] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["step", "step", "name", "summary", "line", "png", "cut"]))
        if kind == "step":
            edits.append(("step", (draw(st.integers(0, 2)), draw(paths), draw(json_values))))
        elif kind == "name":
            field = draw(st.sampled_from(["png", "patch"]))
            edits.append(("name", (draw(st.integers(0, 2)), field, draw(names))))
        elif kind == "summary":
            edits.append(("summary", (draw(summary_paths), draw(json_values))))
        elif kind == "line":
            garbage = draw(st.binary(max_size=40) | st.text(max_size=40).map(str.encode))
            edits.append(("line", (draw(st.integers(0, 3)), garbage)))
        elif kind == "png":
            target = draw(st.sampled_from(["step-0000.png", "step-0000-p0.png"]))
            edits.append(("png", (target, draw(st.integers(0, 200)), draw(st.binary(max_size=16)))))
        else:
            edits.append(("cut", (draw(st.sampled_from(["run.json", "steps.jsonl"])), draw(st.integers(0, 400)))))
    return edits


def _apply(bundle: Path, edits: list[tuple[str, Any]]) -> None:
    lines = (bundle / "steps.jsonl").read_bytes().splitlines()
    records: list[Any] = [json.loads(line) for line in lines]
    summary = json.loads((bundle / "run.json").read_text())
    raw: dict[int, bytes] = {}
    for kind, how in edits:
        if kind == "step":
            index, path, new = how
            records[index] = _mutate_json(records[index], path, new)
        elif kind == "name":
            index, field, name = how
            if field == "png":
                records[index] = _mutate_json(records[index], ["png"], name)
            else:
                records[index] = _mutate_json(
                    records[index], ["patches"], [{"file": name, "anchor": [5, 5], "image_size": [512, 512]}]
                )
        elif kind == "summary":
            path, new = how
            summary = _mutate_json(summary, path, new)
        elif kind == "line":
            raw[how[0]] = how[1]
        elif kind == "png":
            name, at, data = how
            picture = bytearray((bundle / name).read_bytes())
            picture[at : at + len(data)] = data
            (bundle / name).write_bytes(bytes(picture))
    out = [raw.get(i, json.dumps(r, allow_nan=True).encode()) for i, r in enumerate(records)]
    out += [raw[i] for i in sorted(raw) if i >= len(records)]
    (bundle / "steps.jsonl").write_bytes(b"\n".join(out) + b"\n")
    (bundle / "run.json").write_text(json.dumps(summary, allow_nan=True))
    for kind, how in edits:
        if kind == "cut":
            name, length = how
            (bundle / name).write_bytes((bundle / name).read_bytes()[:length])


def _only_typed_errors(action: Callable[[], object]) -> None:
    try:
        action()
    except (RecordingError, ActionError) as exc:
        assert str(exc)
        event(f"{type(exc).__name__}")
    else:
        event("read")


def _read_everything(bundle: Path) -> None:
    _only_typed_errors(lambda: load_bundle(bundle))
    _only_typed_errors(lambda: render_report(bundle))

    def replay() -> None:
        script = load_replay(bundle)
        locator, frame = TemplateLocator(), make_frame()
        for step in script.steps:
            for patch in step.patches:
                _only_typed_errors(lambda patch=patch: locator.locate(frame, patch))

    _only_typed_errors(replay)


@_SETTINGS
@given(edits=mutations())
def test_a_mutated_bundle_gives_only_typed_errors(original: Path, edits: list[tuple[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        bundle = _copy(original, Path(scratch))
        _apply(bundle, edits)
        _read_everything(bundle)


@_SETTINGS
@given(run=st.binary(max_size=200), steps=st.binary(max_size=400))
def test_garbage_files_give_only_typed_errors(original: Path, run: bytes, steps: bytes) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        bundle = _copy(original, Path(scratch))
        (bundle / "run.json").write_bytes(run)
        (bundle / "steps.jsonl").write_bytes(steps)
        _read_everything(bundle)


def test_the_unmutated_bundle_reads_back(original: Path) -> None:
    """The fuzz starts from a bundle every reader accepts (so what breaks is the mutation)."""
    with tempfile.TemporaryDirectory() as scratch:
        bundle = _copy(original, Path(scratch))
        assert len(load_bundle(bundle).steps) == 3
        assert len(load_replay(bundle).steps) == 1
        assert render_report(bundle).count('<section class="step"') == 3
