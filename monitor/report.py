"""Reports of replayed calls: a self-contained HTML file and a CSV summary, built from events."""

from __future__ import annotations

import csv
import html
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .rules import CATEGORIES, SEVERITIES

__all__ = ["CallRecord", "Collector", "write_csv", "write_html"]


@dataclass(slots=True)
class CallRecord:
    """What one call produced: its events, grouped; or why it failed."""

    call_id: str
    path: str
    segments: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None
    error: str | None = None
    seconds: float = 0.0  # processing time

    @property
    def duration(self) -> float:
        return float(self.end["duration"]) if self.end else 0.0


class Collector:
    """A sink that keeps every call's events for the summary, the report and the CSV."""

    def __init__(self) -> None:
        self.calls: list[CallRecord] = []

    def begin(self, call_id: str, path: str) -> CallRecord:
        rec = CallRecord(call_id, path)
        self.calls.append(rec)
        return rec

    def __call__(self, ev: dict[str, Any]) -> None:
        rec = self.calls[-1]
        if ev["type"] == "segment":
            rec.segments.append(ev)
        elif ev["type"] == "alert":
            rec.alerts.append(ev)
        elif ev["type"] == "call_end":
            rec.end = ev


def mmss(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def write_csv(path: str | Path, calls: list[CallRecord]) -> None:
    """One row per call: status, duration, alerts per category and severity."""
    cats = list(CATEGORIES) + sorted({a["category"] for c in calls for a in c.alerts} - set(CATEGORIES))
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "call_id",
                "file",
                "status",
                "error",
                "duration_s",
                "segments",
                "alerts",
                *cats,
                *SEVERITIES,
                "processing_s",
            ]
        )
        for c in calls:
            by_cat = Counter(a["category"] for a in c.alerts)
            by_sev = Counter(a["severity"] for a in c.alerts)
            w.writerow(
                [
                    c.call_id,
                    c.path,
                    "failed" if c.error else "ok",
                    c.error or "",
                    f"{c.duration:.1f}",
                    len(c.segments),
                    len(c.alerts),
                    *(by_cat.get(k, 0) for k in cats),
                    *(by_sev.get(k, 0) for k in SEVERITIES),
                    f"{c.seconds:.1f}",
                ]
            )


_CSS = """
body{font-family:system-ui,"Hiragino Sans","Noto Sans JP",sans-serif;margin:2rem;color:#222;max-width:70rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2.5rem;border-bottom:1px solid #ccc}
.meta{color:#666;font-size:.9rem}.err{color:#b00}
table.sum{border-collapse:collapse}table.sum td,table.sum th{border:1px solid #ddd;padding:.2rem .6rem}
.timeline{position:relative;height:1.6rem;background:#f3f3f3;border-radius:4px;margin:.8rem 0}
.timeline a{position:absolute;top:.2rem;width:.6rem;height:1.2rem;border-radius:2px;margin-left:-.3rem}
.seg{display:grid;grid-template-columns:4rem 5rem 1fr 22rem;gap:.6rem;padding:.25rem 0;border-bottom:1px solid #f0f0f0}
.t{color:#666;font-variant-numeric:tabular-nums}.who{color:#666}.customer .txt{color:#555}
mark{padding:0 .1rem;border-radius:2px}
.critical{background:#d32f2f;color:#fff}.warning{background:#ffb300}.info{background:#4fc3f7}
.note{font-size:.85rem}.alt{color:#666}.note b{display:block}.sugg{color:#2e7d32}
.missing{background:#fff3e0;border-left:4px solid #ffb300;padding:.4rem .8rem;margin:.4rem 0}
"""


def _highlight(text: str, alerts: list[dict[str, Any]]) -> str:
    """HTML of a segment's text with each alert's words marked by severity."""
    marks: list[tuple[int, int, str]] = []
    for a in alerts:
        words = a.get("heard_as") or a.get("text") or ""  # (heard_as: what the transcript says there)
        at = text.find(words) if words else -1
        if at >= 0:
            marks.append((at, at + len(words), a["severity"]))
    out, pos = [], 0
    for start, end, sev in sorted(marks):
        if start < pos:
            continue
        out.append(html.escape(text[pos:start]))
        out.append(f'<mark class="{sev}">{html.escape(text[start:end])}</mark>')
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _reading(alert: dict[str, Any]) -> str:
    """For an alert found in the recogniser's other reading: what that reading heard."""
    if alert.get("heard_as") is None:
        return ""
    heard, read = html.escape(alert["heard_as"]), html.escape(alert["text"])
    return f"<div class=alt>transcribed 「{heard}」; the recogniser's other reading: 「{read}」</div>"


