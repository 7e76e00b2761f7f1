"""The HTML report of an evaluation run: the rates with their intervals, broken down by each label, then
every item — for grounding, the screenshot with the target box and the point the model named, pass or
fail, time and tokens; errored items apart, with the reason.

Everything shown is escaped (item names come from applications' accessibility trees and models' answers);
the page loads nothing from the network — screenshots are thumbnails next to it (``thumbs/``).
"""

from __future__ import annotations

from typing import Any

from omnidesk.agent.evaluation.records import GroundingDetail, ItemResult, RateRecord, RunSummary

__all__ = ["pct", "render_html"]

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self'; style-src 'unsafe-inline'">
<title>Omnidesk eval {{ s.kind }}: {{ s.model }}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1240px; padding: 0 1em; color: #222;
       background: #fafafa; }
h1 { font-size: 1.35em; } h2 { font-size: 1.1em; margin: 1.2em 0 .4em; }
.meta { color: #555; } .meta b { color: #222; }
table { border-collapse: collapse; background: #fff; margin: .3em 0 1em; }
td, th { border: 1px solid #ddd; padding: .2em .6em; text-align: left; } td.n { text-align: right; }
.notes { background: #fff8e0; border: 1px solid #e8d9a0; padding: .5em 1em; border-radius: 6px; }
.items { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: .8em; }
.item { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .6em; }
.item.pass { border-left: 5px solid #3a3; } .item.fail { border-left: 5px solid #c33; }
.item.errored { border-left: 5px solid #999; background: #f3f3f3; }
.shot { position: relative; line-height: 0; border: 1px solid #bbb; }
.shot img { width: 100%; }
.box { position: absolute; border: 2px solid #1a7; box-sizing: border-box; }
.pt { position: absolute; width: 12px; height: 12px; margin: -6px 0 0 -6px; border-radius: 50%;
      border: 2px solid #fff; background: #e22; box-shadow: 0 0 0 1px #000; }
.pass .pt { background: #2c2; }
.st { font-weight: 600; } .small { color: #666; font-size: .85em; } .reply { font-family: ui-monospace, monospace;
      font-size: .8em; white-space: pre-wrap; max-height: 6em; overflow: auto; background: #f4f5f8; }
</style></head><body>
<h1>Omnidesk eval — {{ s.kind }}</h1>
<p class="meta"><b>Model</b> {{ s.model }} · <b>format</b> {{ s.format }} · <b>suite</b> {{ s.suite }}
{% if s.seed is not none %}· <b>seed</b> {{ s.seed }}{% endif %}<br>
<b>Started</b> {{ s.started }}{% if s.finished %} · <b>finished</b> {{ s.finished }}{% endif %} ·
{% if s.complete %}complete{% elif s.interrupted %}<b>interrupted</b>: a partial report{% else %}running{% endif %}
· {{ s.items|length }} of {{ s.planned }} items</p>
<table><tr><th></th><th>rate</th><th>95 % interval</th><th>pass</th><th>fail</th><th>errored (not in the rate)</th></tr>
<tr><th>all</th>{{ row(s.total) }}</tr></table>
{% if s.notes %}<div class="notes">{% for n in s.notes %}<p>{{ n }}</p>{% endfor %}</div>{% endif %}
{% for key, values in s.groups.items() %}
<h2>By {{ key }}</h2>
<table><tr><th>{{ key }}</th><th>rate</th><th>95 % interval</th><th>pass</th><th>fail</th><th>errored</th></tr>
{% for value, r in values.items() %}<tr><td>{{ value }}</td>{{ row(r) }}</tr>{% endfor %}</table>
{% endfor %}
<h2>Items</h2>
<div class="items">
{% for it in s.items %}
<div class="item {{ it.status }}">
{% set g = it.grounding %}
{% if g %}<div class="shot"><img src="{{ g.screenshot }}" alt="screenshot" loading="lazy">
<div class="box" style="{{ box_style(g) }}"></div>
{% if g.point %}<div class="pt" style="{{ point_style(g) }}"></div>{% endif %}</div>{% endif %}
<p><span class="st">{{ it.status }}</span> · {{ it.id }} · {{ '%.2f'|format(it.seconds) }} s ·
{{ it.prompt_tokens }}+{{ it.completion_tokens }} tokens</p>
<p>{{ it.instruction }}</p>
<p class="small">{% for k, v in it.labels.items() %}{{ k }}: {{ v }}{% if not loop.last %} · {% endif %}{% endfor %}
{% if g %}<br>box {{ g.box|join(', ') }} ·
{% if g.point %}point {{ g.point|join(', ') }}{% else %}no point{% endif %}{% endif %}</p>
{% for k, v in it.notes.items() %}<p class="small">{{ k }}: {{ v }}</p>{% endfor %}
{% set t = it.task %}
{% if t and t.screenshot %}<div class="shot"><img src="{{ t.screenshot }}" alt="the last screen the model saw"
 loading="lazy"></div>{% endif %}
{% if t and t.actions %}<ol class="small">{% for a in t.actions %}<li>{{ a }}</li>{% endfor %}</ol>{% endif %}
{% if it.error %}<p class="small"><b>{{ 'why' if it.status == 'errored' else 'note' }}:</b>
{{ it.error }}</p>{% endif %}
{% if g and g.reply %}<div class="reply">{{ g.reply }}</div>{% endif %}
</div>
{% endfor %}
</div>
</body></html>
"""


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _row(r: RateRecord) -> str:
    from markupsafe import Markup

    interval = "–" if r.low is None or r.high is None else f"{pct(r.low)} – {pct(r.high)}"
    return Markup(
        f'<td class="n">{pct(r.rate)}</td><td>{interval}</td><td class="n">{r.passed}</td>'
        f'<td class="n">{r.failed}</td><td class="n">{r.errored}</td>'
    )


def _share(value: float, whole: int) -> float:
    return max(0.0, min(100.0, value / max(1, whole) * 100))


def _box_style(g: GroundingDetail) -> str:
    mx, my, mw, mh = g.monitor
    x, y, w, h = g.box
    return (
        f"left:{_share(x - mx, mw):.3f}%;top:{_share(y - my, mh):.3f}%;"
        f"width:{_share(w, mw):.3f}%;height:{_share(h, mh):.3f}%"
    )


def _point_style(g: GroundingDetail) -> str:
    mx, my, mw, mh = g.monitor
    assert g.point is not None
    px, py = g.point
    return f"left:{_share(px - mx, mw):.3f}%;top:{_share(py - my, mh):.3f}%"


def render_html(summary: RunSummary) -> str:
    """The report page for ``summary`` (see the module doc)."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(_TEMPLATE)
    context: dict[str, Any] = {"s": summary, "row": _row, "box_style": _box_style, "point_style": _point_style}
    return template.render(**context)


def item_line(item: ItemResult) -> str:
    """One line per item for the terminal."""
    where = ""
    if item.grounding is not None and item.grounding.point is not None:
        where = f" → {item.grounding.point}"
    why = f"  ({item.error})" if item.error else ""
    return f"{item.status:<7} {item.id}{where}{why}"
