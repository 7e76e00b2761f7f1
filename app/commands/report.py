"""``omnidesk report BUNDLE``: one self-contained HTML page of a run (pictures inlined, no network)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register", "render_report"]

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>Omnidesk run: {{ summary.task }}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.4em; } .meta { color: #555; }
.step { border: 1px solid #ddd; border-radius: 6px; margin: 1em 0; padding: .8em 1em; display: grid;
        grid-template-columns: 520px 1fr; gap: 1em; }
.step img { width: 512px; border: 1px solid #ccc; }
.status { font-weight: 600; padding: 0 .4em; border-radius: 4px; background: #eee; }
.acted, .finished { background: #d8f5d8; } .model_error, .refused { background: #fde9c8; }
.stopped { background: #f8d0d0; } .planned { background: #dde8fb; }
pre { white-space: pre-wrap; background: #f7f7f7; padding: .5em; border-radius: 4px; max-height: 20em;
      overflow: auto; }
.error { color: #a00; }
</style></head><body>
<h1>{{ summary.task }}</h1>
<p class="meta">Status <span class="status {{ summary.status }}">{{ summary.status }}</span> ·
{{ summary.steps }} steps · tokens: {{ summary.tokens.prompt }} prompt, {{ summary.tokens.completion }}
completion, {{ summary.tokens.reused }} reused{% if summary.meta %} ·
{% for k, v in summary.meta.items() %}{{ k }}: {{ v }}{% if not loop.last %}, {% endif %}{% endfor %}{% endif %}
{% if summary.error %}<br><span class="error">{{ summary.error }}</span>{% endif %}</p>
{% for step in steps %}
<section class="step" id="step-{{ step.index }}">
  <div>{% if step.image %}<img alt="what the model saw at step {{ step.index + 1 }}"
       src="data:image/png;base64,{{ step.image }}">{% else %}<em>no picture</em>{% endif %}</div>
  <div>
    <h2>Step {{ step.index + 1 }} <span class="status {{ step.status }}">{{ step.status }}</span></h2>
    {% if step.action %}<p><b>Action:</b> <code>{{ step.action }}</code>
      {% if step.target %} → desktop {{ step.target }}{% endif %}</p>{% endif %}
    {% if step.result %}<p><b>Result:</b> {{ step.result }}</p>{% endif %}
    {% if step.error %}<p class="error"><b>Error:</b> {{ step.error }}</p>{% endif %}
    <p class="meta">{% for k, v in step.timings.items() %}{{ k }} {{ '%.2f' % v }} s
      {%- if not loop.last %} · {% endif %}{% endfor %}
      · {{ step.prompt_tokens }} prompt / {{ step.completion_tokens }} completion tokens</p>
    {% if step.reasoning %}<details><summary>Reasoning</summary><pre>{{ step.reasoning }}</pre></details>{% endif %}
    <details{% if step.status == 'model_error' %} open{% endif %}><summary>Model output</summary>
      <pre>{{ step.raw_output }}</pre></details>
  </div>
</section>
{% endfor %}
</body></html>
"""


def _action_text(action: dict[str, Any] | None) -> str:
    if not action:
        return ""
    fields = ", ".join(f"{k}={v}" for k, v in action.items() if k != "kind")
    return f"{action['kind']}({fields})"


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
        png = folder / record["png"] if record.get("png") else None
        image = base64.b64encode(png.read_bytes()).decode() if png is not None and png.is_file() else ""
        steps.append({**record, "image": image, "action": _action_text(record.get("action"))})
    summary = {"tokens": {"prompt": 0, "completion": 0, "reused": 0}, "meta": {}, "error": "", **bundle.summary}
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(_TEMPLATE).render(summary=summary, steps=steps)


def report(
    bundle: Annotated[Path, typer.Argument(help="A run's bundle folder (see `omnidesk run`).")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="HTML file (default: BUNDLE/report.html).")
    ] = None,
) -> None:
    """Write one self-contained HTML page of a run: every step with the picture the model saw."""
    from omnidesk.agent.errors import RecordingError

    target = output or bundle / "report.html"
    page = render_report(bundle)
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise RecordingError(f"cannot write the report to {target}: {exc.strerror}; pass -o elsewhere") from exc
    typer.echo(str(target))


def register(cli: typer.Typer) -> None:
    cli.command("report")(report)
