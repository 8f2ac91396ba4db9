"""The agent panel: one state object, rendered by rich (rich.live.Live refreshes it)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

__all__ = ["PanelState"]

SEVERITY_STYLE = {"info": "cyan", "warning": "yellow", "critical": "bold red"}


def _mmss(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60:02d}:{s % 60:02d}"


@dataclass
class PanelState:
    """Everything the panel shows; fed events, rendered on a fixed cadence under a lock."""

    title: str = "speech-monitor"
    lines: deque = field(default_factory=lambda: deque(maxlen=8))
    alerts: deque = field(default_factory=lambda: deque(maxlen=6))
    status: str = ""
    live: Any = None  # a LiveStatus (pipeline.py) to show in the status line, if any
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, ev: dict[str, Any]) -> None:
        with self.lock:
            if ev["type"] == "segment":
                self.lines.append(ev)
            elif ev["type"] == "alert":
                self.alerts.appendleft(ev)
            elif ev["type"] == "call_start":
                self.title = f"call {ev['call_id']}" + (f" · agent {ev['agent']}" if ev.get("agent") else "")

    def __rich__(self) -> Panel:
        with self.lock:
            transcript = Text()
            for ev in self.lines:
                line = Text(f"{_mmss(ev['audio_start'])} ", style="dim")
                body = Text(ev["text"], style="dim" if ev.get("speaker") == "customer" else "")
                for a in self.alerts:
                    words = a.get("heard_as") or a.get("text") or ""
                    at = ev["text"].find(words) if words else -1
                    if at >= 0 and a["audio_start"] < ev["audio_end"] + 0.05:
                        body.stylize(f"reverse {SEVERITY_STYLE[a['severity']]}", at, at + len(words))
                transcript.append_text(line + body)
                transcript.append("\n")
            tail = self.live.tail if self.live is not None else ""  # uncommitted text, greyed
            if tail:
                transcript.append(tail, style="grey50 italic")
            table = Table(box=None, show_header=False, pad_edge=False, expand=True)
            table.add_column(width=5)
            table.add_column(ratio=1, overflow="fold")
            for a in self.alerts:
                sev = SEVERITY_STYLE[a["severity"]]
                table.add_row(
                    Text(_mmss(a["audio_start"]), style="dim"),
                    Text.assemble(
                        (f"{a['severity']} ", sev),
                        a["message"],
                        ("" if a.get("heard_as") is None else f" (「{a['heard_as']}」 read as 「{a['text']}」)", "dim"),
                        "\n",
                        ("→ " + a["suggestion"], "green"),
                    ),
                )
            parts = [transcript]
            if self.alerts:
                parts.append(table)
            status = self._live_status() if self.live is not None else self.status
            if status:
                parts.append(status if isinstance(status, Text) else Text(status, style="dim"))
            return Panel(Group(*parts), title=self.title, title_align="left")

    def _live_status(self) -> Text:
        st = self.live
        bars = max(0, min(10, int((st.level_db + 60) / 6)))  # -60 dB .. 0 dB
        latency = f"{st.latency:.1f} s" if st.latency is not None else "–"
        line = Text.assemble(
            ("● ", "green" if not st.note else "red"),
            (f"{st.device}  ", "dim"),
            (f"{st.model}  " if st.model else "", "dim"),
            ("▮" * bars + "▯" * (10 - bars), "green"),
            (f"  latency {latency}  backlog {st.backlog:.1f} s", "dim"),
        )
        if st.dropped:
            line.append(f"  dropped {st.dropped:.1f} s", style="yellow")
        if st.note:
            line.append(f"  {st.note}", style="bold red")
        return line
