"""``omnidesk report BUNDLE``: one self-contained HTML page of a run (pictures inlined, no network).

A bundle may be crafted: it is read through :func:`~omnidesk.agent.trajectory.load_bundle` (typed records,
every file it names confined to the bundle), everything shown is escaped, and the page is written under a
fresh temporary name and renamed over ``report.html`` (mode 0600; a symbolic link planted there is
replaced, not written through).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register", "render_report"]

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>Omnidesk run: {{ summary.task }}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1240px; padding: 0 1em; color: #222;
       background: #fafafa; }
h1 { font-size: 1.35em; margin-bottom: .3em; } h2 { font-size: 1.1em; margin: 0 0 .5em; }
.meta { color: #555; } .meta b { color: #222; font-weight: 600; }
.summary { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .7em 1em; }
.step { background: #fff; border: 1px solid #ddd; border-radius: 6px; margin: 1em 0; padding: 1em; display: grid;
        grid-template-columns: minmax(0, 640px) minmax(0, 1fr); gap: 1.2em; }
@media (max-width: 900px) { .step { grid-template-columns: minmax(0, 1fr); } }
figure { margin: 0; }
.shot { display: block; width: 100%; object-fit: cover; border: 1px solid #bbb; border-radius: 3px;
        background: #000; }
figcaption { color: #666; font-size: .85em; margin-top: .3em; }
.status { font-weight: 600; padding: .05em .45em; border-radius: 4px; background: #eee; font-size: .9em; }
.acted, .finished { background: #d8f5d8; } .model_error, .refused { background: #fde9c8; }
.stopped, .failed { background: #f8d0d0; } .planned { background: #dde8fb; }
.action { font-family: ui-monospace, monospace; background: #f1f3f8; padding: .15em .4em; border-radius: 4px; }
.zoom { float: right; margin: 0 0 .5em 1em; text-align: center; color: #666; font-size: .8em; }
.zoom div { position: relative; width: 96px; height: 96px; }
.zoom img { width: 96px; height: 96px; image-rendering: pixelated; border: 1px solid #bbb; display: block; }
.zoom i { position: absolute; width: 14px; height: 14px; margin: -8px 0 0 -8px; border: 2px solid #e0198c;
          border-radius: 50%; box-shadow: 0 0 0 1px #fff; }
pre { white-space: pre-wrap; word-break: break-word; background: #f7f7f7; padding: .5em; border-radius: 4px;
      max-height: 20em; overflow: auto; margin: .3em 0; }
summary { cursor: pointer; color: #444; }
.error { color: #a00; }
</style></head><body>
<h1>{{ summary.task }}</h1>
<div class="summary meta">
<span class="status {{ summary.status }}">{{ summary.status }}</span>
&nbsp;{{ summary.steps }} steps{% if total_seconds is not none %} in {{ '%.1f' % total_seconds }} s{% endif %} ·
tokens: {{ summary.tokens.prompt }} prompt, {{ summary.tokens.completion }} completion,
{{ summary.tokens.reused }} reused{% if monitor %} · monitor {{ monitor }}{% endif %}
{% if summary.meta %}<br>{% for k, v in summary.meta.items() %}<b>{{ k }}</b>: {{ v }}
{%- if not loop.last %} · {% endif %}{% endfor %}{% endif %}
{% if summary.error %}<br><span class="error">{{ summary.error }}</span>{% endif %}
{% if summary.last_step and summary.last_step.result %}<br><b>Outcome</b>: {{ summary.last_step.result }}{% endif %}
</div>
{% for step in steps %}
<section class="step" id="step-{{ step.index }}">
  <figure>{% if step.image %}<img class="shot" style="aspect-ratio: {{ step.aspect }}"
       alt="what the model saw at step {{ step.index + 1 }}" src="data:image/png;base64,{{ step.image }}">
    <figcaption>{{ step.caption }}</figcaption>{% else %}<em>no picture</em>{% endif %}</figure>
  <div>
    <h2>Step {{ step.index + 1 }} <span class="status {{ step.status }}">{{ step.status }}</span></h2>
    {% if step.zoom %}<div class="zoom"><div><img alt="the action's point, enlarged"
      src="data:image/png;base64,{{ step.zoom.png }}"><i style="left: {{ step.zoom.left }}%;
      top: {{ step.zoom.top }}%"></i></div>the point, 2×</div>{% endif %}
    {% if step.action %}<p><b>Action:</b> <span class="action">{{ step.action }}</span>
      {% if step.target %} → desktop ({{ step.target | join(', ') }}){% endif %}</p>{% endif %}
    {% if step.result %}<p><b>Result:</b> {{ step.result }}</p>{% endif %}
    {% if step.error %}<p class="error"><b>Error:</b> {{ step.error }}</p>{% endif %}
    <p class="meta">{% for k, v in step.timings.items() %}{{ k }} {{ '%.2f' % v }} s
      {%- if not loop.last %} · {% endif %}{% endfor %}
      · {{ step.prompt_tokens }} prompt / {{ step.completion_tokens }} completion tokens</p>
    {% if step.reasoning %}<details><summary>Reasoning</summary><pre>{{ step.reasoning }}</pre></details>{% endif %}
    <details open><summary>Model output</summary><pre>{{ step.raw_output }}</pre></details>
  </div>
</section>
{% endfor %}
</body></html>
"""


