"""Records that flow between stages, and the JSON Lines events every sink writes (DESIGN.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = ["Alert", "Segment", "Word", "event", "now_iso", "to_line"]


@dataclass(frozen=True, slots=True)
class Word:
    """A piece of recognised text with its place in the call audio (seconds)."""

    text: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Segment:
    """Committed text: what two decodes agreed on, or a whole decoded utterance."""

    text: str
    start: float  # seconds in the call audio
    end: float
    speaker: str = "agent"  # agent | customer
    words: tuple[Word, ...] = field(default=(), repr=False)

    def time_of(self, char_start: int, char_end: int) -> tuple[float, float]:
        """Audio start/end of text[char_start:char_end], from the words that hold it."""
        if not self.words:
            return self.start, self.end
        pos = 0
        first = last = None
        for w in self.words:
            w_start, w_end = pos, pos + len(w.text)
            pos = w_end
            if w_end > char_start and w_start < char_end:
                first = first or w
                last = w
        if first is None or last is None:
            return self.start, self.end
        return first.start, last.end


@dataclass(frozen=True, slots=True)
class Alert:
    """A rule that fired on what the agent said (or a required phrase that was not said)."""

    rule_id: str
    pack: str
    category: str
    severity: str
    message: str
    suggestion: str
    text: str  # the matched words, masked for pii
    audio_start: float
    audio_end: float
    emitted_at: float  # seconds since the stream started, by the monitor's clock

    def to_event(self, call_id: str, agent: str | None) -> dict[str, Any]:
        return event(
            "alert",
            call_id,
            agent,
            rule_id=self.rule_id,
            pack=self.pack,
            category=self.category,
            severity=self.severity,
            message=self.message,
            suggestion=self.suggestion,
            text=self.text,
            audio_start=round(self.audio_start, 2),
            audio_end=round(self.audio_end, 2),
            emitted_at=round(self.emitted_at, 3),
        )


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="milliseconds")


def event(type_: str, call_id: str, agent: str | None, **fields: Any) -> dict[str, Any]:
    """One JSON Lines event: the common fields first, then the type's own."""
    return {"type": type_, "call_id": call_id, "agent": agent, "ts": now_iso(), **fields}


def to_line(ev: dict[str, Any]) -> str:
    return json.dumps(ev, ensure_ascii=False)