def write_html(path: str | Path, calls: list[CallRecord]) -> None:
    """One self-contained HTML file: per call, a timeline of alerts and the transcript with the
    offending words highlighted, the suggestion beside them, and playback positions (mm:ss)."""
    e = html.escape
    total = Counter(a["category"] for c in calls for a in c.alerts)
    parts = [
        "<!doctype html><html lang=ja><meta charset=utf-8>",
        f"<title>speech-monitor report ({len(calls)} calls)</title><style>{_CSS}</style>",
        "<h1>speech-monitor: compliance report</h1>",
        f"<p class=meta>{e(datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z'))} · {len(calls)} calls · "
        f"{sum(total.values())} alerts</p>",
        "<table class=sum><tr><th>call</th><th>length</th>"
        + "".join(f"<th>{e(c)}</th>" for c in CATEGORIES)
        + "<th>status</th></tr>",
    ]
    for c in calls:
        by_cat = Counter(a["category"] for a in c.alerts)
        status = f"<span class=err>{e(c.error)}</span>" if c.error else "ok"
        parts.append(
            f'<tr><td><a href="#{e(c.call_id)}">{e(c.call_id)}</a></td><td>{mmss(c.duration)}</td>'
            + "".join(f"<td>{by_cat.get(k, 0) or ''}</td>" for k in CATEGORIES)
            + f"<td>{status}</td></tr>"
        )
    parts.append("</table>")
    for c in calls:
        parts.append(f'<h2 id="{e(c.call_id)}">{e(c.call_id)}</h2>')
        parts.append(f"<p class=meta>{e(c.path)} · {mmss(c.duration)} · {len(c.alerts)} alerts</p>")
        if c.error:
            parts.append(f"<p class=err>{e(c.error)}</p>")
            continue
        dur = max(c.duration, 1e-6)
        parts.append("<div class=timeline>")
        for i, a in enumerate(c.alerts):
            left = min(100.0, 100.0 * float(a["audio_start"]) / dur)
            tip = f"{mmss(a['audio_start'])} {a['category']}: {a['message']}"
            parts.append(
                f'<a href="#{e(c.call_id)}-a{i}" class="{e(a["severity"])}" style="left:{left:.2f}%" title="{e(tip)}"></a>'
            )
        parts.append("</div>")
        for i, a in enumerate(c.alerts):
            if a["category"] == "required_phrase":
                parts.append(
                    f'<div class=missing id="{e(c.call_id)}-a{i}">{mmss(a["audio_start"])} <b>{e(a["message"])}</b> '
                    f"<span class=sugg>→ {e(a['suggestion'])}</span></div>"
                )
        for seg in c.segments:
            s0, s1 = float(seg["audio_start"]), float(seg["audio_end"])
            near = [
                (i, a)
                for i, a in enumerate(c.alerts)
                if a["category"] != "required_phrase"
                and float(a["audio_start"]) < s1 + 0.05
                and float(a["audio_end"]) > s0 - 0.05
            ]
            notes = "".join(
                f'<div class=note id="{e(c.call_id)}-a{i}"><b><mark class="{e(a["severity"])}">{e(a["severity"])}</mark> '
                f"{e(a['rule_id'])} {mmss(a['audio_start'])}</b>{e(a['message'])}{_reading(a)}<div class=sugg>→ {e(a['suggestion'])}</div></div>"
                for i, a in near
            )
            parts.append(
                f'<div class="seg {e(seg.get("speaker", "agent"))}"><span class=t>{mmss(s0)}</span>'
                f"<span class=who>{e(seg.get('speaker', 'agent'))}</span>"
                f"<span class=txt>{_highlight(seg['text'], [a for _, a in near])}</span><span>{notes}</span></div>"
            )
    parts.append("</html>\n")
    Path(path).write_text("\n".join(parts), encoding="utf-8")