def _value_text(value: Any) -> str:
    if isinstance(value, dict) and "x" in value and "y" in value:
        return f"({value['x']:g}, {value['y']:g})" if _is_number(value["x"], value["y"]) else str(value)
    if isinstance(value, list):
        return "+".join(str(v) for v in value)
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _is_number(*values: Any) -> bool:
    return all(isinstance(v, int | float) for v in values)


def _action_text(action: dict[str, Any] | None) -> str:
    """``click(point=(0.5, 0.38), button='left', count=1)``: empty values left out, points as pairs."""
    if not action:
        return ""
    fields = ", ".join(f"{k}={_value_text(v)}" for k, v in action.items() if k != "kind" and v not in (None, [], ""))
    space = next((v.get("space") for v in action.values() if isinstance(v, dict) and "space" in v), None)
    return f"{action['kind']}({fields})" + (f" [{space}]" if space else "")


_MAX_PICTURE_BYTES = 64 * 2**20


def _inline(folder: Path, name: str | None) -> str:
    from omnidesk.agent.trajectory import read_bundle_file

    data = read_bundle_file(folder, name, _MAX_PICTURE_BYTES) if name else None
    return base64.b64encode(data).decode() if data is not None else ""


def _zoom(folder: Path, patches: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first action point's patch (see ``TrajectoryWriter``) with the point's place in it, in percent."""
    if not patches:
        return None
    data = _inline(folder, patches[0].get("file"))
    raw = base64.b64decode(data[:64]) if data else b""
    anchor = patches[0].get("anchor") or []
    if raw[12:16] != b"IHDR" or len(anchor) != 2:
        return None
    width, height = int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    left, top = 100 * float(anchor[0]) / max(width, 1), 100 * float(anchor[1]) / max(height, 1)
    return {"png": data, "left": f"{left:.1f}", "top": f"{top:.1f}"}


def _picture(record: dict[str, Any]) -> tuple[str, str, str]:
    """The CSS aspect ratio that crops the overview's letterbox bars, a caption, and the monitor."""
    observation = record.get("observation") or {}
    monitor = observation.get("monitor") or {}
    geometry = monitor.get("geometry") or []
    if len(geometry) != 4 or not geometry[2] or not geometry[3]:
        return "auto", "", ""
    width, height = int(geometry[2]), int(geometry[3])
    images = observation.get("images") or []
    screen = f"{monitor.get('index', '?')} ({width}×{height})"
    details = [f"monitor {screen}"]
    if images:
        details.append(f"model image {images[0]['width']}×{images[0]['height']}, bars cropped here")
    if len(images) > 1:
        details.append(f"+{len(images) - 1} detail crop(s)")
    if observation.get("keyframe"):
        details.append("keyframe")
    elif observation.get("changed_fraction") is not None:
        details.append(f"{100 * observation['changed_fraction']:.0f}% changed")
    return f"{width} / {height}", " · ".join(details), screen


def render_report(folder: Path) -> str:
    """The HTML page of the bundle in ``folder``.

    Raises:
        RecordingError: not a readable bundle.
    """
    import jinja2

    from omnidesk.agent.trajectory import load_bundle

    bundle = load_bundle(folder)
    steps = []
    for record in bundle.steps:
        aspect, caption, screen = _picture(record)
        patches = list(record.get("patches") or [])
        steps.append(
            {
                **record,
                "image": _inline(folder, record.get("png")),
                "zoom": _zoom(folder, patches),
                "aspect": aspect,
                "caption": caption,
                "screen": screen,
                "action": "; ".join(_action_text(a) for a in record.get("actions") or [record.get("action")] if a),
            }
        )
    summary = {"tokens": {"prompt": 0, "completion": 0, "reused": 0}, "meta": {}, "error": "", **bundle.summary}
    timings = [float(v) for s in bundle.steps for v in (s.get("timings") or {}).values()]
    total = sum(timings) if timings else None
    monitors = sorted({s["screen"] for s in steps if s["screen"]})
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(_TEMPLATE).render(
        summary=summary, steps=steps, total_seconds=total, monitor=", ".join(monitors)
    )


def report(
    bundle: Annotated[Path, typer.Argument(help="A run's bundle folder (see `omnidesk run`).")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="HTML file (default: BUNDLE/report.html).")
    ] = None,
) -> None:
    """Write one self-contained HTML page of a run: every step with the picture the model saw."""
    from omnidesk.agent.errors import RecordingError
    from omnidesk.agent.private_files import write_private

    target = output or bundle / "report.html"
    page = render_report(bundle)
    try:
        write_private(target, page.encode("utf-8"))
    except OSError as exc:
        raise RecordingError(f"cannot write the report to {target}: {exc.strerror}; pass -o elsewhere") from exc
    typer.echo(str(target))


def register(cli: typer.Typer) -> None:
    cli.command("report")(report)
